"""A server that breaks, stalls or answers garbage, and the timebox: retried, then exit 4 with
the state kept; a model call never outlives the timebox."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.spec.config import Settings
from tests.conftest import MATHX_GOAL, run_cli, status_fields
from tests.test_model_layer import QWEN, fast_retries, ledger, run  # noqa: F401 (a fixture)

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow


STARTUP_ALLOWANCE_S = 5.0  # start-up and first probe, which no setting scales

BROKEN_SERVERS = {
    "half-a-json-line": Turn(content="a reply cut off", partial_line=True),
    "non-json-200": Turn(non_json_body=True),
    "read-timeout": Turn(delay_s=30),
    "endless-thinking": Turn(endless_thinking=True),
}


@pytest.mark.parametrize("name", list(BROKEN_SERVERS))
def test_a_broken_server_is_retried_then_pauses_with_exit_4_and_the_state_kept(
        workspace: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("JETBOX_REQUEST_TIMEOUT_S", "0.5")
    monkeypatch.setenv("JETBOX_RETRIES", "2")
    with OfflineOllama(lambda r: BROKEN_SERVERS[name]) as server:
        started = time.monotonic()
        result = run(workspace, server, "gpt-oss:20b")
        elapsed = time.monotonic() - started
        tries = len(server.requests)
    assert result.code == 4, result.err
    assert tries == 3 and "failed 3 times" in result.err
    assert "internal error" not in result.err and "Traceback" not in result.err
    assert status_fields(workspace)["State"] == "Ask"
    assert elapsed < 3 * 0.5 + 6  # three bounded tries, a little backoff, the probes


def test_an_endless_thinking_stream_stops_at_the_timebox(workspace: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETBOX_REQUEST_TIMEOUT_S", "600")
    with OfflineOllama(lambda r: Turn(endless_thinking=True)) as server:
        started = time.monotonic()
        result = run(workspace, server, "gpt-oss:20b", "--timebox", str(3 + STARTUP_ALLOWANCE_S))
        elapsed = time.monotonic() - started
    assert result.code == 3, result.err
    assert "timebox" in result.err
    assert elapsed < 3 + STARTUP_ALLOWANCE_S + 1.5
    assert status_fields(workspace)["State"] == "Ask"
    resumed = [r for r in ledger(workspace) if r["kind"] == "model_reply"]
    assert resumed == []  # nothing half-received was journaled as a reply


def test_a_silent_server_is_cut_to_the_timebox_not_request_timeout(
        workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETBOX_REQUEST_TIMEOUT_S", "300")
    with OfflineOllama(lambda r: Turn(delay_s=60)) as server:
        started = time.monotonic()
        result = run(workspace, server, "gpt-oss:20b", "--timebox", str(3 + STARTUP_ALLOWANCE_S))
        elapsed = time.monotonic() - started
    assert result.code == 3 and "timebox" in result.err, result.err
    assert elapsed < 3 + STARTUP_ALLOWANCE_S + 1.5


def test_with_the_defaults_a_silent_server_gives_up_inside_the_timebox() -> None:
    """Every try waits request_timeout_s at most; all of them and their backoff fit."""
    defaults = Settings()
    tries = defaults.retries + 1
    backoff = sum(defaults.retry_backoff_s * 2 ** n for n in range(defaults.retries))
    worst = tries * defaults.request_timeout_s + backoff
    print(f"silent server with the defaults: exit 4 after {worst:g} s "
          f"(timebox {defaults.timebox_s:g} s)")
    assert worst < defaults.timebox_s


@pytest.mark.slow
def test_a_silent_server_with_scaled_defaults_gives_up_before_the_timebox(
        workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The defaults divided by 100 (timebox 9 s, request timeout 2 s), for real: exit 4
    after every try, not a pause at the timebox. The start-up and the first probe do not
    scale (0.5 s here, seconds on a loaded machine): the timebox gets them on top."""
    defaults = Settings()
    monkeypatch.setenv("JETBOX_REQUEST_TIMEOUT_S", str(defaults.request_timeout_s / 100))
    timebox = defaults.timebox_s / 100 + STARTUP_ALLOWANCE_S
    with OfflineOllama(lambda r: Turn(delay_s=60)) as server:
        started = time.monotonic()
        result = run(workspace, server, "gpt-oss:20b", "--timebox", str(timebox))
        elapsed = time.monotonic() - started
    assert result.code == 4 and "failed 4 times" in result.err, result.err
    assert elapsed < timebox + 1.5


CALL_S = 3.0  # each call: four of them outlast the timebox below, one fits after start-up
SLOW_SCRIPT = (f"import time\nfrom pathlib import Path\ntime.sleep({CALL_S})\n"
               "with Path('runs.log').open('a') as log:\n    log.write('ran\\n')\n")


def test_the_timebox_between_tool_calls_leaves_the_rest_for_the_resume(
        workspace: Path) -> None:
    slow = Call("run_cmd", {"cmd": ["python", "slow.py"]})
    (workspace / "slow.py").write_text(SLOW_SCRIPT)
    script = ScriptResponder([Turn(calls=(slow, slow, slow, slow)),
                              Turn(calls=(Call("finish", {"summary": "ran"}),))])
    with OfflineOllama(script, [QWEN]) as server:  # QWEN sends all four calls in one reply
        started = time.monotonic()
        timebox = 2 + STARTUP_ALLOWANCE_S
        paused = run(workspace, server, QWEN.name, "--timebox", str(timebox))
        elapsed = time.monotonic() - started
        first = (workspace / "runs.log").read_text().count("ran")
        resumed = run(workspace, server, QWEN.name, "--timebox", "60", "--max-rounds", "1")
    assert paused.code == 3 and "of the model's reply run on resume" in paused.err
    assert 1 <= first < 4 and elapsed < timebox + CALL_S + 2  # the call under way finishes
    assert "resuming a journaled reply" in resumed.err
    assert (workspace / "runs.log").read_text().count("ran") == 4  # each call ran once
    results = [r["index"] for r in ledger(workspace)
               if r["kind"] == "tool_result" and r["name"] == "run_cmd"]
    assert sorted(results) == [0, 1, 2, 3]


class _HtmlEverywhere(BaseHTTPRequestHandler):
    """Not Ollama at all: a proxy or captive portal answering 200 with HTML to everything."""

    def _page(self) -> None:
        body = b"<html><body>Sign in to the network</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _page

    def log_message(self, format: str, *args: object) -> None:
        return


def test_a_server_answering_html_everywhere_is_retried_then_exit_4(workspace: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlEverywhere)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host",
                         f"http://127.0.0.1:{server.server_address[1]}", "--sandbox", "none")
    finally:
        server.shutdown()
        server.server_close()
    assert result.code == 4, result.err
    assert "is not JSON" in result.err and "internal error" not in result.err
    assert status_fields(workspace)["State"] == "Ask"
