"""Persist: close the round with a summary in the ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetbox.round.handler import Handler, Step
from jetbox.store import kinds as k

if TYPE_CHECKING:
    from jetbox.round.run import Round, Run


class Persist(Handler):
    """Reads: the round's status. Returns: the round unchanged.
    Writes: a `round` record. status.txt has one writer, the engine, which saves the round's
    status on every transition (so it was saved entering this state and is again leaving it)."""

    outcomes = ("persisted",)
    reads = ("status",)
    writes = ()
    appends = (k.RoundEnd.KIND,)

    def run(self, run: Run, now: Round) -> Step:
        run.ledger.append(k.RoundEnd(round=now.round, status=now.status.status,
                                     next=list(now.status.next)))
        return "persisted", now
