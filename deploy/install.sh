#!/usr/bin/env bash
# Installs (or removes) fusion-serve as a systemd service.
#
#   deploy/install.sh [--prefix DIR] [--dry-run] [--no-build] [--binary PATH] [--model DIR]
#   deploy/install.sh --uninstall [--purge] [--prefix DIR] [--dry-run]
#
# Layout (under PREFIX, default /):
#   usr/local/bin/fusion-serve                          the release binary
#   usr/local/share/fusion-serve/models/default/        the default model (read-only data)
#   usr/local/share/doc/fusion-serve/operations.md      the operations guide
#   etc/systemd/system/fusion-serve.{service,socket}    the units
#   etc/default/fusion-serve                            settings; created only if absent
#
# Idempotent: files already identical are left alone ("unchanged"), so a second run changes
# nothing. /etc/default/fusion-serve is never overwritten. --uninstall removes everything
# above except a /etc/default/fusion-serve you have edited (it differs from the shipped
# template); --purge removes that too. Under a non-/ prefix, directories left empty are
# removed as well, so a temporary root ends up empty; under / the standard directories
# (/usr/local/bin, /etc/systemd/system, …) are never removed.
# `systemctl daemon-reload` runs only when PREFIX is / and systemd is the running init.
set -euo pipefail

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; }

repo="$(cd "$(dirname "$0")/.." && pwd)"
prefix=/
dry_run=0
uninstall=0
purge=0
build=1
binary=""
model_source="$repo/models/default"

while [[ $# -gt 0 ]]; do
    case "$1" in
        --prefix) [[ $# -ge 2 ]] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }
                  prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        --dry-run) dry_run=1; shift ;;
        --uninstall) uninstall=1; shift ;;
        --purge) purge=1; shift ;;
        --no-build) build=0; shift ;;
        --binary) [[ $# -ge 2 ]] || { echo "install.sh: --binary needs a path" >&2; exit 2; }
                  binary="$2"; build=0; shift 2 ;;
        --model) [[ $# -ge 2 ]] || { echo "install.sh: --model needs a directory" >&2; exit 2; }
                 model_source="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
if [[ $purge -eq 1 && $uninstall -eq 0 ]]; then
    echo "install.sh: --purge only goes with --uninstall" >&2; exit 2
fi

# Normalise the prefix: absolute, no trailing slash ("" means /).
[[ "$prefix" = /* ]] || prefix="$PWD/$prefix"
prefix="${prefix%/}"
root="${prefix:-/}"

bin_dir="$prefix/usr/local/bin"
share_dir="$prefix/usr/local/share/fusion-serve"
model_dir="$share_dir/models/default"
doc_dir="$prefix/usr/local/share/doc/fusion-serve"
unit_dir="$prefix/etc/systemd/system"
default_file="$prefix/etc/default/fusion-serve"
template="$repo/deploy/default/fusion-serve"
units=(fusion-serve.service fusion-serve.socket)

say() { printf '%s\n' "$*"; }
# Runs a command, or only shows it under --dry-run.
act() {
    if [[ $dry_run -eq 1 ]]; then say "would run: $*"; else say "+ $*"; "$@"; fi
}

systemd_running() {
    [[ -z "$prefix" && -d /run/systemd/system ]] && command -v systemctl >/dev/null
}

if [[ -z "$prefix" && $dry_run -eq 0 && $(id -u) -ne 0 ]]; then
    echo "install.sh: installing into / needs root (or use --prefix DIR / --dry-run)" >&2; exit 1
fi

# install_file MODE SOURCE DEST — copies unless DEST already has the same content and mode.
install_file() {
    local mode="$1" src="$2" dest="$3"
    if [[ -f "$dest" ]] && cmp -s "$src" "$dest" && [[ "$(stat -c %a "$dest")" = "${mode#0}" ]]; then
        say "unchanged: $dest"
    else
        make_dirs "$(dirname "$dest")"
        act install -m "$mode" "$src" "$dest"
    fi
}

# make_dirs DIR — creates DIR and missing parents with mode 0755 whatever the umask, so the
# service's unprivileged (dynamic) user can reach the binary and the model.
declare -A planned_dirs=()
make_dirs() {
    local dir="$1" missing=()
    while [[ ! -d "$dir" && -z "${planned_dirs[$dir]:-}" && "$dir" != "/" && -n "$dir" ]]; do
        missing=("$dir" "${missing[@]}")
        dir="$(dirname "$dir")"
    done
    local each
    for each in "${missing[@]}"; do
        act install -d -m 0755 "$each"
        planned_dirs[$each]=1
    done
}

# prune_dirs DIR... — removes directories that are now empty, walking up to (not including)
# the prefix. Only under a non-/ prefix: standard system directories stay.
prune_dirs() {
    [[ -n "$prefix" ]] || return 0
    local dir
    for dir in "$@"; do
        while [[ "$dir" != "$prefix" && "$dir" = "$prefix"/* ]]; do
            if [[ -d "$dir" && -z "$(ls -A "$dir")" ]]; then act rmdir "$dir"; else break; fi
            dir="$(dirname "$dir")"
        done
    done
}

do_install() {
    local bin="$binary"
    if [[ $build -eq 1 ]]; then
        if ! command -v swift >/dev/null; then
            echo "install.sh: swift is not on PATH (sudo resets PATH): build first with" >&2
            echo "  swift build -c release --static-swift-stdlib   then   sudo deploy/install.sh --no-build" >&2
            exit 1
        fi
        act swift build -c release --static-swift-stdlib --package-path "$repo" --product fusion-serve
        bin="$(swift build -c release --static-swift-stdlib --package-path "$repo" --show-bin-path)/fusion-serve"
    elif [[ -z "$bin" ]]; then
        bin="$repo/.build/release/fusion-serve"
    fi
    if [[ $dry_run -eq 0 || $build -eq 0 ]] && [[ ! -x "$bin" ]]; then
        echo "install.sh: no executable at $bin (build it, or pass --binary PATH)" >&2; exit 1
    fi
    if [[ ! -f "$model_source/config.json" ]]; then
        echo "install.sh: $model_source has no config.json (pass --model DIR)" >&2; exit 1
    fi

    install_file 0755 "$bin" "$bin_dir/fusion-serve"

    # The model: copy every file, drop files the new model no longer has.
    local file name
    for file in "$model_source"/*; do
        [[ -f "$file" ]] || continue
        install_file 0644 "$file" "$model_dir/$(basename "$file")"
    done
    if [[ -d "$model_dir" ]]; then
        for file in "$model_dir"/*; do
            [[ -e "$file" ]] || continue
            name="$(basename "$file")"
            if [[ ! -f "$model_source/$name" ]]; then act rm -f "$file"; fi
        done
    fi

    install_file 0644 "$repo/docs/operations.md" "$doc_dir/operations.md"
    for name in "${units[@]}"; do
        install_file 0644 "$repo/deploy/systemd/$name" "$unit_dir/$name"
    done

    if [[ -e "$default_file" ]]; then
        say "kept: $default_file (never overwritten)"
    else
        make_dirs "$(dirname "$default_file")"
        act install -m 0644 "$template" "$default_file"
    fi

    if systemd_running; then
        act systemctl daemon-reload
        say "next: systemctl enable --now fusion-serve.socket fusion-serve.service"
        say "      (after an upgrade: systemctl restart fusion-serve.service)"
    elif [[ -z "$prefix" ]]; then
        say "note: systemd is not running here; skipped systemctl daemon-reload"
    fi
}

do_uninstall() {
    if systemd_running; then
        act systemctl disable --now fusion-serve.service fusion-serve.socket || true
    fi
    local name
    for name in "${units[@]}"; do
        if [[ -e "$unit_dir/$name" ]]; then act rm -f "$unit_dir/$name"; fi
    done
    if [[ -e "$bin_dir/fusion-serve" ]]; then act rm -f "$bin_dir/fusion-serve"; fi
    if [[ -d "$share_dir" ]]; then act rm -rf "$share_dir"; fi
    if [[ -d "$doc_dir" ]]; then act rm -rf "$doc_dir"; fi

    if [[ -e "$default_file" ]]; then
        if [[ $purge -eq 1 ]] || cmp -s "$template" "$default_file"; then
            act rm -f "$default_file"
        else
            say "kept: $default_file (edited; remove it with --uninstall --purge)"
        fi
    fi

    prune_dirs "$unit_dir" "$bin_dir" "$(dirname "$doc_dir")" "$(dirname "$share_dir")" \
               "$(dirname "$default_file")"
    if systemd_running; then act systemctl daemon-reload; fi
}

say "fusion-serve install.sh: $([[ $uninstall -eq 1 ]] && echo uninstall || echo install) into $root$([[ $dry_run -eq 1 ]] && echo ' (dry run: nothing is changed)')"
if [[ $uninstall -eq 1 ]]; then do_uninstall; else do_install; fi
