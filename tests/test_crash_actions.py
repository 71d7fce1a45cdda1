"""Kill -9 during an action and resume: an edit is applied exactly once, a command re-run
only when its intent says it may be, never asked of the model again."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from tests.crashkit import jetbox

# Applied twice, this edit would leave `count = 111`: a repeat cannot go unnoticed.
EDIT = Call("edit_file", {"path": "app.py", "old": "count = 1", "new": "count = 11"})
FINISH = Call("finish", {"summary": "count is 11"})
GOAL = "Set count to 11 in app.py"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("point", ["kill:intent", "kill:applied"])
def test_a_kill_during_edit_file_applies_the_edit_exactly_once(point: str,
                                                               workspace: Path) -> None:
    (workspace / "app.py").write_text("count = 1\nprint(count)\n")
    with OfflineOllama(ScriptResponder([Turn(calls=(EDIT,)), Turn(calls=(FINISH,))])) as server:
        assert jetbox(workspace, server.host, point, GOAL) == -9
        assert jetbox(workspace, server.host, None, None) == 0
        assert len(server.requests) == 2  # the journaled edit was finished, not asked again
    assert (workspace / "app.py").read_text() == "count = 11\nprint(count)\n"
    records = [json.loads(line) for line in
               (workspace / "agent_ledger.log").read_text().splitlines()]
    intents = [r for r in records if r["kind"] == "intent"]
    results = [r for r in records if r["kind"] == "result"]
    assert len(intents) == 1 and len(results) == 1
    expected = "applied on resume" if point == "kill:intent" else "already applied"
    assert results[0]["recovered"] == expected


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("second", ["kill:ledger#4", "kill:ledger#5"])
def test_a_command_rerun_on_resume_and_killed_again_is_not_asked_again(
        second: str, tmp_path: Path) -> None:
    """Found by bench/crash_survival.py: killed during pytest, killed again on resume (#5:
    during its re-run; #4: after the re-run was journaled, before it began); the next resume
    must re-run it again, not report an unknown outcome (which made the model ask for it
    once more). The resumed process appends: resume, lock_taken_over, files_changed (what
    the killed command changed), result (re-run), the re-run's intent."""
    from tests.crashkit import crash_and_resume

    reference = crash_and_resume(tmp_path / "reference", [])
    result = crash_and_resume(tmp_path / "killed", ["kill:ledger#38", second,
                                                    "kill:ledger#60"])
    assert result.kills >= 2
    assert result.state == "Done" and result.files == reference.files
    assert result.replies == reference.replies
