"""Done: the goal is met and verified; say so and summarise the whole run."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from jetbox.metrics import RunMetrics
from states.base import Handler

if TYPE_CHECKING:
    from jetbox.run import Run


class Done(Handler):
    """Reads: the probe report, the ledger of this run.
    Writes: status `Status: green`, a `run_end` record with the run's metrics, a summary."""

    outcomes = ()

    def run(self, run: Run) -> None:
        checks = run.verdict().line
        run.status = run.status.with_(status=f"green - done: {checks}", next=(), active=())
        metrics = RunMetrics.from_records(run.ledger.current_run(), time.time())
        last = run.ledger.last(["run_end", "run_start", "resume"])
        if last is None or last["kind"] != "run_end":
            run.ledger.append("run_end", outcome="done", round=run.round, tests=checks,
                              metrics=metrics.__dict__ | {"files_written":
                                                          list(metrics.files_written)})
        run.event(f"done in round {run.round}: {checks}")
        run.event(f"run summary: {metrics.line()}")
