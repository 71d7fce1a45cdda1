"""Done: the goal is met and verified; say so and summarise the whole run."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from jetbox.round.handler import Handler, Step
from jetbox.round.metrics import RunMetrics
from jetbox.store import kinds as k
from jetbox.store import records as rec

if TYPE_CHECKING:
    from jetbox.round.run import Round, Run


class Done(Handler):
    """Reads: the round's probes (probing if this invocation resumed here), the ledger.
    Returns: the round with `Status: green - done: ...`, no outcome (a final state).
    Writes: a `run_end` record with the run's metrics, once; a summary."""

    outcomes = ()
    reads = ("status", "verdict")
    writes = ("status",)
    appends = (k.RunEnd.KIND,)

    def run(self, run: Run, now: Round) -> Step:
        assert now.verdict is not None, "Done follows Probe, or the resume judged the round"
        checks = now.verdict.line
        now = now.with_status(status=f"green - done: {checks}", next=(), active=())
        metrics = RunMetrics.from_records(run.records(), time.time())
        if rec.unanswered(run.records(), rec.RUN_END, rec.RUN_START, rec.RESUME) is None:
            run.ledger.append(k.RunEnd(outcome="done", round=now.round, tests=checks,
                                       metrics=metrics.__dict__ | {"files_written":
                                                                   list(metrics.files_written)}))
        run.event(now, f"done in round {now.round}: {checks}")
        run.event(now, f"run summary: {metrics.line()}")
        return None, now
