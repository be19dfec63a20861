"""The Open Inference Protocol tests share one server (`server`, started once per run): the
tests only read from it, and starting the default model's workers is the slow part. On a
failure the end of its log is printed."""
import pytest

from test_protocol import Server


@pytest.fixture(scope="session")
def server(request):
    running = Server()
    yield running
    if request.session.testsfailed:
        print("--- server log (last 40 lines) ---\n" + "\n".join(running.log().splitlines()[-40:]))
    running.stop()
