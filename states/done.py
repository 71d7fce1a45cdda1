"""Done: the goal is met and verified; say so and summarise."""

from __future__ import annotations

from typing import TYPE_CHECKING

from states.base import Handler

if TYPE_CHECKING:
    from jetbox.run import Run


class Done(Handler):
    """Reads: probe report, counters. Writes: status `Status: green`, a `run_end` record."""

    outcomes = ()

    def run(self, run: Run) -> None:
        checks = "; ".join(c.summary for c in run.probe_report().checks)
        run.status = run.status.with_(status=f"green - done: {checks}", next=(), active=())
        last = run.ledger.last(["run_end", "run_start", "resume"])
        if last is None or last["kind"] != "run_end":
            run.ledger.append("run_end", outcome="done", round=run.round)
        run.event(f"done in round {run.round}: {checks}")
