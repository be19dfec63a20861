"""The shipped systemd units and defaults file, checked by systemd-analyze and exercised with the
real binary: sd_notify READY/WATCHDOG/STOPPING, socket activation, a restart that loses nothing.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from deployment import (
    BIN, DEPLOY, Failure, HERE, INFER_BODY, Load, MODEL, NotifyListener, READY_TIMEOUT_S, children,
    default_file_values, environ_of, expect, free_port, infer, log_tail, request, seconds,
    start_server, stop, systemd_analyze, unit_copy, unit_settings, wait_healthy,
)


def test_units_pass_systemd_analyze_verify(tmp, procs):
    service, socket_unit = unit_copy(tmp, BIN)
    code, output = systemd_analyze("--man=no", "verify", str(socket_unit), str(service))
    expect(code == 0 and output == "", f"systemd-analyze verify: exit {code}:\n{output}")
    # The check can fail: a misspelt directive and a bad value are reported.
    broken = Path(tmp) / "broken"
    broken.mkdir()
    service2, socket2 = unit_copy(broken, BIN)
    service2.write_text(service2.read_text().replace("ProtectHome=yes", "ProtectHome=yes\nProtectHom=yes\n"
                                                     "MemoryDenyWriteExecute=perhaps"))
    code, output = systemd_analyze("--man=no", "verify", str(socket2), str(service2))
    expect("ProtectHom" in output and "perhaps" in output, f"verify did not flag a broken unit:\n{output}")


def test_units_security_exposure_is_low(tmp, procs):
    service, _ = unit_copy(tmp, BIN)
    code, output = systemd_analyze("security", "--offline=yes", "--threshold=20", str(service))
    overall = [line for line in output.splitlines() if "Overall exposure" in line]
    expect(code == 0, f"systemd-analyze security: exposure above 2.0:\n{output[-3000:]}")
    print(f"    {overall[0].strip() if overall else output[-200:]}")


def test_unit_settings_fit_the_server(tmp, procs):
    service = unit_settings(DEPLOY / "systemd/fusion-serve.service")
    socket_unit = unit_settings(DEPLOY / "systemd/fusion-serve.socket")
    required = {
        "Type": "notify", "NotifyAccess": "main", "DynamicUser": "yes", "Restart": "on-failure",
        "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
        "NoNewPrivileges": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "SystemCallArchitectures": "native",
        "CapabilityBoundingSet": "", "MemoryDenyWriteExecute": "yes",
        "EnvironmentFile": "-/etc/default/fusion-serve", "KillMode": "mixed", "OOMPolicy": "continue",
    }
    for key, value in required.items():
        expect(service.get(("Service", key)) == [value], f"{key}={value} missing: {service.get(('Service', key))}")
    expect("@system-service" in service[("Service", "SystemCallFilter")], "SystemCallFilter=@system-service missing")
    drain = int(default_file_values()["FUSION_DRAIN_TIMEOUT_S"])
    stop_timeout = seconds(service[("Service", "TimeoutStopSec")][0])
    expect(stop_timeout > drain, f"TimeoutStopSec={stop_timeout} must exceed the drain timeout {drain}")
    expect(seconds(service[("Service", "WatchdogSec")][0]) >= 10, "WatchdogSec too short for a loaded machine")
    expect(int(service[("Service", "LimitNOFILE")][0]) >= 4096, "LimitNOFILE too low")
    expect(socket_unit[("Socket", "Accept")] == ["no"], "the socket unit must use Accept=no")
    expect(len(socket_unit[("Socket", "ListenStream")]) == 1, "exactly one ListenStream=")

    # What the server does must be inside the allowed system-call set.
    allowed = set()
    for group, sign in (("@system-service", 1), ("@privileged", -1)):
        listing = subprocess.run([sys.executable, "-c",
                                  "import sys; sys.path.insert(0, sys.argv[1]); import launch; "
                                  "print(' '.join(sorted(launch.syscall_group(sys.argv[2]))))",
                                  str(HERE), group], capture_output=True, text=True, check=True).stdout.split()
        allowed = allowed | set(listing) if sign > 0 else allowed - set(listing)
    needed = ["sched_setaffinity", "sched_getaffinity", "socketpair", "clone", "clone3", "vfork", "execve",
              "wait4", "waitid", "kill", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "eventfd2",
              "accept4", "sendmsg", "recvmsg", "mmap", "munmap", "madvise", "prctl", "pipe2", "rt_sigaction",
              "sendto", "setsockopt", "getrandom", "futex"]
    missing = [name for name in needed if name not in allowed]
    expect(not missing, f"not in @system-service ~@privileged: {missing}")


def test_default_file_covers_every_serve_flag(tmp, procs):
    result = subprocess.run([str(BIN), "serve", "--help"], capture_output=True, text=True, timeout=30)
    expect(result.returncode == 0, f"serve --help failed: {result.stderr}")
    flags = set(re.findall(r"--([a-z][a-z0-9-]+)", result.stdout)) - {"help", "version"}
    values = default_file_values()
    names = {"FUSION_" + flag.upper().replace("-", "_") for flag in flags}
    missing = sorted(name for name in names if name not in values)
    expect(not missing, f"serve flags without a FUSION_ line in deploy/default/fusion-serve: {missing}")
    # Defaults printed by --help ("(FUSION_X; default V)") agree with the file. FUSION_MODEL
    # differs on purpose: the unit points it at the installed model.
    text = " ".join(result.stdout.split())
    compared = 0
    for name, value in values.items():
        match = re.search(rf"\({name}; default:? ([^);]*)[);]", text)
        if match is None or name == "FUSION_MODEL":
            continue
        documented = match.group(1).strip()
        if " " in documented:  # a description ("allowed CPUs minus one, …"), not a value
            expect(value == "", f"{name}={value} in the default file, but --help says the default is '{documented}'")
            continue
        compared += 1
        expect(documented == value, f"{name}={value} in the default file, but --help says default {documented!r}")
    expect(compared >= 5, f"only {compared} defaults found in --help to compare")


def test_default_file_values_are_accepted(tmp, procs):
    port = free_port()
    env = {name: value for name, value in default_file_values().items() if value}
    env.update({"FUSION_HOST": "127.0.0.1", "FUSION_PORT": str(port), "FUSION_MODEL": str(MODEL),
                "FUSION_WORKERS": "1"})
    server = start_server(procs, tmp, "env", port, env_extra=env, argv=[str(BIN), "serve"])
    wait_healthy(port, server)
    status, _, body = infer(port)
    expect(status == 200, f"/infer with the default-file settings: {status} {body[:200]!r}")
    expect(stop(server) == 0, "exit status after SIGTERM")


def test_sd_notify_ready_watchdog_stopping(tmp, procs):
    listener = NotifyListener()
    try:
        port = free_port()
        started = time.monotonic()
        server = start_server(procs, tmp, "notify", port, env_extra={"NOTIFY_SOCKET": listener.address},
                              launch_args=["--watchdog-usec", "1000000", "--watchdog-pid", "self"])
        ready = listener.wait_for("READY=1", READY_TIMEOUT_S, server)
        # READY=1 means the model is loaded: the service answers at once.
        status, _, body = request(port, "GET", "/healthz", timeout=5)
        expect(status == 200, f"/healthz right after READY=1: {status} {body[:200]!r}")
        status, _, body = infer(port)
        expect(status == 200, f"/infer right after READY=1: {status} {body[:200]!r}")
        time.sleep(3.0)
        pings = listener.count("WATCHDOG=1", since=ready)
        # WATCHDOG_USEC=1 s → a ping every 0.5 s: about 6 in 3 s.
        expect(4 <= pings <= 14, f"{pings} WATCHDOG=1 in 3 s with WATCHDOG_USEC=1000000 (expected ~6)")
        sent_term = time.monotonic()
        os.kill(server.pid, signal.SIGTERM)
        stopping = listener.wait_for("STOPPING=1", 10, None)
        expect(stopping >= sent_term, "STOPPING=1 before SIGTERM")
        expect(stop(server) == 0, f"exit status after SIGTERM:\n{log_tail(server)}")
        print(f"    READY=1 after {ready - started:.2f}s, {pings} watchdog pings in 3 s, "
              f"STOPPING=1 {stopping - sent_term:.3f}s after SIGTERM")
    finally:
        listener.close()


def test_watchdog_for_another_pid_stays_silent(tmp, procs):
    listener = NotifyListener(abstract=True)
    try:
        port = free_port()
        server = start_server(procs, tmp, "notify-other", port, env_extra={"NOTIFY_SOCKET": listener.address},
                              launch_args=["--watchdog-usec", "400000", "--watchdog-pid", "other"])
        ready = listener.wait_for("READY=1", READY_TIMEOUT_S, server)
        time.sleep(1.5)
        expect(listener.count("WATCHDOG=1", since=0) == 0, f"pinged a watchdog meant for another pid: {listener.all()}")
        expect(stop(server) == 0, "exit status after SIGTERM")
        del ready
    finally:
        listener.close()


def listening_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


def socket_inode(fd):
    return os.fstat(fd).st_ino


def test_socket_activation_serves_on_fd3(tmp, procs):
    listener = listening_socket()
    port = listener.getsockname()[1]
    own_port = free_port()  # FUSION_PORT: must be ignored in favour of fd 3
    try:
        server = start_server(procs, tmp, "activated", own_port,
                              launch_args=["--listen-fd", str(listener.fileno()), "--fdname", "http"],
                              pass_fds=(listener.fileno(),))
        # A connection made before the server is up waits in the backlog instead of failing.
        early = {}

        def early_request():
            try:
                early["status"] = request(port, "GET", "/livez", timeout=READY_TIMEOUT_S)[0]
            except OSError as error:
                early["error"] = error

        thread = threading.Thread(target=early_request, daemon=True)
        thread.start()
        wait_healthy(port, server)
        thread.join(READY_TIMEOUT_S)
        expect(early.get("status") == 200, f"early connection: {early}")
        status, _, body = infer(port)
        expect(status == 200, f"/infer on the activated socket: {status} {body[:200]!r}")
        curl = subprocess.run(["curl", "-sS", "--fail", "--max-time", "30", "-H", "Content-Type: application/json",
                               "--data-binary", "@-", f"http://127.0.0.1:{port}/infer"],
                              input=INFER_BODY, capture_output=True, timeout=60)
        expect(curl.returncode == 0 and b'"label"' in curl.stdout,
               f"curl on the activated socket: exit {curl.returncode} {curl.stderr[:200]!r} {curl.stdout[:200]!r}")
        try:
            socket.create_connection(("127.0.0.1", own_port), timeout=2).close()
            raise Failure("the server bound FUSION_PORT although it was given a socket")
        except ConnectionRefusedError:
            pass

        # Workers inherit neither the variables nor the listening socket.
        inode = socket_inode(listener.fileno())
        workers = children(server.pid)
        expect(workers, "no worker processes found")
        for worker in workers:
            env = environ_of(worker)
            leaked = [k.decode() for k in env if k in (b"LISTEN_FDS", b"LISTEN_PID", b"LISTEN_FDNAMES")]
            expect(not leaked, f"worker {worker} inherited {leaked}")
            fds = [os.readlink(f"/proc/{worker}/fd/{fd}") for fd in os.listdir(f"/proc/{worker}/fd")]
            expect(f"socket:[{inode}]" not in fds, f"worker {worker} inherited the listening socket")
        expect(stop(server) == 0, "exit status after SIGTERM")
    finally:
        listener.close()


def test_restart_with_socket_activation_loses_no_request(tmp, procs):
    """What `systemctl restart fusion-serve` does with the socket unit: the socket stays open
    (held here, as systemd holds it) while one server drains and the next one starts."""
    listener = listening_socket()
    port = listener.getsockname()[1]
    fd_args = ["--listen-fd", str(listener.fileno())]
    try:
        first = start_server(procs, tmp, "gen1", free_port(), launch_args=fd_args, pass_fds=(listener.fileno(),))
        wait_healthy(port, first)
        # New connection per request (clients without keep-alive); 503 + Retry-After from the
        # draining server is honoured like a well-behaved client would.
        load = Load(port, total=240, concurrency=4, fresh_connections=True, retry_503=5).start()
        load.wait_done(60)
        os.kill(first.pid, signal.SIGTERM)
        second = start_server(procs, tmp, "gen2", free_port(), launch_args=fd_args, pass_fds=(listener.fileno(),))
        expect(first.wait(timeout=60) == 0, f"draining server exit status {first.returncode}")
        load.join()
        load.expect_all_ok("restart under load")
        print(f"    240 requests across a restart: all 200 ({load.retried} retried after 503)")
        expect(stop(second) == 0, "exit status after SIGTERM")
    finally:
        listener.close()
