"""Before any work, the server and the model: a run with no server or no model stops
before its baseline probe, eval says why nothing could run, and diag and eval check the
model and server `run` would use (JETBOX_* over OLLAMA_*, [tool.jetbox])."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from jetbox.offline import Call, FakeModel, OfflineOllama, ScriptResponder, Turn
from jetbox.offline.solvers import MathxSolver
from jetbox.store.ledger import Ledger
from tests.conftest import MATHX_GOAL, run_cli, status_fields


def kinds(workspace: Path) -> list[str]:
    return [r.kind for r in Ledger(workspace / "agent_ledger.log").records()]


def test_no_server_stops_the_run_before_its_baseline_probe(workspace: Path) -> None:
    result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", "http://127.0.0.1:9",
                     "--sandbox", "none")
    assert result.code == 4
    assert "cannot reach Ollama at http://127.0.0.1:9" in result.err
    assert "probe" not in kinds(workspace) and "ruff:" not in result.err
    assert status_fields(workspace)["State"] == "Probe"  # the next run starts there
    assert status_fields(workspace)["Status"].startswith("yellow - waiting for the model")


def test_a_missing_model_stops_the_run_before_its_baseline_probe(workspace: Path) -> None:
    with OfflineOllama(ScriptResponder([]), [FakeModel("qwen3:8b")]) as server:
        result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", server.host,
                         "--sandbox", "none")
        assert server.requests == []  # no chat was sent
    assert result.code == 4
    assert "model `gpt-oss:20b` is not available" in result.err
    assert "it has: qwen3:8b" in result.err and "ollama pull gpt-oss:20b" in result.err
    assert "probe" not in kinds(workspace)


@pytest.mark.slow  # a whole run with real ruff and pytest
def test_jetbox_variables_beat_ollama_ones_in_a_run(workspace: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with OfflineOllama(MathxSolver(workspace)) as server:
        monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")  # nothing there
        monkeypatch.setenv("JETBOX_HOST", server.host)
        monkeypatch.setenv("OLLAMA_MODEL", "not-pulled:1b")
        monkeypatch.setenv("JETBOX_MODEL", "gpt-oss:20b")
        result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--sandbox", "none")
    assert result.code == 0, result.err


def test_diag_checks_what_run_would_use(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    ready = ScriptResponder([Turn(content="ready")] * 2
                            + [Turn(calls=(Call("list_dir", {"path": "."}),))] * 2)
    with OfflineOllama(ready, [FakeModel("qwen3:8b")]) as server:
        (tmp_path / "pyproject.toml").write_text(
            f"[tool.jetbox]\nmodel = 'qwen3:8b'\nhost = '{server.host}'\n")
        monkeypatch.chdir(tmp_path)
        table = run_cli("diag", "-n", "1")
        assert table.code == 0, table.err
        assert "model    qwen3:8b" in table.out and server.host in table.out
        monkeypatch.setenv("JETBOX_MODEL", "other:1b")  # the environment beats the project
        monkeypatch.setenv("OLLAMA_MODEL", "qwen3:8b")  # and JETBOX_ beats OLLAMA_
        other = run_cli("diag", "-n", "1")
    assert other.code == 4 and "model `other:1b` is not available" in other.err


def test_eval_with_no_server_says_so_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_cli("eval", "--host", "127.0.0.1:1", "--results", str(tmp_path / "r"))
    assert result.code == 4
    assert "cannot reach Ollama at http://127.0.0.1:1" in result.err
    assert time.monotonic() - started < 20  # no task ran
    assert not (tmp_path / "r" / "summary.json").exists()


def test_eval_reads_the_host_from_tool_jetbox(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.jetbox]\nhost = '127.0.0.1:1'\n")
    monkeypatch.chdir(tmp_path)
    result = run_cli("eval", "--results", str(tmp_path / "r"))
    assert result.code == 4 and "cannot reach Ollama at http://127.0.0.1:1" in result.err


def test_eval_exits_non_zero_when_no_task_could_run(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "one.yaml").write_text("goal: Say hello\noffline_script:\n"
                                    "  - finish: {summary: hi}\n")
    result = run_cli("eval", str(suite), "--offline", "--timebox", "-1",
                     "--results", str(tmp_path / "r"))
    assert result.code == 2, result.out + result.err
    assert "no task could run" in result.err and "timebox_s" in result.err
