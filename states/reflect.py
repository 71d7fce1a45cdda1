"""Reflect: compare what was planned with what happened; set the Status colour."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetbox.context import last_results
from states.base import Handler

if TYPE_CHECKING:
    from jetbox.run import Run


class Reflect(Handler):
    """Reads: the last tool results (from the ledger), the probe report.
    Writes: status `Status:` (green/yellow/red + reason) and `Active:`."""

    outcomes = ("reflected",)

    def run(self, run: Run) -> str:
        results = last_results(run)
        failed = [r for r in results if not r.get("ok")]
        names = [r["name"] for r in results]
        if not results:
            status = "yellow - no tool result this round"
        elif failed:
            status = f"yellow - {len(failed)} of {len(results)} calls failed or were refused"
        elif "finish" in names:
            status = "green - finish requested; verifying"
        else:
            status = f"green - {len(results)} calls ok"
        run.status = run.status.with_(status=status, active=tuple(names[-3:]))
        return "reflected"
