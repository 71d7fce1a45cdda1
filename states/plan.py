"""Plan: keep a short concrete checklist in status.txt's `Next:` lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetbox.status import MAX_NEXT, clean_item
from states.base import Handler

if TYPE_CHECKING:
    from jetbox.run import Run
    from jetbox.verdict import Verdict


def plan_from_verdict(verdict: Verdict, goal: str) -> list[str]:
    """The seed's checklist from real state, goal first: what the run broke or must still
    make pass, then finish. Pre-existing lint is not listed: it is not the run's."""
    steps = [f"work on the goal: {goal}"]
    steps += [f"fix {blocker}" for blocker in verdict.blockers]
    if verdict.ok:
        steps.append("call finish with a short summary once the goal is met (the checks pass)")
    else:
        steps.append("call finish when the goal is met and the fixes above are done")
    return steps


class Plan(Handler):
    """Reads: status `Next:`, the last plan Jetbox wrote (ledger), the probe report.
    Writes: status `Next:` (a person's own lines first, kept until they remove them),
    a `plan` ledger record when it changes, and a note to the model when it changes."""

    outcomes = ("planned",)

    def run(self, run: Run) -> str:
        last = run.ledger.last(["plan"])
        ours = set(last["items"]) if last else set()
        person = [item for item in run.status.next if item not in ours]
        generated = [clean_item(s) for s in plan_from_verdict(run.verdict(), run.status.goal)]
        steps = list(dict.fromkeys([*person, *generated]))[:MAX_NEXT]
        if tuple(steps) != run.status.next or last is None:
            run.status = run.status.with_(next=tuple(steps))
            run.ledger.append("plan", round=run.round, items=generated, person=person)
        if run.conversation is not None:
            run.conversation.add_note(run)
            run.messages = run.conversation.messages()
        return "planned"
