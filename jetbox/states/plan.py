"""Plan: keep a short concrete checklist in status.txt's `Next:` lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetbox.round.handler import Handler, Step
from jetbox.round.notes import FINISH_AFTER_FIXES, FINISH_WHEN_GREEN
from jetbox.store import kinds as k
from jetbox.store import records as rec
from jetbox.store.status import MAX_NEXT, clean_item

if TYPE_CHECKING:
    from jetbox.probes.verdict import Verdict
    from jetbox.round.run import Round, Run


def plan_from_verdict(verdict: Verdict, goal: str) -> list[str]:
    """The seed's checklist from real state, goal first: what the run broke or must still
    make pass, then finish. Pre-existing lint is not listed: it is not the run's."""
    steps = [f"work on the goal: {goal}"]
    steps += [f"fix {blocker}" for blocker in verdict.blockers]
    if verdict.ok:
        steps.append(FINISH_WHEN_GREEN)
    else:
        steps.append(FINISH_AFTER_FIXES)
    return steps


class Plan(Handler):
    """Reads: the round's status `Next:` and probes; the last plan Jetbox wrote (ledger).
    Returns: the round with `Next:` set (a person's own lines first, kept until they remove
    them, then Jetbox's checklist from the verdict).
    Writes: a `plan` record when the checklist changes."""

    outcomes = ("planned",)
    reads = ("status", "verdict")
    writes = ("status",)
    appends = (k.Plan.KIND,)

    def run(self, run: Run, now: Round) -> Step:
        last = rec.last_plan(run.records())
        ours = set(last or ())
        person = [item for item in now.status.next if item not in ours]
        assert now.verdict is not None, "Probe judges every round before Plan"
        generated = [clean_item(s) for s in plan_from_verdict(now.verdict, now.status.goal)]
        steps = tuple(dict.fromkeys([*person, *generated]))[:MAX_NEXT]
        if steps != now.status.next or last is None:
            now = now.with_status(next=steps)
            run.ledger.append(k.Plan(round=now.round, items=generated, person=person))
        return "planned", now
