#!/usr/bin/env bash
# Makes (once) the venv of third-party Python clients the tests drive the server with:
# tritonclient, the KServe SDK, schemathesis, kubernetes-validate (tools/ci/test-requirements.txt).
# Prints the venv's python on stdout. ~700 MB, ~80 s from PyPI; reused while the
# requirements file is unchanged. Never needed to build or serve.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.cache/venv-test
requirements=tools/ci/test-requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || {
        SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO=sudo
        $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >&2; }
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" >&2
    echo "$want" > "$stamp"
fi
echo "$PWD/$venv/bin/python"
