"""Killing the process in every state: the next run resumes at exactly that state, or, for a
state that reads what only its round's earlier handlers make (Compact, Plan, and Ask before
its reply is journaled), at that round's start."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from jetbox.offline import OfflineOllama
from tests.conftest import MATHX_GOAL, jetbox_process, status_fields

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

STATES = ["Probe", "Compact", "Plan", "Ask", "Calls", "Reflect", "Persist", "Done"]
# Killed before their handler runs, these resume at Probe of the same round.
FROM_THE_START = ("Compact", "Plan", "Ask")


def kill_when_held(workspace: Path, host: str, point: str) -> None:
    """Run until the failpoint parks the process, then SIGKILL it: no cleanup runs."""
    proc = jetbox_process("run", MATHX_GOAL, "-w", str(workspace), "--host", host,
                          "--sandbox", "none", env={"JETBOX_FAILPOINT": f"hold:{point}"})
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("[failpoint] holding"):
            break
    else:
        proc.wait(10)
        pytest.fail(f"never reached {point}; exit {proc.returncode}:\n{''.join(seen)}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.skipif(sys.platform == "win32",
                    reason="SIGKILL is POSIX; Windows uses TerminateProcess")
@pytest.mark.parametrize("state", STATES)
def test_killed_in_a_state_resumes_there_and_reaches_done(state: str, workspace: Path,
                                                          mathx_server: OfflineOllama) -> None:
    # Round 2 for the looping states, so the kill lands mid-run with work already done.
    point = f"before:{state}" + ("" if state in ("Done",) else "#2")
    kill_when_held(workspace, mathx_server.host, point)
    assert status_fields(workspace)["State"] == state
    round_before = int(status_fields(workspace)["Round"])

    resumed = jetbox_process("run", "-w", str(workspace), "--host", mathx_server.host,
                             "--sandbox", "none")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    entered = "Probe" if state in FROM_THE_START else state
    assert f"resuming at {entered}, round {round_before}" in err
    if entered != state:
        assert f"status.txt stood at {state}" in err
    assert status_fields(workspace)["State"] == "Done"
    records = [json.loads(line) for line in
               (workspace / "agent_ledger.log").read_text(encoding="utf-8").splitlines()]
    resume = next(r for r in records if r["kind"] == "resume")
    assert (resume["state"], resume["round"]) == (entered, round_before)
    assert resume.get("instead_of") == (state if entered != state else None)
    # The transition right after the resume leaves the state it entered.
    after = [r for r in records if r["seq"] > resume["seq"] and r["kind"] == "transition"]
    if state != "Done":
        assert after[0]["source"] == entered


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT to a child process")
def test_ctrl_c_saves_the_state_and_exits_130(workspace: Path,
                                              mathx_server: OfflineOllama) -> None:
    proc = jetbox_process("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                          "--sandbox", "none", env={"JETBOX_FAILPOINT": "hold:before:Reflect"})
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("[failpoint]"):
            break
    proc.send_signal(signal.SIGINT)
    proc.wait(20)
    assert proc.returncode == 130
    fields = status_fields(workspace)
    assert fields["State"] == "Reflect" and fields["Status"].startswith("yellow - interrupted")
    resumed = jetbox_process("run", "-w", str(workspace), "--host", mathx_server.host,
                             "--sandbox", "none")
    assert resumed.wait(120) == 0
