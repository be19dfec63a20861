#!/usr/bin/env bash
# Open Inference Protocol tests (issue 16): tritonclient[http], the KServe SDK and
# schemathesis — clients none of us wrote — against the real binary serving models/default.
# `make test` runs it after the deployment tests; runs standalone too:
#     tools/ci/protocol-tests.sh [PYTEST-ARGUMENTS...]     e.g. -k schemathesis
# The clients come from tools/ci/test-venv.sh (the ignored .cache/venv-test, made once).
# FUSION_SERVE_BIN picks the binary (default: the debug build, built here if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=$(tools/ci/test-venv.sh)
if [[ -z "${FUSION_SERVE_BIN:-}" ]]; then
    FUSION_SERVE_BIN="$(swift build --show-bin-path)/fusion-serve"
    if [[ ! -x "$FUSION_SERVE_BIN" ]]; then swift build --product fusion-serve; fi
    export FUSION_SERVE_BIN
fi
# Every test bounds its own waits (the whole run takes well under a minute); this is the backstop.
# -p no:cacheprovider: no .pytest_cache in the tree.
exec timeout --kill-after=30 600 "$python" -m pytest -p no:cacheprovider -q -rA Tests/ProtocolTests/test_protocol.py "$@"
