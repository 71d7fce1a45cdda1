"""Persist: write status.txt and a round summary to the ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING

from states.base import Handler

if TYPE_CHECKING:
    from jetbox.run import Run


class Persist(Handler):
    """Reads: run.status. Writes: status.txt (atomically) and a `round` ledger record."""

    outcomes = ("persisted",)

    def run(self, run: Run) -> str:
        run.status_file.write(run.status)
        run.ledger.append("round", round=run.round, status=run.status.status,
                          next=list(run.status.next))
        return "persisted"
