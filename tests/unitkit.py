"""What the handler unit tests build a run from: a ledger holding given records, a round with
a probe report made of data, and the real services around them. No subprocess, no server:
a probe report is data, and the model, when one is asked, is jetbox.model.base.ScriptedModel."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from jetbox.core.display import Display, open_log
from jetbox.model.base import Model, ScriptedModel
from jetbox.probes.runner import CheckResult, Prober, ProbeReport
from jetbox.probes.verdict import baseline_of, judge
from jetbox.round.context import compact
from jetbox.round.run import Round, Run
from jetbox.spec.compaction import CompactionPolicy
from jetbox.spec.config import Settings
from jetbox.spec.machine import PACKAGED_MACHINE, load_machine
from jetbox.store.kinds import ModelReply, Record, RunStart, ToolCall, ToolResult, from_body
from jetbox.store.ledger import Ledger
from jetbox.store.status import Status, StatusFile
from jetbox.store.workspace import Workspace
from jetbox.tools.toolbox import Toolbox

GOAL = "fix the parser"


def no_model() -> Model:
    raise AssertionError("this handler must not ask the model")


def make_run(folder: Path, records: Iterable[Record | Mapping[str, Any]] = (),
             model: Callable[[], Model] = no_model, **settings: Any) -> Run:
    """A run in `folder` whose ledger holds `records` (a record, or its JSON body as a
    ledger line holds it: a dict with its `kind`)."""
    folder.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(folder / "agent_ledger.log", fsync=False)
    for record in records:
        ledger.append(record if isinstance(record, Record) else from_body(record))
    return Run(Settings(**settings), Workspace.at(folder), load_machine(PACKAGED_MACHINE),
               ledger, StatusFile(folder / "status.txt"), Toolbox(folder, ledger),
               Prober(folder, ()), Display(open_log(folder / "agent.log"), io.StringIO(),
                                           quiet=True),
               model, CompactionPolicy())


def scripted(*replies: ModelReply) -> Callable[[], Model]:
    model = ScriptedModel(replies)
    return lambda: model


def report(failing: Sequence[str] = (), passing: Sequence[str] = ("t.py::test_ok",),
           findings: Sequence[str] = ()) -> ProbeReport:
    """A probe report as ruff and pytest would give it, made of data."""
    outcomes = {**{t: "passed" for t in passing}, **{t: "failed" for t in failing}}
    ruff = CheckResult("ruff", not findings, f"{len(findings)} findings", "\n".join(findings),
                       1 if findings else 0, False, 0.1, {}, findings=tuple(findings),
                       parser="ruff")
    details = "\n".join(f"FAILED {t} - assert 1 == 2" for t in failing)
    pytest = CheckResult("pytest", not failing, f"{len(failing)} failed", details,
                         1 if failing else 0,
                         False, 0.2, {"failed": len(failing), "passed": len(passing)},
                         outcomes=outcomes, parser="pytest")
    return ProbeReport(files=("t.py",), checks=(ruff, pytest), fingerprint="f")


def round_at(state: str, round_no: int = 1, probes: ProbeReport | None = None,
             run: Run | None = None, **status: Any) -> Round:
    """A round at `state`. With `probes`, judged as Probe would (the first report is the
    baseline); with a `run` too, it also has the conversation Compact would have built."""
    now = Round(Status(goal=GOAL, state=state, round=round_no, **status))
    if probes is None:
        return now
    now = replace(now, report=probes, verdict=judge(probes, baseline_of(probes), (), GOAL))
    return now if run is None else replace(now, conversation=compact(run, now))


def kinds(run: Run) -> list[str]:
    return [r.kind for r in run.records()]


def reply(*calls: tuple[str, dict[str, Any]], round_no: int = 1) -> ModelReply:
    """A `model_reply` record making these calls."""
    return ModelReply(round=round_no, calls=tuple(ToolCall(n, a) for n, a in calls))


def result(name: str, ok: bool = True, round_no: int = 1, index: int = 0,
           output: str = "ok", **fields: Any) -> ToolResult:
    """A `tool_result` record."""
    return ToolResult(name, ok, output, round=round_no, index=index, **fields)


START = RunStart(goal=GOAL, machine="machine.yaml", python="")
