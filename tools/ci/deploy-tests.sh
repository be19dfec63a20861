#!/usr/bin/env bash
# Deployment tests (issue 6): systemd units, sd_notify, socket activation, the hardened
# sandbox, install.sh, and three nodes behind real nginx and HAProxy — all on loopback.
# First the Kubernetes manifests and the Containerfile (issue 17), checked offline.
# Called by .ci/run after `swift test`; runs standalone too:
#     tools/ci/deploy-tests.sh [PYTEST-ARGUMENTS...]     e.g. -k haproxy, or Tests/DeployTests/test_install.py
# pytest from the test venv (tools/ci/test-venv.sh) runs Tests/DeployTests/test_*.py.
# FUSION_SERVE_BIN picks the binary (default: the debug build, built here if missing);
# FUSION_TEST_MODEL the model (default the tiny fixture model, else models/default).
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
for tool in systemd-analyze:systemd nginx:nginx haproxy:haproxy curl:curl python3:python3; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [[ ${#need[@]} -gt 0 ]]; then
    if [[ $(id -u) -ne 0 ]]; then echo "deploy-tests: missing ${need[*]} (apt-get install them)" >&2; exit 1; fi
    echo "deploy-tests: installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

if [[ -z "${FUSION_SERVE_BIN:-}" ]]; then
    FUSION_SERVE_BIN="$(swift build --show-bin-path)/fusion-serve"
    if [[ ! -x "$FUSION_SERVE_BIN" ]]; then swift build --product fusion-serve; fi
    export FUSION_SERVE_BIN
fi

# The Kubernetes manifests and the Containerfile first (a few seconds), then the systemd units,
# install.sh and the scale-out. Every test bounds its own waits (an alarm per test, in
# conftest.py); this timeout is the backstop for the whole run. -p no:cacheprovider: no
# .pytest_cache in the tree.
python=$(tools/ci/test-venv.sh)
tests=(Tests/DeployTests/test_kubernetes.py Tests/DeployTests/test_systemd.py
       Tests/DeployTests/test_install.py Tests/DeployTests/test_scale_out.py)
for arg in "$@"; do [[ $arg == Tests/* ]] && tests=(); done
exec timeout --kill-after=30 2400 "$python" -m pytest -p no:cacheprovider -q -rA "${tests[@]}" "$@"
