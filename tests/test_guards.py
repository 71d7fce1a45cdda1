"""A guard pause is a red status, not a trap: the next run continues and can finish."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from tests.conftest import run_cli, status_fields

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

LOOK = Turn(calls=(Call("list_dir", {"path": "."}),))
WRITE = Turn(calls=(Call("write_file", {"path": "tool.py", "content": "print('hi')\n"}),))
FINISH = Turn(calls=(Call("finish", {"summary": "done"}),))


def test_a_loop_paused_run_resumes_hears_why_and_finishes(workspace: Path) -> None:
    with OfflineOllama(ScriptResponder([LOOK] * 4)) as server:
        first = run_cli("run", "Write tool.py", "-w", str(workspace), "--host", server.host,
                        "--sandbox", "none")
    assert first.code == 3
    assert status_fields(workspace)["Status"].startswith("red - paused: loop")
    status = workspace / "status.txt"
    status.write_text(status.read_text().replace("Notes:", "Notes: just write tool.py", 1))
    with OfflineOllama(ScriptResponder([WRITE, FINISH])) as server:
        second = run_cli("run", "-w", str(workspace), "--host", server.host, "--sandbox", "none")
        prompt = json.dumps(server.requests[0].messages)
    assert second.code == 0, second.err
    assert status_fields(workspace)["State"] == "Done"
    assert "The run was paused (loop: the model made the same call 4 times" in prompt
    assert "just write tool.py" in prompt


def test_a_stall_paused_run_counts_again_from_the_resume(
        workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETBOX_STALL_LIMIT", "2")
    with OfflineOllama(ScriptResponder([LOOK, LOOK])) as server:
        first = run_cli("run", "Write tool.py", "-w", str(workspace), "--host", server.host,
                        "--sandbox", "none")
    assert first.code == 3
    assert "paused: no progress for 2 rounds" in status_fields(workspace)["Status"]
    with OfflineOllama(ScriptResponder([LOOK, WRITE, FINISH])) as server:
        second = run_cli("run", "-w", str(workspace), "--host", server.host, "--sandbox", "none")
    assert second.code == 0, second.err
    assert (workspace / "tool.py").is_file()


def test_the_guards_are_transitions_a_person_can_see_and_edit() -> None:
    drawn = run_cli("graph").out
    assert "Reflect --> Pause: stuck" in drawn and "Pause --> Persist: resumed" in drawn


def test_a_malformed_call_pause_resumes_and_finishes(workspace: Path) -> None:
    bad = [Turn(calls=(Call("rm_rf", {"path": f"/{n}"}),)) for n in range(5)]
    with OfflineOllama(ScriptResponder(bad)) as server:
        first = run_cli("run", "Write tool.py", "-w", str(workspace), "--host", server.host,
                        "--sandbox", "none")
    assert first.code == 3
    fields = status_fields(workspace)
    assert fields["State"] == "Pause"
    assert fields["Status"].startswith("red - paused: 5 refused or malformed tool calls")
    with OfflineOllama(ScriptResponder([WRITE, FINISH])) as server:
        second = run_cli("run", "-w", str(workspace), "--host", server.host, "--sandbox", "none")
    assert second.code == 0, second.err
    assert "continuing after the pause" in second.err
