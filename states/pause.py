"""Pause: a guard stopped the run for a person; the next `jetbox run` continues from here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from states.base import Handler

if TYPE_CHECKING:
    from jetbox.run import Run


class Pause(Handler):
    """Reached during a run (Reflect's `stuck`), the engine ends the invocation there with
    exit 3 and a red status naming the guard (machine.yaml `pause: true`). Resumed into, it
    hands the run back to the loop: the guards count from the resume, and the model is told
    why it was stopped (context.notices).
    Reads: the newest `paused` record. Writes: an event; the outcome `resumed`."""

    outcomes = ("resumed",)

    def run(self, run: Run) -> str:
        paused = run.ledger.last(["paused"])
        reason = paused["reason"] if paused else "a guard"
        run.event(f"continuing after the pause ({reason})")
        return "resumed"
