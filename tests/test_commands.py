"""`jetbox diag` and `jetbox demo`, run as a person would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetbox.offline import Call, ChatRequest, FakeModel, OfflineOllama, ScriptResponder, Turn
from tests.conftest import run_cli

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow


def diag_model(request: ChatRequest) -> Turn:
    """`ready` to the timed chats; a native list_dir call to the chats with tools."""
    return Turn(calls=(Call("list_dir", {"path": "."}),)) if request.tools else \
        Turn(content="ready")


def test_diag_reports_server_model_and_timings() -> None:
    with OfflineOllama(diag_model) as server:
        table = run_cli("diag", "--host", server.host, "-n", "2")
        as_json = run_cli("diag", "--host", server.host, "-n", "1", "--json")
    assert table.code == 0, table.err
    assert "(Jetbox offline server, not a real Ollama; it speaks Ollama 0.12.3's API)" \
        in table.out and "context length 131072" in table.out
    for metric in ("load_s", "first_token_s", "prompt_tokens_per_s",
                   "generation_tokens_per_s", "total_s"):
        assert metric in table.out
    assert "min" in table.out and "median" in table.out
    report = json.loads(as_json.out)
    assert report["capabilities"] == ["completion", "tools", "thinking"]
    assert report["server"] == "Jetbox offline server"
    assert report["summary"]["generation_tokens_per_s"]["median"] > 0
    assert "calls    native 2/2" in table.out
    assert report["calls"] == [{"delivery": "native", "calls": ["list_dir"], "problem": ""}]


@pytest.mark.parametrize("turn, expected", [
    (Turn(calls=(Call("list_dir", {"path": "."}),), dialect="qwen-xml"),
     "calls    qwen-xml in content 1/1"),
    (Turn(calls=(Call("list_dir", {"path": "."}),), dialect="gpt-oss-harmony-thinking"),
     "told the model: The call to list_dir inside your reasoning"),  # never run (issue 30)
    (Turn(content="<think>{\"name\": \"list_dir\", \"arguments\": {}}</think>"),
     "told the model: The call to list_dir inside your reasoning"),
], ids=["leaked-qwen-xml", "harmony-in-thinking", "drafted-in-reasoning"])
def test_diag_says_how_the_model_delivered_its_calls(turn: Turn, expected: str) -> None:
    def habit(request: ChatRequest) -> Turn:
        return turn if request.tools else Turn(content="ready")

    with OfflineOllama(habit) as server:
        table = run_cli("diag", "--host", server.host, "-n", "1")
    assert table.code == 0, table.err
    assert expected in table.out


def test_diag_names_what_is_missing() -> None:
    down = run_cli("diag", "--host", "http://127.0.0.1:9")
    assert down.code == 4 and "cannot reach Ollama at http://127.0.0.1:9" in down.err
    with OfflineOllama(ScriptResponder([]), [FakeModel("qwen3:8b")]) as server:
        missing = run_cli("diag", "--host", server.host, "--model", "gpt-oss:20b")
    assert missing.code == 4
    assert "it has: qwen3:8b" in missing.err and "ollama pull gpt-oss:20b" in missing.err


def test_demo_kills_and_resumes_a_real_run_offline(tmp_path: Path) -> None:
    result = run_cli("demo", "--workspace", str(tmp_path / "demo"))
    assert result.code == 0, result.out + result.err
    assert "killed Jetbox (kill -9)" in result.out and "State: Ask" in result.out
    # Ask reads what the round's Probe and Compact make: the resume starts round 2 again.
    assert "resuming at Probe, round 2" in result.out and "status.txt stood at Ask" in result.out
    assert "done in round" in result.out
    assert (tmp_path / "demo" / "mathx" / "__init__.py").is_file()
    assert "status.txt" in result.out.splitlines()[-4]
