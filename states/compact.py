"""Compact: rebuild the model's small context from real state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetbox.context import build_messages
from states.base import Handler

if TYPE_CHECKING:
    from jetbox.run import Run


class Compact(Handler):
    """Reads: status, ledger recap, probe report, last tool results.
    Writes: run.messages (the next request)."""

    outcomes = ("compacted",)

    def run(self, run: Run) -> str:
        run.messages = build_messages(run)
        return "compacted"
