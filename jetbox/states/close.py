"""Closing a round: Reflect compares what was planned with what happened and sets the
Status colour; Persist writes the round's summary; Pause is where a guard stops the run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetbox.core.prompts import say
from jetbox.round.context import describe_call
from jetbox.round.handler import Handler, Step
from jetbox.store import kinds, queries

if TYPE_CHECKING:
    from jetbox.round.run import Round, Run
    from jetbox.spec.config import Settings


def stuck_reason(settings: Settings, streak: int, call: str, stalled: int,
                 malformed: int) -> str:
    """Why the run should stop for a person (machine.yaml sends `stuck` to Pause), or ""."""
    if streak >= settings.loop_limit:
        return say("reflect.loop", count=streak, call=call)
    if stalled >= settings.stall_limit:
        return say("reflect.no_progress", rounds=stalled)
    if malformed >= settings.max_tool_errors:
        return say("reflect.malformed", count=malformed)
    return ""


def colour(results: list[kinds.ToolResult], progress: bool, stalled: int, warning: str,
           call: str) -> str:
    """The round's `Status:` line: green, or yellow with why."""
    failed = [r for r in results if not r.ok]
    if "finish" in [r.name for r in results] and not failed:
        return say("status.finish_requested")
    if failed:
        return say("status.calls_failed", failed=len(failed), calls=len(results))
    if warning:
        return say("status.repeating", call=call)
    if stalled > 1:
        return say("status.no_progress", rounds=stalled)
    return say("status.progress" if progress else "status.calls_ok")


class Reflect(Handler):
    """Reads: from the ledger, the last tool results, earlier replies, probes and
    reflections since the resume (a guard counts from there).
    Returns: the round with `Status:` and `Active:` set; outcome `stuck` when a guard
    trips (a loop, no progress, malformed calls), which machine.yaml sends to Pause.
    Writes: a `reflection` record, with a warning the model sees next round."""

    outcomes = ("reflected", "stuck")
    reads = ("status",)
    writes = ("status",)
    appends = (kinds.Reflection.KIND,)

    def run(self, run: Run, now: Round) -> Step:
        whole = run.records()
        records = queries.since_resume(whole)
        results = queries.latest_results(whole)
        streak, first = queries.same_call_streak(records)
        call = describe_call(first.name, first.arguments) if first else ""
        progress = any(r.changed for r in results) or queries.failures_dropped(records)
        # A resume into Reflect (after a pause here) must not count the same round twice.
        stalled = 0 if progress or queries.reflected_in(whole, now.round) else \
            1 + queries.stalled_rounds(records)
        warning = "" if streak < 2 else say("reflect.repeated_call", count=streak, call=call)
        status = colour(results, progress, stalled, warning, call)
        now = now.with_status(status=status, active=tuple(
            describe_call(r.name, r.arguments) for r in results[-3:]))
        guard = stuck_reason(run.settings, streak, call, stalled,
                             queries.malformed_streak(records))
        run.ledger.append(kinds.Reflection(round=now.round, status=status, progress=progress,
                                           stalled=stalled, streak=streak, warning=warning,
                                           guard=guard))
        return ("stuck" if guard else "reflected"), now


class Persist(Handler):
    """Reads: the round's status. Returns: the round unchanged.
    Writes: a `round` record. status.txt has one writer, the engine, which saves the round's
    status on every transition (so it was saved entering this state and is again leaving it)."""

    outcomes = ("persisted",)
    reads = ("status",)
    writes = ()
    appends = (kinds.RoundEnd.KIND,)

    def run(self, run: Run, now: Round) -> Step:
        run.ledger.append(kinds.RoundEnd(round=now.round, status=now.status.status,
                                     next=list(now.status.next)))
        return "persisted", now


class Pause(Handler):
    """Reached during a run (Reflect's `stuck`), the engine ends the invocation there with
    exit 3 and a red status naming the guard (machine.yaml `pause: true`). Resumed into, it
    hands the run back to the loop: the guards count from the resume, and the model is told
    why it was stopped (context.notices).
    Reads: the newest `paused` record. Returns: the round unchanged, outcome `resumed`."""

    outcomes = ("resumed",)
    reads = ("status",)
    writes = ()
    appends = ()

    def run(self, run: Run, now: Round) -> Step:
        paused = queries.last_of(run.records(), kinds.Paused)
        run.event(now, f"continuing after the pause ({paused.reason if paused else 'a guard'})")
        return "resumed", now
