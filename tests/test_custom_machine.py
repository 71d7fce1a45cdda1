"""Customising machine.yaml: an extra state with a handler defined here, Reflect removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetbox.offline import OfflineOllama
from jetbox.round.handler import Handler, Step
from jetbox.round.run import Round, Run
from tests.conftest import MATHX_GOAL, run_cli, status_fields

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

CELEBRATED: list[int] = []


class Celebrate(Handler):
    """Reads: the round number. Writes: a `celebrate` ledger record and a status note."""

    outcomes = ("cheered",)

    def run(self, run: Run, now: Round) -> Step:
        CELEBRATED.append(now.round)
        run.ledger.append("celebrate", round=now.round)
        return "cheered", now.with_status(notes=(*now.status.notes,
                                                 f"cheered in round {now.round}"))


def custom_machine(folder: Path) -> Path:
    text = f"""
initial: Probe
states:
  - {{name: Probe, handler: "states.workspace:Probe"}}
  - {{name: Compact, handler: "states.model:Compact"}}
  - {{name: Plan, handler: "states.model:Plan"}}
  - {{name: Ask, handler: "states.model:Ask"}}
  - {{name: Calls, handler: "states.calls:Calls"}}
  - {{name: Celebrate, handler: "{__name__}:Celebrate"}}
  - {{name: Persist, handler: "states.close:Persist"}}
  - {{name: Done, handler: "states.workspace:Done", final: true}}
transitions:
  - {{trigger: probed, source: Probe, dest: Done, conditions: [finish_requested, probes_green]}}
  - {{trigger: probed, source: Probe, dest: Compact}}
  - {{trigger: compacted, source: Compact, dest: Plan}}
  - {{trigger: planned, source: Plan, dest: Ask}}
  - {{trigger: asked, source: Ask, dest: Calls}}
  - {{trigger: acted, source: Calls, dest: Celebrate}}
  - {{trigger: cheered, source: Celebrate, dest: Persist}}
  - {{trigger: persisted, source: Persist, dest: Probe}}
limits: {{max_rounds: 9, timebox_s: 120}}
"""
    path = folder / "custom.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_extra_state_with_own_handler_and_removed_reflect_run_to_done(
        tmp_path: Path, workspace: Path, mathx_server: OfflineOllama) -> None:
    CELEBRATED.clear()
    machine = custom_machine(tmp_path)
    result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                     "--machine", str(machine), "--sandbox", "none")
    assert result.code == 0, result.err
    assert CELEBRATED == [1, 2, 3, 4]
    assert status_fields(workspace)["State"] == "Done"
    ledger = (workspace / "agent_ledger.log").read_text(encoding="utf-8")
    assert '"dest": "Reflect"' not in ledger and '"dest": "Celebrate"' in ledger
    assert "cheered in round 1" in (workspace / "status.txt").read_text(encoding="utf-8")


def test_limits_from_the_custom_machine_apply(tmp_path: Path, workspace: Path,
                                              mathx_server: OfflineOllama) -> None:
    machine = custom_machine(tmp_path)
    machine.write_text(machine.read_text().replace("max_rounds: 9", "max_rounds: 1"))
    result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                     "--machine", str(machine), "--sandbox", "none")
    assert result.code == 3
    assert "round limit: 1 round this session" in status_fields(workspace)["Status"]


class Undeclared(Celebrate):
    """Celebrate, declaring that it changes nothing in the round (it changes the status)."""

    writes = ()
    appends = ("celebrate",)


def test_a_handler_that_changes_what_it_does_not_declare_stops_the_run(
        tmp_path: Path, workspace: Path, mathx_server: OfflineOllama) -> None:
    machine = custom_machine(tmp_path)
    machine.write_text(machine.read_text().replace(":Celebrate", ":Undeclared"))
    result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                     "--machine", str(machine), "--sandbox", "none")
    assert result.code != 0
    assert ("handler of `Celebrate` (Undeclared) changed the round's status but declares "
            "writes=[]") in result.err
    assert status_fields(workspace)["State"] == "Celebrate"  # stopped where it was
