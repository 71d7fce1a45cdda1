"""Plan: keep a short concrete checklist in status.txt's `Next:` lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetbox.status import MAX_NEXT, clean_item
from states.base import Handler

if TYPE_CHECKING:
    from jetbox.probe import ProbeReport
    from jetbox.run import Run


def plan_from_probes(report: ProbeReport) -> list[str]:
    """The seed's checklist, from real state: fix lint, make tests pass, then finish."""
    steps: list[str] = []
    for check in report.checks:
        if check.ok:
            continue
        first = check.details.splitlines()[0] if check.details else ""
        if check.counts.get("passed", 0) == 0 and "no tests ran" in check.summary:
            steps.append("write tests for the goal (pytest found none)")
        else:
            steps.append(f"fix {check.summary}" + (f": {first}" if first else ""))
    if not steps:
        steps.append("call finish with a short summary (all probes are green)")
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
        generated = [clean_item(s) for s in plan_from_probes(run.probe_report())]
        steps = list(dict.fromkeys([*person, *generated]))[:MAX_NEXT]
        if tuple(steps) != run.status.next or last is None:
            run.status = run.status.with_(next=tuple(steps))
            run.ledger.append("plan", round=run.round, items=generated, person=person)
        if run.conversation is not None:
            run.conversation.add_note(run)
            run.messages = run.conversation.messages()
        return "planned"
