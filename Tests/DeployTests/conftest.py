"""Fixtures of the deployment tests (pytest): `tmp`, a fresh directory per test (kept on
failure with KEEP_TMP=1), and `procs`, the processes a test starts, all killed when it ends.
Every test also runs under an alarm of TEST_TIMEOUT_S, and a SIGTERM from outside (CI's
timeout) fails the running test so its processes are still killed.
"""
import os
import shutil
import signal
import tempfile

import pytest

from deployment import BIN, TEST_TIMEOUT_S, Processes


class Interrupted(BaseException):
    """SIGTERM or SIGINT from outside: stops the run after the current test cleans up."""


def pytest_sessionstart(session):
    if not BIN.is_file():
        raise pytest.UsageError(f"no server binary at {BIN} (set FUSION_SERVE_BIN)")

    def on_terminate(signum, frame):
        raise Interrupted(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_terminate)


@pytest.fixture
def procs():
    processes = Processes()
    yield processes
    processes.kill_all()


@pytest.fixture
def tmp(request):
    path = tempfile.mkdtemp(prefix=f"deploy-{request.node.name.removeprefix('test_')}-")
    yield path
    report = getattr(request.node, "outcome_report", None)
    if report is not None and report.failed and os.environ.get("KEEP_TMP"):
        print(f"kept {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.outcome_report = report
    return report


@pytest.fixture(autouse=True)
def time_limit():
    def on_alarm(signum, frame):
        raise TimeoutError(f"test exceeded {TEST_TIMEOUT_S}s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
