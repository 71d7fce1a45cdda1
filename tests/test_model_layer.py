"""The Ollama model layer against the offline server, through the real `ollama` client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetbox.offline import Call, FakeModel, OfflineOllama, ScriptResponder, Turn
from jetbox.offline.solvers import MathxSolver
from tests.conftest import MATHX_GOAL, run_cli, status_fields
from tests.enginekit import MATHX_DATA_GOAL, mathx_machine

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

QWEN = FakeModel("qwen2.5-coder:7b", ("completion", "tools"), 32768, "qwen2", "midstream")
GEMMA = FakeModel("gemma:2b", ("completion",), 8192, "gemma", "final")
LEAKY = FakeModel("devstral:24b", ("completion", "tools"), 131072, "llama", "content")


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETBOX_RETRY_BACKOFF_S", "0.01")


def ledger(workspace: Path) -> list[dict]:
    return [json.loads(x) for x in (workspace / "agent_ledger.log").read_text().splitlines()]


def run(workspace: Path, server: OfflineOllama, model: str, *extra: str):  # noqa: ANN201
    # The model layer is the subject: ruff and pytest are data (tests/enginekit.py).
    machine = mathx_machine(workspace.parent / "machine")
    return run_cli("run", MATHX_DATA_GOAL, "-w", str(workspace), "--host", server.host,
                   "--model", model, "--sandbox", "none", "--machine", str(machine), *extra)


@pytest.mark.parametrize("model", [FakeModel(), QWEN], ids=["gpt-oss-final-chunk", "midstream"])
def test_native_tool_calls_in_both_streaming_styles_reach_done(workspace: Path,
                                                               model: FakeModel) -> None:
    with OfflineOllama(MathxSolver(workspace), [model]) as server:
        result = run(workspace, server, model.name)
        assert all(r.tools for r in server.requests) and not any(r.format for r in server.requests)
    assert result.code == 0, result.err
    replies = [r for r in ledger(workspace) if r["kind"] == "model_reply"]
    assert replies and all(not r["recovered"] for r in replies)
    assert all(r["prompt_tokens"] > 0 and r["output_tokens"] > 0 for r in replies)


def test_thinking_is_passed_back_with_the_tool_calls(workspace: Path) -> None:
    with OfflineOllama(MathxSolver(workspace)) as server:
        run(workspace, server, "gpt-oss:20b")
        assistant = [m for m in server.requests[1].messages if m["role"] == "assistant"]
    assert assistant[0]["thinking"] == "The package is missing; write it."
    assert assistant[0]["tool_calls"][0]["function"]["name"] == "write_file"
    tool = next(m for m in server.requests[1].messages if m["role"] == "tool")
    assert tool["tool_name"] == "write_file"


def test_a_model_without_tools_works_through_the_json_protocol(workspace: Path) -> None:
    with OfflineOllama(MathxSolver(workspace), [GEMMA]) as server:
        result = run(workspace, server, GEMMA.name)
        requests = list(server.requests)
    assert result.code == 0, result.err
    assert "no tool-calling capability; using the JSON protocol" in result.err
    assert all(r.tools is None and r.format["required"] == ["tool", "args"] for r in requests)
    assert all(r.messages[1]["content"].startswith("Reply with exactly one JSON object")
               for r in requests)


def test_400_does_not_support_tools_switches_to_json_once(workspace: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETBOX_PROTOCOL", "tools")
    with OfflineOllama(MathxSolver(workspace), [GEMMA]) as server:
        result = run(workspace, server, GEMMA.name)
    assert result.code == 0, result.err
    assert result.err.count("does not support tools; switching to the JSON protocol") == 1


def test_calls_leaked_into_content_are_recovered(workspace: Path) -> None:
    with OfflineOllama(MathxSolver(workspace), [LEAKY]) as server:
        result = run(workspace, server, LEAKY.name)
    assert result.code == 0, result.err
    replies = [r for r in ledger(workspace) if r["kind"] == "model_reply"]
    assert all(r["recovered"] and "```json" in r["content"] for r in replies)


@pytest.mark.parametrize("text, expected", [
    ('{"name": "read_file", "arguments": {"path": "a.py"}}', [("read_file", {"path": "a.py"})]),
    ('Sure!\n```json\n{"tool": "list_dir", "args": {"path": "."}}\n```', [("list_dir",
                                                                          {"path": "."})]),
    ('[{"name": "finish", "arguments": {"summary": "x"}}]', [("finish", {"summary": "x"})]),
    ('{"function": {"name": "functions.run_cmd", "arguments": {"cmd": ["pytest"]}}}',
     [("run_cmd", {"cmd": ["pytest"]})]),
    ('I would call {"name": "rm_rf", "arguments": {}} but will not', []),
    ('{"name": "read_file", "arguments": "{\\"path\\": \\"a.py\\"}"}',
     [("read_file", {"path": "a.py"})]),  # a JSON string of arguments is read
    ("no json here", []),
])
def test_recovering_calls_from_text(text: str, expected: list) -> None:
    from jetbox.model.protocol import calls_from_text
    from jetbox.tools.schemas import TOOL_NAMES

    assert [(c.name, c.arguments) for c in calls_from_text(text, TOOL_NAMES)] == expected


def test_unreachable_server_is_exit_4_with_a_clear_message(workspace: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for protocol in ("auto", "tools"):  # /api/show (ConnectionError), stream (httpx error)
        monkeypatch.setenv("JETBOX_PROTOCOL", protocol)
        result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host",
                         "http://127.0.0.1:9", "--sandbox", "none")
        assert result.code == 4
        assert "cannot reach Ollama at http://127.0.0.1:9 (connection refused); start it " \
            "with `ollama serve`" in result.err
        assert "Traceback" not in result.err
    # Asked before the baseline probe now (tests/test_checks_first.py): the run starts there.
    assert status_fields(workspace)["State"] == "Probe"


def test_missing_model_names_the_pull_command(workspace: Path) -> None:
    with OfflineOllama(MathxSolver(workspace)) as server:
        result = run(workspace, server, "llama3.2:3b")
    assert result.code == 4
    assert "model `llama3.2:3b` is not available" in result.err
    assert "ollama pull llama3.2:3b" in result.err


@pytest.mark.parametrize("failure", [
    Turn(http_status=503, error="server busy, please try again.  maximum pending requests "
                                "exceeded"),
    Turn(http_status=500, error="error parsing tool call: raw='{bad', err=unexpected end"),
    Turn(content="partial answer that breaks", stream_error=True, error="model runner crashed"),
    Turn(content="half of this line", partial_line=True),
    Turn(non_json_body=True),
], ids=["503-busy", "500-tool-parse", "mid-stream-error", "half-a-json-line", "non-json-200"])
def test_transient_failures_are_retried_then_succeed(workspace: Path, failure: Turn) -> None:
    solver = MathxSolver(workspace)
    failures = iter([failure, failure])
    with OfflineOllama(lambda r: next(failures, None) or solver(r)) as server:
        result = run(workspace, server, "gpt-oss:20b")
    assert result.code == 0, result.err
    assert result.err.count("retrying in") == 2


def test_failures_past_the_retry_bound_pause_with_exit_4(workspace: Path) -> None:
    busy = Turn(http_status=503, error="server busy, please try again.")
    with OfflineOllama(lambda r: busy) as server:
        result = run(workspace, server, "gpt-oss:20b")
        assert len(server.requests) == 4  # one try and three retries
    assert result.code == 4 and "failed 4 times" in result.err
    assert status_fields(workspace)["State"] == "Ask"


def test_a_server_that_stops_answering_times_out_instead_of_hanging(
        workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETBOX_REQUEST_TIMEOUT_S", "0.3")
    monkeypatch.setenv("JETBOX_RETRIES", "1")
    with OfflineOllama(lambda r: Turn(delay_s=30)) as server:
        result = run(workspace, server, "gpt-oss:20b")
    assert result.code == 4
    assert "no complete reply from Ollama" in result.err and "within 0.3 s" in result.err


def test_malformed_calls_go_back_to_the_model_and_a_streak_pauses_red(workspace: Path) -> None:
    bad = [Turn(calls=(Call("delete_everything", {}),)),
           Turn(calls=(Call("write_file", {"path": "x.py"}),)),
           Turn(calls=(Call("read_file", {"path": "a.py", "mode": "rb"}),)),
           Turn(calls=(Call("run_cmd", {"cmd": 42}),)),
           Turn(calls=(Call("list_dir", {"path": 3}),))]
    with OfflineOllama(ScriptResponder(bad), [QWEN]) as server:
        result = run(workspace, server, QWEN.name)
        second = json.dumps(server.requests[1].messages)
    assert result.code == 3
    assert "unknown tool 'delete_everything'" in second
    assert status_fields(workspace)["Status"].startswith("red - paused: 5 refused or malformed")
    assert "Traceback" not in result.err


def test_native_arguments_that_do_not_parse_are_told_to_the_model_then_pause(
        workspace: Path) -> None:
    # Arguments sent as a string that is no object: read (not rejected by the client and
    # retried in silence); the model hears why each time, and the malformed streak pauses.
    with OfflineOllama(lambda r: Turn(calls=(Call("read_file", "not an object"),))) as server:
        result = run(workspace, server, "gpt-oss:20b")
        second = json.dumps(server.requests[1].messages)
    assert result.code == 3
    assert "arguments of your read_file call could not be read" in second
    assert "retrying" not in result.err and "Traceback" not in result.err
    assert status_fields(workspace)["Status"].startswith("red - paused: 5 refused or malformed")


def test_a_prompt_near_num_ctx_is_warned_about(workspace: Path) -> None:
    solver = MathxSolver(workspace)

    def huge_prompt(request):  # noqa: ANN001, ANN202
        turn = solver(request)
        return Turn(turn.content, turn.thinking, turn.calls, prompt_tokens=8000)

    with OfflineOllama(huge_prompt) as server:
        result = run(workspace, server, "gpt-oss:20b")
    assert result.code == 0
    assert result.err.count("the prompt used 8000 of num_ctx=8192 tokens") == 1


def test_agent_log_records_the_model_timings(workspace: Path) -> None:
    with OfflineOllama(MathxSolver(workspace)) as server:
        run(workspace, server, "gpt-oss:20b")
    log = (workspace / "agent.log").read_text(encoding="utf-8")
    assert log.count("gpt-oss:20b replied in") == 4
    assert "first token" in log and "tokens in" in log


def test_deeply_nested_text_is_not_a_call_and_not_a_crash() -> None:
    from jetbox.model.protocol import calls_from_text
    from jetbox.tools.schemas import TOOL_NAMES

    assert calls_from_text('{"a":' * 100_000, TOOL_NAMES) == ()
