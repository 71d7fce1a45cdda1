"""The prober between edits: pytest runs what the change can affect (select.py), and the
outcomes of the tests it did not run are carried from their last run; everything else is
the plain Prober's. The verdict judges the merged outcomes by its unchanged rules."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from jetbox.probes import select
from jetbox.probes.runner import CheckResult, Prober, ProbeReport, ProbeSpec
from jetbox.probes.testconfig import TestConfig

NOT_FOUND = 4  # pytest's usage error: a test id it cannot find (renamed, parametrized anew)
COUNTED = {"passed": "passed", "failed": "failed", "error": "errors", "xfail": "xfailed",
           "xpass": "xpassed"}


class FocusedProber(Prober):
    """A Prober whose `run` can be told the whole suite is not needed (`full=False`)."""

    focus_enabled = True
    _plan: tuple[ProbeReport, dict[str, str], tuple[str, ...]] | None = None

    def run(self, previous: ProbeReport | None = None, reuse: bool = True,
            pinned: TestConfig | None = None, *, full: bool = True,
            failing: Sequence[str] = ()) -> ProbeReport:
        """As Prober.run; with `full=False` and a previous pytest result, pytest runs the
        tests in `failing` (ids) first, then, if they pass, those a changed file can
        affect."""
        usable = previous is not None and _pytest(previous) is not None
        self._plan = (previous, self.changes.digests(), tuple(failing)) \
            if self.focus_enabled and not full and usable and previous else None
        try:
            return super().run(previous, reuse, pinned)
        finally:
            self._plan = None

    def _check(self, spec: ProbeSpec, env: dict[str, str], where: Path) -> CheckResult:
        if self._plan is None or spec.parser != "pytest":
            return super()._check(spec, env, where)
        previous, before, failing = self._plan
        after = self.changes.digests()
        changed = {f for f in before.keys() | after.keys() if before.get(f) != after.get(f)}
        last = _pytest(previous)
        focus = select.focus(self.workspace, sorted(after), changed, failing)
        if focus is None or last is None:
            return super()._check(spec, env, where)
        return self._focused(spec, env, where, _in_scope(spec, focus, last, changed), last)

    def _focused(self, spec: ProbeSpec, env: dict[str, str], where: Path,
                 focus: select.Focus, last: CheckResult) -> CheckResult:
        results: list[CheckResult] = []
        ran: list[str] = []
        for targets in (focus.failing, focus.affected):
            if not targets or (results and select.any_failing(results[-1].outcomes)):
                continue
            result = super()._check(replace(spec, argv=(*spec.argv, *targets)), env, where)
            if targets is focus.failing and result.exit_code == NOT_FOUND:
                targets = tuple(sorted({t.split("::", 1)[0] for t in targets}))  # by file
                result = super()._check(replace(spec, argv=(*spec.argv, *targets)), env, where)
            results.append(result)
            ran += targets
            if result.timed_out or not result.outcomes and result.exit_code not in (0, 1, 5):
                return result  # it could not run: say so, never carry older outcomes
        fresh = {t: o for r in results for t, o in r.outcomes.items()}
        outcomes = select.merged(last.outcomes, fresh, ran)
        return _combined(spec, last, results, outcomes, len(fresh))


def _in_scope(spec: ProbeSpec, focus: select.Focus, last: CheckResult,
              changed: set[str]) -> select.Focus:
    """Only test files the probe's own command runs: those it ran last time, and a test file
    just written when the command names no paths of its own (`pytest tests/unit`)."""
    known = {t.split("::", 1)[0] for t in last.outcomes}
    own_paths = any(not a.startswith("-") for a in spec.argv[1:] if a not in ("-m", "pytest"))
    kept = tuple(f for f in focus.affected
                 if f in known or (f in changed and not own_paths))
    return replace(focus, affected=kept)


def _pytest(report: ProbeReport) -> CheckResult | None:
    return next((c for c in report.checks if c.parser == "pytest"), None)


def _combined(spec: ProbeSpec, last: CheckResult, results: list[CheckResult],
              outcomes: dict[str, str], fresh: int) -> CheckResult:
    """One pytest result from the focused runs and the carried outcomes."""
    counts = Counter(COUNTED[o] for o in outcomes.values() if o in COUNTED)
    if last.counts.get("skipped"):  # skips are not listed by id: as the last full run
        counts["skipped"] = last.counts["skipped"]
    failing = any(o in select.FAILING for o in outcomes.values())
    tally = ", ".join(f"{n} {w}" for w, n in counts.items())
    # No outcome at all (no test written yet): say so as pytest's own summary does.
    summary = (f"{spec.name}: {tally} ({fresh} run now, the rest as they last ran)" if tally
               else f"{spec.name}: no tests ran")
    details = "\n".join(r.details for r in results if r.details)
    return CheckResult(spec.name, not failing, summary, details,
                       results[-1].exit_code if results else 0, False,
                       sum(r.duration_s for r in results), dict(counts), spec.required,
                       outcomes=outcomes, parser=spec.parser)
