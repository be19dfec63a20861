"""Shared helpers of the deployment tests (test_systemd.py, test_install.py, test_scale_out.py,
test_kubernetes.py): processes, HTTP, the sd_notify socket, unit files. The fixtures `tmp` and
`procs` are in conftest.py.

Environment: FUSION_SERVE_BIN (default .build/debug/fusion-serve), FUSION_TEST_MODEL (default
the tiny fixture model Tests/Fixtures/models/tiny-f32, else models/default). Every wait is
bounded, every process started is killed at the end of its test, and only 127.0.0.1 is used.
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
