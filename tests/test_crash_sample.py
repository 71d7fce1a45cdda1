"""The crash matrix, sampled for the quick tier: kill -9 at one failpoint drawn from the
whole matrix (every transition and every ledger append; tests/test_crash.py runs all of it
in the slow tier and CI), then resume; the run ends as an uninterrupted one does. The draw
changes daily; JETBOX_CRASH_SEED repeats one, and a failure names its seed and failpoint."""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import pytest

from jetbox.offline import OfflineOllama, ScriptResponder
from tests.crashkit import Outcome, jetbox, outcome
from tests.enginekit import machine_file, project
from tests.test_engine_inprocess import FINISH, WRITE

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX SIGKILL")

GOAL = "Write hello.py with greet(name)"
# With the data probes a run is three rounds and Done: write, finish, the finish verified;
# an uninterrupted one appends 35 ledger records, the last of them at its end.
STATES = ["Probe", "Compact", "Plan", "Ask", "Calls", "Reflect", "Persist"]
SEED = int(os.environ.get("JETBOX_CRASH_SEED", str(int(time.time()) // 86400)))
DRAW = random.Random(SEED)
MATRIX = [f"kill:before:{state}#2" for state in STATES] + \
    [f"kill:ledger#{n}" for n in range(1, 34)]
SAMPLE = DRAW.choice(MATRIX)


def killed_and_resumed(workspace: Path, machine: Path, failpoint: str | None) -> Outcome:
    """A `jetbox run` child killed at `failpoint`, then resumed until it ends."""
    kills = 0
    with OfflineOllama(ScriptResponder([WRITE, FINISH])) as server:
        code = jetbox(workspace, server.host, failpoint, GOAL, machine=machine)
        kills += code == -9
        for _ in range(3):
            if code == 0:
                break
            code = jetbox(workspace, server.host, None, None, machine=machine)
        assert len(server.requests) == 2, "a journaled reply was asked again"
    return outcome(workspace, kills)


def test_a_kill_at_a_sampled_failpoint_resumes_to_the_uninterrupted_end(
        workspace: Path, tmp_path: Path) -> None:
    label = f"JETBOX_CRASH_SEED={SEED} {SAMPLE}"
    print(label)
    result = killed_and_resumed(project(workspace), machine_file(tmp_path / "machine"),
                                SAMPLE)
    assert result.kills == 1, f"{label}: the run was not killed there"
    assert result.state == "Done", label
    assert set(result.files) == {"hello.py", "test_hello.py"}, label
    assert [path for path, _ in result.writes] == ["hello.py"], f"{label}: written twice"
    assert result.replies == 2 and result.reply_rounds == (1, 2), label
