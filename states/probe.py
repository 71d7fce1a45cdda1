"""Probe: establish the real state of the workspace, without the model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from states.base import Handler

if TYPE_CHECKING:
    from jetbox.run import Run


class Probe(Handler):
    """Reads: the workspace (files, ruff, pytest), the ledger's latest finish request.
    Writes: run.report; a `probe` ledger record; `protected_removed` when the probes
    created .git, machine.yaml, ... (the prober removed them); `finish_refused` when the
    model asked to finish while the probes are red. Done is reached only through the `probed`
    transition guarded by `finish_requested` and `probes_green`."""

    outcomes = ("probed",)

    def run(self, run: Run) -> str:
        report = run.prober.run(run.report)
        run.report = report
        failures = sum(c.counts.get("failed", 0) + c.counts.get("errors", 0)
                       + (0 if c.ok else 1) for c in report.checks)
        run.ledger.append("probe", round=run.round, green=report.green, reused=report.reused,
                          failures=failures, checks=[c.summary for c in report.checks],
                          subprocesses=run.prober.runs)
        if run.prober.removed:
            run.ledger.append("protected_removed", names=run.prober.removed, round=run.round,
                              by="probes")
        run.event(("reused: " if report.reused else "") +
                  "; ".join(c.summary for c in report.checks))
        if run.finish_requested() and not report.green:
            reasons = report.red_reasons()
            run.ledger.append("finish_refused", round=run.round, reasons=reasons)
            run.event("finish refused: " + "; ".join(reasons))
        return "probed"
