"""Plan: keep a short concrete checklist in status.txt's `Next:` lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetbox.status import MAX_NEXT, clean_item
from states.base import Handler

if TYPE_CHECKING:
    from jetbox.probe import ProbeReport
    from jetbox.run import Run


def plan_from_probes(report: ProbeReport) -> list[str]:
    """The seed's minimal checklist: create what is missing, then lint, then test."""
    steps: list[str] = []
    for check in report.checks:
        if not check.ok:
            steps.append(f"fix {check.summary}")
    if not any(path.startswith("tests/") or "/test_" in path or path.startswith("test_")
               for path in report.files):
        steps.append("write tests for the goal")
    steps.append("call finish once ruff is clean and pytest passes")
    return steps[:MAX_NEXT]


class Plan(Handler):
    """Reads: status `Next:` (a person's edits win), the probe report.
    Writes: status `Next:` when it is empty."""

    outcomes = ("planned",)

    def run(self, run: Run) -> str:
        if not run.status.next:
            steps = plan_from_probes(run.probe_report())
            run.status = run.status.with_(next=tuple(clean_item(s) for s in steps))
        return "planned"
