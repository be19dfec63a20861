#!/usr/bin/env python3
"""Deployment tests: the shipped units, install script and load-balancer configs, exercised
with real programs on loopback (systemd-analyze, the fusion-serve binary, nginx, HAProxy).

    deploy_tests.py [-k SUBSTRING]...        (tools/ci/deploy-tests.sh runs it)

Environment: FUSION_SERVE_BIN (default .build/debug/fusion-serve), FUSION_TEST_MODEL (default
the tiny fixture model Tests/Fixtures/models/tiny-f32, else models/default). Every wait is bounded, every process started is
killed at the end of its test, and only 127.0.0.1 is used. Prints "N passed, N failed".
"""
import base64
import collections
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LAUNCH = HERE / "launch.py"
DEPLOY = ROOT / "deploy"
BIN = Path(os.environ.get("FUSION_SERVE_BIN", ROOT / ".build/debug/fusion-serve")).resolve()


def default_model():
    if "FUSION_TEST_MODEL" in os.environ:
        return Path(os.environ["FUSION_TEST_MODEL"]).resolve()
    # The tiny fixture first: these tests are about deployment, not accuracy, and a small model
    # keeps a few thousand requests through a debug build quick.
    for candidate in (ROOT / "Tests/Fixtures/models/tiny-f32", ROOT / "models/default"):
        if (candidate / "config.json").is_file():
            return candidate
    raise SystemExit("no model: set FUSION_TEST_MODEL or add models/default")


MODEL = default_model()
TEST_TIMEOUT_S = 300
READY_TIMEOUT_S = 120


class Failure(AssertionError):
    pass


def expect(condition, message):
    if not condition:
        raise Failure(message)


# --- processes -------------------------------------------------------------------------------

class Processes:
    """Everything a test starts; all of it is killed when the test ends."""

    def __init__(self):
        self.items = []

    def start(self, argv, log_path, **kwargs):
        log = open(log_path, "wb")
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, **kwargs)
        process.log_path = log_path
        log.close()
        self.items.append(process)
        return process

    def kill_all(self):
        for process in self.items:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        self.items.clear()


def log_tail(process, lines=30):
    try:
        text = Path(process.log_path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid):
    """Direct child pids (the worker processes of a server)."""
    result = []
    task_dir = Path(f"/proc/{pid}/task")
    try:
        for task in task_dir.iterdir():
            result += [int(p) for p in (task / "children").read_text().split()]
    except OSError:
        pass
    return sorted(set(result))


def environ_of(pid):
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)


# --- HTTP ------------------------------------------------------------------------------------

def tiny_png(width=40, height=30):
    """A gradient PNG made with zlib only (no Pillow in CI)."""
    rows = b"".join(b"\0" + bytes(v for x in range(width) for v in ((x * 6) % 256, (y * 8) % 256, 128))
                    for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


INFER_BODY = json.dumps({"image": base64.b64encode(tiny_png()).decode(), "text": "a red circle on the left"}).encode()


def request(port, method, path, body=None, headers=None, timeout=30, connection=None, cafile=None):
    """Returns (status, headers dict, body bytes). Uses `connection` if given (keep-alive);
    with `cafile`, HTTPS to "localhost" verified against that CA."""
    own = connection is None
    if connection is None and cafile is not None:
        context = ssl.create_default_context(cafile=str(cafile))
        connection = http.client.HTTPSConnection("localhost", port, timeout=timeout, context=context)
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        all_headers = {"Content-Type": "application/json"} if body is not None else {}
        all_headers.update(headers or {})
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        if own:
            conn.close()


def infer(port, **kwargs):
    return request(port, "POST", "/infer", body=INFER_BODY, **kwargs)


def wait_healthy(port, process=None, timeout=READY_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise Failure(f"server exited with {process.returncode} while starting:\n{log_tail(process)}")
        try:
            status, _, body = request(port, "GET", "/healthz", timeout=2)
            if status == 200:
                return
            last = (status, body[:200])
        except OSError as error:
            last = error
        time.sleep(0.1)
    raise Failure(f"/healthz on {port} not 200 within {timeout}s (last: {last})"
                  + (f"\n{log_tail(process)}" if process else ""))


def serve_argv(port, workers=1, extra=()):
    return [str(BIN), "serve", "--host", "127.0.0.1", "--port", str(port), "--model", str(MODEL),
            "--workers", str(workers), *extra]


def start_server(procs, tmp, name, port, workers=1, launch_args=(), env_extra=None, extra=(),
                 argv=None, pass_fds=()):
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)
    env.update(env_extra or {})
    command = argv or serve_argv(port, workers, extra)
    if launch_args:
        command = [sys.executable, str(LAUNCH), *launch_args, "--", *command]
    return procs.start(command, Path(tmp) / f"{name}.log", env=env, pass_fds=pass_fds)


def stop(process, sig=signal.SIGTERM, timeout=60):
    if process.poll() is None:
        os.kill(process.pid, sig)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure(f"pid {process.pid} did not exit within {timeout}s after {sig!r}:\n{log_tail(process)}")


class Load:
    """`total` POST /infer requests from `concurrency` threads, each on its own keep-alive
    connection (reopened only when the server announces Connection: close)."""

    def __init__(self, port, total, concurrency, fresh_connections=False, retry_503=0):
        self.port, self.total, self.concurrency = port, total, concurrency
        self.fresh, self.retry_503 = fresh_connections, retry_503
        self.lock = threading.Lock()
        self.next_index = 0
        self.done = 0
        self.statuses = collections.Counter()
        self.errors = []
        self.retried = 0
        self.threads = []

    def _take(self):
        with self.lock:
            if self.next_index >= self.total:
                return None
            self.next_index += 1
            return self.next_index

    def _worker(self):
        conn = None
        while self._take() is not None:
            attempts = 0
            while True:
                try:
                    if conn is None or self.fresh:
                        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                    status, headers, body = infer(self.port, connection=conn)
                    if self.fresh or headers.get("connection", "").lower() == "close":
                        conn.close()
                        conn = None
                    if status == 503 and attempts < self.retry_503:
                        attempts += 1
                        with self.lock:
                            self.retried += 1
                        time.sleep(min(float(headers.get("retry-after", "1")), 1.0) / 4)
                        continue
                    with self.lock:
                        self.statuses[status] += 1
                        if status != 200:
                            self.errors.append(f"HTTP {status}: {body[:200]!r}")
                except (OSError, http.client.HTTPException) as error:
                    if conn is not None:
                        conn.close()
                    conn = None
                    with self.lock:
                        self.errors.append(f"{type(error).__name__}: {error}")
                break
            with self.lock:
                self.done += 1
        if conn is not None:
            conn.close()

    def start(self):
        self.threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.concurrency)]
        for thread in self.threads:
            thread.start()
        return self

    def wait_done(self, count, timeout=120):
        deadline = time.monotonic() + timeout
        while self.done < count and time.monotonic() < deadline:
            time.sleep(0.02)
        expect(self.done >= count, f"load stalled at {self.done}/{count} requests")

    def join(self, timeout=240):
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        expect(not any(t.is_alive() for t in self.threads), f"load did not finish in {timeout}s ({self.done} done)")
        return self

    def expect_all_ok(self, what):
        sample = "; ".join(self.errors[:5])
        expect(not self.errors and self.statuses[200] == self.total,
               f"{what}: {len(self.errors)} of {self.total} requests failed ({dict(self.statuses)}): {sample}")


def metric_samples(port, cafile=None):
    """Prometheus text from /metrics as (name, labels dict, value) tuples."""
    status, _, body = request(port, "GET", "/metrics", timeout=5, cafile=cafile)
    expect(status == 200, f"/metrics on {port} returned {status}")
    samples = []
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)', line)
        if match:
            labels = dict(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
            try:
                samples.append((match.group(1), labels, float(match.group(3))))
            except ValueError:
                pass
    return samples


def served_ok(port, cafile=None):
    """Successful /infer requests this instance has answered, from its /metrics
    (`fusion_requests_total{route="/infer",status="200"}`; absent until the first one)."""
    total = 0.0
    for name, labels, value in metric_samples(port, cafile):
        if name != "fusion_requests_total":
            continue
        if labels.get("status", labels.get("code")) != "200":
            continue
        if labels.get("route", labels.get("path")) != "/infer":
            continue
        total += value
    return int(total)


# --- notify socket ---------------------------------------------------------------------------

class NotifyListener:
    """A real AF_UNIX datagram socket standing in for systemd's; records (time, message)."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"fusion-serve-deploy-test-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.dir = tempfile.mkdtemp(prefix="notify-")
            self.address = os.path.join(self.dir, "notify")
            self.sock.bind(self.address)
        self.sock.settimeout(0.2)
        self.messages = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append((time.monotonic(), data.decode(errors="replace")))

    def wait_for(self, assignment, timeout, process=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for stamp, message in self.messages:
                    if assignment in message.split("\n"):
                        return stamp
            if process is not None and process.poll() is not None:
                raise Failure(f"server exited ({process.returncode}) before sending {assignment}:\n{log_tail(process)}")
            time.sleep(0.02)
        raise Failure(f"no {assignment} within {timeout}s; got {self.all()}")

    def count(self, assignment, since=0.0):
        with self.lock:
            return sum(1 for stamp, message in self.messages if stamp >= since and assignment in message.split("\n"))

    def all(self):
        with self.lock:
            return [message for _, message in self.messages]

    def close(self):
        self.running = False
        self.thread.join(1)
        self.sock.close()
        if hasattr(self, "dir"):
            shutil.rmtree(self.dir, ignore_errors=True)


# --- unit files ------------------------------------------------------------------------------

def unit_settings(path):
    """{(section, key): [values]} of a unit file."""
    settings = collections.defaultdict(list)
    section = None
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings[(section, key.strip())].append(value.strip())
    return settings


def default_file_values():
    """FUSION_* names in deploy/default/fusion-serve with their (commented) default values."""
    values = {}
    for line in (DEPLOY / "default/fusion-serve").read_text().splitlines():
        match = re.match(r"^#(FUSION_[A-Z_]+)=(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


def seconds(text):
    match = re.fullmatch(r"(\d+)(s|min)?", text)
    expect(match is not None, f"cannot read duration {text!r}")
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


def systemd_analyze(*args):
    result = subprocess.run(["systemd-analyze", *args], capture_output=True, text=True, timeout=120)
    return result.returncode, (result.stdout + result.stderr).strip()


def unit_copy(tmp, exec_path):
    """The shipped units in `tmp`, ExecStart pointing at `exec_path` (systemd-analyze verify
    checks that the program exists and is executable)."""
    for name in ("fusion-serve.service", "fusion-serve.socket"):
        text = (DEPLOY / "systemd" / name).read_text()
        if name.endswith(".service"):
            expect(text.count("ExecStart=/usr/local/bin/fusion-serve serve") == 1, "unexpected ExecStart line")
            text = text.replace("ExecStart=/usr/local/bin/fusion-serve", f"ExecStart={exec_path}")
        (Path(tmp) / name).write_text(text)
    return Path(tmp) / "fusion-serve.service", Path(tmp) / "fusion-serve.socket"


# --- tests -----------------------------------------------------------------------------------

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


# --- scale-out -------------------------------------------------------------------------------

NODES = ["10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080"]


def substituted(text, replacements):
    for old, new in replacements:
        expect(text.count(old) >= 1, f"shipped config no longer contains {old!r}")
        text = text.replace(old, new)
    return text


def start_nginx(procs, tmp, lb_port, node_ports):
    conf_dir = Path(tmp) / "nginx"
    conf_dir.mkdir()
    os.chmod(tmp, 0o755)
    os.chmod(conf_dir, 0o755)
    site = substituted((DEPLOY / "nginx/fusion-serve.conf").read_text(),
                       [(node, f"127.0.0.1:{p}") for node, p in zip(NODES, node_ports)]
                       + [("listen 80;", f"listen 127.0.0.1:{lb_port};")])
    (conf_dir / "fusion-serve.conf").write_text(site)
    return run_nginx(procs, conf_dir, "fusion-serve.conf")


def run_nginx(procs, conf_dir, site_file):
    """Wraps `site_file` (in `conf_dir`) in a minimal nginx.conf with every path in `conf_dir`,
    checks it with `nginx -t` and starts nginx in the foreground."""
    (conf_dir / "nginx.conf").write_text(f"""
worker_processes 1;
pid {conf_dir}/nginx.pid;
error_log {conf_dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {conf_dir}/access.log;
    client_body_temp_path {conf_dir}/body;
    proxy_temp_path {conf_dir}/proxy;
    fastcgi_temp_path {conf_dir}/fastcgi;
    uwsgi_temp_path {conf_dir}/uwsgi;
    scgi_temp_path {conf_dir}/scgi;
    include {conf_dir}/{site_file};
}}
""")
    check = subprocess.run(["nginx", "-t", "-p", str(conf_dir), "-c", str(conf_dir / "nginx.conf")],
                           capture_output=True, text=True)
    expect(check.returncode == 0, f"nginx -t: {check.stderr}")
    process = procs.start(["nginx", "-p", str(conf_dir), "-c", str(conf_dir / "nginx.conf"), "-g", "daemon off;"],
                          conf_dir / "stdout.log")
    process.error_log = conf_dir / "error.log"
    return process


def start_haproxy(procs, tmp, lb_port, node_ports):
    conf_dir = Path(tmp) / "haproxy"
    conf_dir.mkdir()
    text = substituted((DEPLOY / "haproxy/fusion-serve.cfg").read_text(),
                       [(node, f"127.0.0.1:{p}") for node, p in zip(NODES, node_ports)]
                       + [("bind :80", f"bind 127.0.0.1:{lb_port}"),
                          ("log /dev/log local0", "log stderr format raw local0")])
    return run_haproxy(procs, conf_dir, text)


def run_haproxy(procs, conf_dir, text):
    """Drops host-only lines (a chroot, a privileged user, the admin socket in /run) from
    `text`, checks it with `haproxy -c` and starts HAProxy in the foreground."""
    text = "\n".join(line for line in text.splitlines()
                     if not re.match(r"\s*(chroot|user|group|stats socket)\b", line))
    config = conf_dir / "haproxy.cfg"
    config.write_text(text + "\n")
    check = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True)
    expect(check.returncode == 0, f"haproxy -c: {check.stdout}{check.stderr}")
    return procs.start(["haproxy", "-db", "-f", str(config)], conf_dir / "haproxy.log")


def scale_out(tmp, procs, balancer):
    node_ports = [free_port() for _ in NODES]
    nodes = [start_server(procs, tmp, f"node{i + 1}", port) for i, port in enumerate(node_ports)]
    for node, port in zip(nodes, node_ports):
        wait_healthy(port, node)
    lb_port = free_port()
    lb = balancer(procs, tmp, lb_port, node_ports)
    deadline = time.monotonic() + 20
    while True:
        try:
            if request(lb_port, "GET", "/healthz", timeout=2)[0] == 200:
                break
        except OSError:
            pass
        expect(time.monotonic() < deadline and lb.poll() is None, f"balancer not answering:\n{log_tail(lb)}")
        time.sleep(0.1)

    # 1. A few hundred requests: all succeed, spread over the three nodes.
    before = [served_ok(p) for p in node_ports]
    load = Load(lb_port, total=300, concurrency=6).start().join()
    load.expect_all_ok("steady load")
    counts = [served_ok(p) - b for p, b in zip(node_ports, before)]
    expect(sum(counts) >= 300, f"nodes served {counts}, fewer than the 300 requests")
    expect(min(counts) >= 30, f"load not spread across the nodes: {counts}")
    print(f"    steady: 300/300 ok, per node {counts}")

    # 2. One node killed (-9, with its workers) mid-load: no client request fails.
    load = Load(lb_port, total=300, concurrency=6).start()
    load.wait_done(100)
    os.killpg(nodes[1].pid, signal.SIGKILL)
    load.join()
    load.expect_all_ok("node killed mid-load")
    print("    kill -9 of node2 mid-load: 300/300 ok")

    # Bring it back, and make sure the balancer uses it again before the drain test.
    nodes[1] = start_server(procs, tmp, "node2-restarted", node_ports[1])
    wait_healthy(node_ports[1], nodes[1])
    base = served_ok(node_ports[1])
    deadline = time.monotonic() + 30
    while served_ok(node_ports[1]) == base:
        expect(time.monotonic() < deadline, "the restarted node never got traffic back")
        Load(lb_port, total=30, concurrency=3).start().join().expect_all_ok("warm-up")

    # 3. One node draining (SIGTERM) mid-load: taken out, no client request fails.
    load = Load(lb_port, total=300, concurrency=6).start()
    load.wait_done(100)
    os.kill(nodes[2].pid, signal.SIGTERM)
    load.join()
    load.expect_all_ok("node draining mid-load")
    expect(nodes[2].wait(timeout=60) == 0, f"drained node exit status {nodes[2].returncode}")
    print("    SIGTERM (drain) of node3 mid-load: 300/300 ok, node3 exited 0")
    return lb, nodes


def test_scale_out_behind_nginx(tmp, procs):
    lb, _ = scale_out(tmp, procs, start_nginx)
    expect(lb.poll() is None, "nginx died")


def test_scale_out_behind_haproxy(tmp, procs):
    lb, _ = scale_out(tmp, procs, start_haproxy)
    deadline = time.monotonic() + 10
    while "node3 is DOWN" not in Path(lb.log_path).read_text(errors="replace"):
        expect(time.monotonic() < deadline, f"HAProxy's health check never took node3 out:\n{log_tail(lb)}")
        time.sleep(0.2)
    expect(lb.poll() is None, "haproxy died")


# --- HTTPS end to end: TLS terminated at the balancer, re-encrypted to the nodes ---------------

TLS_NODES = ["10.0.0.11:8443", "10.0.0.12:8443", "10.0.0.13:8443"]


def make_certificates(tmp):
    certs = Path(tmp) / "certs"
    subprocess.run(["bash", str(ROOT / "Tests/Fixtures/tls/make-certs.sh"), str(certs)], check=True, timeout=60)
    os.chmod(tmp, 0o755)
    for item in [certs, *certs.iterdir()]:
        os.chmod(item, 0o755 if item.is_dir() else 0o644)
    return certs


def wait_https_healthy(port, ca, process, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if request(port, "GET", "/healthz", timeout=2, cafile=ca)[0] == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        expect(time.monotonic() < deadline and process.poll() is None, f"{what}:\n{log_tail(process)}")
        time.sleep(0.1)


def tls_scale_out(tmp, procs, write_balancer):
    certs = make_certificates(tmp)
    ca = certs / "cert.pem"   # self-signed: the nodes' certificate is its own CA
    node_ports = [free_port() for _ in TLS_NODES]
    tls_args = ["--tls-cert", str(certs / "cert.pem"), "--tls-key", str(certs / "key.pem")]
    nodes = [start_server(procs, tmp, f"tls-node{i + 1}", port, extra=tls_args) for i, port in enumerate(node_ports)]
    for node, port in zip(nodes, node_ports):
        wait_https_healthy(port, ca, node, READY_TIMEOUT_S, "TLS node not ready")
        # The node speaks HTTPS only: plain HTTP gets no answer.
        try:
            plain = request(port, "GET", "/healthz", timeout=2)[0]
        except (OSError, http.client.HTTPException):
            plain = None
        expect(plain is None, f"plain HTTP to a TLS node answered {plain}")
    lb_port = free_port()
    lb = write_balancer(procs, tmp, lb_port, node_ports, certs)
    wait_https_healthy(lb_port, ca, lb, 20, "TLS balancer not answering")
    before = [served_ok(p, ca) for p in node_ports]
    context = ssl.create_default_context(cafile=str(ca))
    connection = http.client.HTTPSConnection("localhost", lb_port, timeout=30, context=context)
    for index in range(90):
        status, _, body = request(lb_port, "POST", "/infer", body=INFER_BODY, connection=connection)
        expect(status == 200, f"request {index} through the TLS balancer: {status} {body[:200]!r}")
    connection.close()
    counts = [served_ok(p, ca) - b for p, b in zip(node_ports, before)]
    expect(sum(counts) >= 90 and min(counts) >= 5, f"TLS nodes served {counts}")
    handshakes = [sum(v for n, l, v in metric_samples(p, ca) if n == "fusion_http_tls_handshakes_total") for p in node_ports]
    expect(all(h >= 1 for h in handshakes), f"nodes saw no TLS handshake from the balancer: {handshakes}")
    print(f"    90/90 /infer over HTTPS through the balancer, re-encrypted; per node {counts}")
    expect(lb.poll() is None, "balancer died")


def start_nginx_tls(procs, tmp, lb_port, node_ports, certs):
    conf_dir = Path(tmp) / "nginx"
    conf_dir.mkdir()
    os.chmod(conf_dir, 0o755)
    site = substituted((DEPLOY / "nginx/fusion-serve-tls.conf").read_text(),
                       [(node, f"127.0.0.1:{p}") for node, p in zip(TLS_NODES, node_ports)]
                       + [("listen 443 ssl;", f"listen 127.0.0.1:{lb_port} ssl;"),
                          ("/etc/nginx/tls/fusion-serve.pem", str(certs / "cert.pem")),
                          ("/etc/nginx/tls/fusion-serve.key", str(certs / "key.pem")),
                          ("/etc/nginx/tls/nodes-ca.pem", str(certs / "cert.pem"))])
    (conf_dir / "fusion-serve-tls.conf").write_text(site)
    return run_nginx(procs, conf_dir, "fusion-serve-tls.conf")


def start_haproxy_tls(procs, tmp, lb_port, node_ports, certs):
    conf_dir = Path(tmp) / "haproxy"
    conf_dir.mkdir()
    bundle = conf_dir / "fusion-serve.pem"
    bundle.write_text((certs / "cert.pem").read_text() + (certs / "key.pem").read_text())
    text = substituted((DEPLOY / "haproxy/fusion-serve-tls.cfg").read_text(),
                       [(node, f"127.0.0.1:{p}") for node, p in zip(TLS_NODES, node_ports)]
                       + [("bind :443 ssl", f"bind 127.0.0.1:{lb_port} ssl"),
                          ("/etc/haproxy/tls/fusion-serve.pem", str(bundle)),
                          ("/etc/haproxy/tls/nodes-ca.pem", str(certs / "cert.pem")),
                          ("log /dev/log local0", "log stderr format raw local0")])
    return run_haproxy(procs, conf_dir, text)


def test_https_end_to_end_behind_nginx(tmp, procs):
    tls_scale_out(tmp, procs, start_nginx_tls)


def test_https_end_to_end_behind_haproxy(tmp, procs):
    tls_scale_out(tmp, procs, start_haproxy_tls)


# --- runner ----------------------------------------------------------------------------------

def main():
    selected = [a for a in sys.argv[1:] if a != "-k"]
    tests = [(name, fn) for name, fn in globals().items() if name.startswith("test_") and callable(fn)]
    if selected:
        tests = [(n, f) for n, f in tests if any(s in n for s in selected)]
        if not tests:
            # A filter that selects nothing would otherwise "pass" with 0 tests run.
            print(f"deploy tests: no test name contains any of {selected}", file=sys.stderr)
            return 2
    expect(BIN.is_file(), f"no server binary at {BIN}")
    print(f"deploy tests: binary {BIN}, model {MODEL}")
    passed = failed = 0

    def on_alarm(signum, frame):
        raise TimeoutError(f"test exceeded {TEST_TIMEOUT_S}s")

    class Interrupted(BaseException):
        pass

    def on_terminate(signum, frame):
        raise Interrupted(f"signal {signum}")

    signal.signal(signal.SIGALRM, on_alarm)
    # Stopped from outside (CI's timeout, Ctrl-C): still kill every process the test started.
    signal.signal(signal.SIGTERM, on_terminate)
    signal.signal(signal.SIGINT, on_terminate)
    for name, fn in tests:
        procs = Processes()
        tmp = tempfile.mkdtemp(prefix=f"deploy-{name[5:]}-")
        started = time.monotonic()
        signal.alarm(TEST_TIMEOUT_S)
        try:
            fn(tmp, procs)
            passed += 1
            print(f"PASS {name} ({time.monotonic() - started:.1f}s)", flush=True)
        except Interrupted as interruption:
            failed += 1
            print(f"FAIL {name}: interrupted by {interruption}", flush=True)
            procs.kill_all()
            break
        except Exception as error:  # noqa: BLE001 — report every failure and go on
            failed += 1
            detail = str(error) if isinstance(error, Failure) else traceback.format_exc()
            print(f"FAIL {name} ({time.monotonic() - started:.1f}s): {detail}", flush=True)
        finally:
            signal.alarm(0)
            procs.kill_all()
            if failed and os.environ.get("KEEP_TMP"):
                print(f"     kept {tmp}")
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
