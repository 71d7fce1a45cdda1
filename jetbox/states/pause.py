"""Pause: a guard stopped the run for a person; the next `jetbox run` continues from here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetbox.round.handler import Handler, Step
from jetbox.store import kinds as k
from jetbox.store import records as rec

if TYPE_CHECKING:
    from jetbox.round.run import Round, Run


class Pause(Handler):
    """Reached during a run (Reflect's `stuck`), the engine ends the invocation there with
    exit 3 and a red status naming the guard (machine.yaml `pause: true`). Resumed into, it
    hands the run back to the loop: the guards count from the resume, and the model is told
    why it was stopped (context.notices).
    Reads: the newest `paused` record. Returns: the round unchanged, outcome `resumed`."""

    outcomes = ("resumed",)
    writes = ()
    appends = ()

    def run(self, run: Run, now: Round) -> Step:
        paused = rec.last_of(run.records(), k.Paused)
        run.event(now, f"continuing after the pause ({paused.reason if paused else 'a guard'})")
        return "resumed", now
