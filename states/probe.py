"""Probe: establish the real state of the workspace, without the model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetbox.verdict import Baseline
from states.base import Handler

if TYPE_CHECKING:
    from jetbox.run import Run


class Probe(Handler):
    """Reads: the workspace (files, ruff, pytest), the ledger's latest finish request and
    whether anything was written or run since the last probe.
    Writes: run.report; a `baseline` ledger record at the run's first probe; a `probe`
    record with the verdict against that baseline; `protected_removed` when the probes
    created .git, machine.yaml, ... (the prober removed them); `finish_refused` when the
    model asked to finish and the verdict says no. Done is reached only through the `probed`
    transition guarded by `finish_requested` and `probes_green`."""

    outcomes = ("probed",)

    def run(self, run: Run) -> str:
        finishing = run.finish_requested()
        # Results are reused only in a round with no action, and never to verify a finish.
        report = run.prober.run(run.report, reuse=not finishing and not run.acted_since_probe())
        run.report = report
        if run.ledger.last(["baseline"]) is None:
            run.ledger.append("baseline", round=run.round, **Baseline.of(report).to_record())
        verdict = run.verdict()
        failures = sum(c.counts.get("failed", 0) + c.counts.get("errors", 0)
                       + (0 if c.ok else 1) for c in report.checks)
        run.ledger.append("probe", round=run.round, green=verdict.ok, reused=report.reused,
                          failures=failures, checks=[c.summary for c in report.checks],
                          verdict=verdict.line, subprocesses=run.prober.runs)
        if run.prober.removed:
            run.ledger.append("protected_removed", names=run.prober.removed, round=run.round,
                              by="probes")
        run.event(("reused: " if report.reused else "") + verdict.line)
        if finishing and not verdict.ok:
            run.ledger.append("finish_refused", round=run.round, reasons=list(verdict.blockers))
            run.event("finish refused: " + "; ".join(verdict.blockers))
        return "probed"
