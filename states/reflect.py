"""Reflect: compare what was planned with what happened; set the Status colour."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from jetbox.context import describe_call, last_results
from jetbox.protocol import malformed_streak
from states.base import Handler

if TYPE_CHECKING:
    from jetbox.run import Run


def same_call_streak(records: list[dict[str, Any]]) -> tuple[int, str]:
    """How many model replies in a row (newest backwards) made exactly the same calls."""
    replies = [r for r in records if r["kind"] == "model_reply"]
    if not replies or not replies[-1].get("calls"):
        return 0, ""
    signature = json.dumps(replies[-1]["calls"], sort_keys=True)
    streak = 0
    for reply in reversed(replies):
        if json.dumps(reply.get("calls"), sort_keys=True) != signature:
            break
        streak += 1
    first = replies[-1]["calls"][0]
    return streak, describe_call(first.get("name", "?"), first.get("arguments"))


def stuck_reason(run: Run, records: list[dict[str, Any]], streak: int, call: str,
                 stalled: int) -> str:
    """Why the run should stop for a person (machine.yaml sends `stuck` to Pause), or ""."""
    malformed = malformed_streak(records)
    if streak >= run.settings.loop_limit:
        return f"loop: the model made the same call {streak} times in a row ({call})"
    if stalled >= run.settings.stall_limit:
        return f"no progress for {stalled} rounds"
    if malformed >= run.settings.max_tool_errors:
        return (f"{malformed} refused or malformed tool calls in a row; see the ledger's "
                f"refusal records")
    return ""


def since_resume(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records of this invocation: a person who resumes a paused run gets a fresh count."""
    for index in range(len(records) - 1, -1, -1):
        if records[index]["kind"] in ("resume", "run_start"):
            return records[index:]
    return records


def made_progress(records: list[dict[str, Any]], results: list[dict[str, Any]]) -> bool:
    """A file changed this round, or the probes show fewer failures than before."""
    if any(r.get("changed") for r in results):
        return True
    probes = [r for r in records if r["kind"] == "probe" and "failures" in r]
    return len(probes) >= 2 and probes[-1]["failures"] < probes[-2]["failures"]


class Reflect(Handler):
    """Reads: the last tool results, earlier replies and probes (all from the ledger).
    Writes: status `Status:`/`Active:`, a `reflection` record (with a warning the model
    sees next round); pauses the run red on a loop or too many rounds without progress."""

    outcomes = ("reflected", "stuck")

    def run(self, run: Run) -> str:
        records = since_resume(run.ledger.current_run())  # a guard counts from the resume
        results = last_results(run)
        failed = [r for r in results if not r.get("ok")]
        streak, call = same_call_streak(records)
        progress = made_progress(records, results)
        previous = [r for r in records if r["kind"] == "reflection"]
        # A resume into Reflect (after a pause here) must not count the same round twice.
        counted = any(r["kind"] == "reflection" and r.get("round") == run.round
                      for r in run.ledger.current_run())
        stalled = 0 if progress or counted else \
            1 + (previous[-1].get("stalled", 0) if previous else 0)
        warning = ""
        if streak >= 2:
            warning = (f"you made the same call {streak} times in a row ({call}); it does not "
                       f"help: read the probe results and do something different")
        if "finish" in [r["name"] for r in results] and not failed:
            status = "green - finish requested; verifying"
        elif failed:
            status = f"yellow - {len(failed)} of {len(results)} calls failed or were refused"
        elif warning or stalled > 1:
            status = f"yellow - no progress for {stalled} rounds" if not warning else \
                f"yellow - repeating {call}"
        else:
            status = "green - progress" if progress else "green - calls ok"
        run.status = run.status.with_(status=status,
                                      active=tuple(describe_call(r["name"], r.get("arguments"))
                                                   for r in results[-3:]))
        guard = stuck_reason(run, records, streak, call, stalled)
        run.ledger.append("reflection", round=run.round, status=status, progress=progress,
                          stalled=stalled, streak=streak, warning=warning, guard=guard)
        return "stuck" if guard else "reflected"
