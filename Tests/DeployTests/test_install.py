"""deploy/install.sh (dry run, install, idempotence, uninstall) and the hardened sandbox of the unit
(launch.py applies its settings) serving real requests.
"""
import os
import re
import signal
import subprocess
from pathlib import Path

from deployment import (
    BIN, DEPLOY, MODEL, NotifyListener, READY_TIMEOUT_S, children, expect, free_port, infer,
    log_tail, request, start_server, stop, unit_settings,
)


def run_install(*args):
    result = subprocess.run(["bash", str(DEPLOY / "install.sh"), *args], capture_output=True, text=True, timeout=600)
    return result.returncode, result.stdout + result.stderr


def tree(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*"))


def test_install_dry_run_install_idempotent_uninstall(tmp, procs):
    root = Path(tmp) / "root"
    root.mkdir()
    common = ["--prefix", str(root), "--no-build", "--binary", str(BIN), "--model", str(MODEL)]
    code, output = run_install(*common, "--dry-run")
    expect(code == 0, f"--dry-run failed:\n{output}")
    expect(tree(root) == [], f"--dry-run changed the tree: {tree(root)}")
    expect("would run: install" in output, f"--dry-run printed no actions:\n{output}")

    code, output = run_install(*common)
    expect(code == 0, f"install failed:\n{output}")
    installed = {
        "usr/local/bin/fusion-serve": 0o755,
        "etc/systemd/system/fusion-serve.service": 0o644,
        "etc/systemd/system/fusion-serve.socket": 0o644,
        "etc/default/fusion-serve": 0o644,
        "usr/local/share/doc/fusion-serve/operations.md": 0o644,
        "usr/local/share/fusion-serve/models/default/config.json": 0o644,
    }
    for path, mode in installed.items():
        full = root / path
        expect(full.is_file(), f"{path} not installed")
        expect(full.stat().st_mode & 0o777 == mode, f"{path} has mode {oct(full.stat().st_mode & 0o777)}")
    for name in os.listdir(MODEL):
        expect((root / "usr/local/share/fusion-serve/models/default" / name).is_file(), f"model file {name} missing")
    expect((root / "usr/local/bin/fusion-serve").read_bytes() == BIN.read_bytes(), "binary differs")
    for directory in ("usr", "usr/local", "usr/local/share/fusion-serve", "etc/systemd/system"):
        expect((root / directory).stat().st_mode & 0o777 == 0o755, f"{directory} is not 0755")

    # Installed as shipped (the verify test checks the shipped ones), settings from the template.
    for name in ("fusion-serve.service", "fusion-serve.socket"):
        expect((root / "etc/systemd/system" / name).read_bytes() == (DEPLOY / "systemd" / name).read_bytes(),
               f"installed {name} differs from deploy/systemd/{name}")
    expect((root / "etc/default/fusion-serve").read_bytes() == (DEPLOY / "default/fusion-serve").read_bytes(),
           "installed settings differ from deploy/default/fusion-serve")
    expect("ExecStart=/usr/local/bin/fusion-serve" in (root / "etc/systemd/system/fusion-serve.service").read_text()
           and (root / "usr/local/bin/fusion-serve").is_file(), "ExecStart does not name the installed binary")

    before = {p: (root / p).stat().st_mtime_ns for p in tree(root)}
    code, output = run_install(*common)
    expect(code == 0, f"second install failed:\n{output}")
    expect("+ " not in output, f"second install changed something:\n{output}")
    expect(before == {p: (root / p).stat().st_mtime_ns for p in tree(root)}, "second install touched files")

    # An edited settings file survives reinstall and uninstall; --purge removes it.
    settings = root / "etc/default/fusion-serve"
    settings.write_text(settings.read_text() + "FUSION_WORKERS=3\n")
    code, output = run_install(*common)
    expect(code == 0 and "FUSION_WORKERS=3" in settings.read_text(), "reinstall overwrote the settings")
    code, output = run_install("--prefix", str(root), "--uninstall")
    expect(code == 0, f"uninstall failed:\n{output}")
    expect(tree(root) == ["etc", "etc/default", "etc/default/fusion-serve"],
           f"uninstall left (or removed) the wrong things: {tree(root)}")
    code, output = run_install("--prefix", str(root), "--uninstall", "--purge")
    expect(code == 0 and tree(root) == [], f"--purge left: {tree(root)}\n{output}")

    # Unmodified install + uninstall leaves nothing behind.
    code, output = run_install(*common)
    expect(code == 0, f"install failed:\n{output}")
    code, output = run_install("--prefix", str(root), "--uninstall", "--dry-run")
    expect(code == 0 and tree(root) != [], "uninstall --dry-run removed files")
    code, output = run_install("--prefix", str(root), "--uninstall")
    expect(code == 0 and tree(root) == [], f"uninstall left: {tree(root)}\n{output}")
    code, output = run_install("--prefix", str(root), "--uninstall")
    expect(code == 0, f"uninstall of nothing failed:\n{output}")


def test_hardened_sandbox_serves(tmp, procs):
    """The server under an emulation of the unit's sandbox (see launch.py), from the installed
    layout, restricted to one CPU like CPUAffinity= would."""
    root = Path(tmp) / "root"
    root.mkdir()
    os.chmod(tmp, 0o755)
    code, output = run_install("--prefix", str(root), "--no-build", "--binary", str(BIN), "--model", str(MODEL))
    expect(code == 0, f"install failed:\n{output}")
    service = unit_settings(DEPLOY / "systemd/fusion-serve.service")
    model_env = dict(v.split("=", 1) for v in service[("Service", "Environment")])
    listener = NotifyListener(abstract=True)
    cpu = max(os.sched_getaffinity(0))
    try:
        port = free_port()
        env = {"NOTIFY_SOCKET": listener.address, "FUSION_HOST": "127.0.0.1", "FUSION_PORT": str(port), **model_env}
        server = start_server(procs, tmp, "sandboxed", port, env_extra=env,
                              argv=["/usr/local/bin/fusion-serve", "serve"],
                              launch_args=["--sandbox", str(root), "--cpu", str(cpu),
                                           "--watchdog-usec", "2000000", "--watchdog-pid", "self"])
        listener.wait_for("READY=1", READY_TIMEOUT_S, server)
        status, _, body = request(port, "GET", "/healthz", timeout=5)
        expect(status == 200, f"/healthz in the sandbox: {status} {body[:200]!r}")
        for _ in range(5):
            status, _, body = infer(port)
            expect(status == 200, f"/infer in the sandbox: {status} {body[:300]!r}\n{log_tail(server)}")
        workers = children(server.pid)
        expect(workers, "no worker processes in the sandbox")
        for worker in workers:
            status_text = Path(f"/proc/{worker}/status").read_text()
            allowed = re.search(r"Cpus_allowed_list:\s*(\S+)", status_text).group(1)
            uid = re.search(r"Uid:\s*(\d+)", status_text).group(1)
            expect(allowed == str(cpu), f"worker {worker} may run on {allowed}, outside the unit's CPU {cpu}")
            expect(uid != "0", f"worker {worker} runs as root")
        listener.wait_for("WATCHDOG=1", 5, server)
        os.kill(server.pid, signal.SIGTERM)
        listener.wait_for("STOPPING=1", 10)
        expect(stop(server) == 0, f"exit status in the sandbox:\n{log_tail(server)}")
    finally:
        listener.close()
