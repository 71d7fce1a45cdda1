"""Done, judged against where the run started: the baseline the first probe recorded.

Ruff: findings that were there at the start are not the run's; a finding the run added (in
a file it changed: ruff judges each file alone) blocks a finish. Pytest: every test that is
not passing at the end blocks it, unless a person marked it known; a test that passed at the
start and no longer ran counts as broken."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jetbox.probes.runner import MAX_FILES_SHOWN, CheckResult, ProbeReport

FAILING = ("failed", "error")
NAMED = 5  # tests or findings named in one line
_ASKS_FOR_TESTS = re.compile(r"\b(tests?|pytest)\b", re.IGNORECASE)
KNOWN_HINT = ("mark a test known with a `Known: <test id>` line in status.txt or the "
              "known_failures setting")


@dataclass(frozen=True)
class Baseline:
    """What the first probe of the run saw."""

    findings: tuple[str, ...] = ()
    outcomes: Mapping[str, str] = field(default_factory=dict)
    ruff_failed: bool = False     # ruff could not run at all (a config error, ...)

    @classmethod
    def of(cls, report: ProbeReport) -> Baseline:
        ruff, pytest = _check(report, "ruff"), _check(report, "pytest")
        return cls(ruff.findings if ruff else (), dict(pytest.outcomes) if pytest else {},
                   bool(ruff and not ruff.ok and not ruff.findings))

    def to_record(self) -> dict[str, Any]:
        return {"findings": list(self.findings), "outcomes": dict(self.outcomes),
                "ruff_failed": self.ruff_failed}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Baseline:
        return cls(tuple(record.get("findings", ())), dict(record.get("outcomes", {})),
                   bool(record.get("ruff_failed")))


@dataclass(frozen=True)
class Verdict:
    """Whether a finish may be accepted, and the one line that says why."""

    ok: bool
    line: str                      # e.g. "ruff: 0 new (107 pre-existing); pytest: 663 passed..."
    blockers: tuple[str, ...]      # each names what to fix
    new_findings: tuple[str, ...] = ()
    failing: tuple[str, ...] = ()  # test ids not passing, known ones left out


def _check(report: ProbeReport, parser: str) -> CheckResult | None:
    return next((c for c in report.checks if c.parser == parser), None)


def _named(items: Iterable[str]) -> str:
    items = list(items)
    more = f" and {len(items) - NAMED} more" if len(items) > NAMED else ""
    return ", ".join(items[:NAMED]) + more


def judge(report: ProbeReport, baseline: Baseline, known: Iterable[str], goal: str) -> Verdict:
    parts: list[str] = []
    blockers: list[str] = []
    new_findings: tuple[str, ...] = ()
    failing: tuple[str, ...] = ()
    for check in report.checks:
        if check.parser == "ruff":
            line, blocker, new_findings = _ruff(check, baseline)
        elif check.parser == "pytest":
            line, blocker, failing = _pytest(check, baseline, frozenset(known), goal)
        else:
            line = check.summary
            blocker = check.summary if check.required and not check.ok else ""
        parts.append(line)
        if blocker:
            blockers.append(blocker)
    return Verdict(not blockers, "; ".join(parts), tuple(blockers), new_findings, failing)


def finding_key(finding: str) -> str:
    """`path: CODE message` without line and column: a finding that only moved is the same."""
    location, _, rest = finding.partition(": ")
    return f"{location.rsplit(':', 2)[0]}: {rest}"


def _new_findings(now: Iterable[str], before: Iterable[str]) -> tuple[str, ...]:
    """The findings of `now` beyond what `before` had of the same key (newest lines last)."""
    budget = Counter(finding_key(f) for f in before)
    added = []
    for finding in now:
        key = finding_key(finding)
        if budget[key] > 0:
            budget[key] -= 1
        else:
            added.append(finding)
    return tuple(added)


def _ruff(check: CheckResult, baseline: Baseline) -> tuple[str, str, tuple[str, ...]]:
    if check.timed_out or (not check.ok and not check.findings):
        if baseline.ruff_failed and not check.timed_out:
            return f"{check.summary} (as at the start)", "", ()
        return check.summary, check.summary, ()
    added = _new_findings(check.findings, baseline.findings)
    before = len(check.findings) - len(added)
    line = f"ruff: {len(added)} new ({before} pre-existing, not yours)" if check.findings \
        else "ruff: clean"
    blocker = f"ruff: {len(added)} new findings in files you changed: {_named(added)}" \
        if added else ""
    return line, blocker if check.required else "", added


def _pytest(check: CheckResult, baseline: Baseline, known: frozenset[str],
            goal: str) -> tuple[str, str, tuple[str, ...]]:
    passed_before = {t for t, o in baseline.outcomes.items() if o not in FAILING}
    if check.timed_out:
        return check.summary, check.summary, ()
    if not check.outcomes and ("no tests ran" in check.summary or check.counts.get("missing")):
        if _ASKS_FOR_TESTS.search(goal):
            return check.summary, f"{check.summary}: the goal asks for tests", ()
        if passed_before:
            return check.summary, f"{check.summary}, but {len(passed_before)} passed at the " \
                                  f"start", ()
        return f"{check.summary} (the goal does not ask for tests)", "", ()
    failing = tuple(sorted(t for t, o in check.outcomes.items() if o in FAILING
                           and t not in known))
    gone = sorted(passed_before - set(check.outcomes))
    broke = [t for t in failing if t in passed_before] + gone
    if not check.outcomes and check.exit_code not in (0, None):
        return check.summary, check.summary, ()
    counts = ", ".join(f"{n} {w}" for w, n in check.counts.items() if w != "warnings") \
        or "nothing ran"
    known_failing = [t for t, o in check.outcomes.items() if o in FAILING and t in known]
    line = f"pytest: {counts}, {len(broke)} regressions" + \
        (f", {len(known_failing)} known failures" if known_failing else "")
    reasons = []
    if broke:
        reasons.append(f"{len(broke)} tests passed at the start and now fail or did not run: "
                       f"{_named(broke)}")
    other = [t for t in failing if t not in passed_before]
    if other:
        reasons.append(f"{len(other)} tests fail: {_named(other)} ({KNOWN_HINT})")
    return line, "pytest: " + "; ".join(reasons) if reasons and check.required else "", failing


def explain(report: ProbeReport, verdict: Verdict) -> str:
    """The probe results as the model sees them: the verdict, what blocks a finish, and the
    details of what the run caused (not the pre-existing findings)."""
    shown = report.files[:MAX_FILES_SHOWN]
    hidden = len(report.files) - len(shown)
    more = f" ... and {hidden} more" if hidden else ""
    lines = [f"files ({len(report.files)}): " + (", ".join(shown) or "(none)") + more,
             verdict.line]
    if verdict.blockers:
        lines.append("Blocking a finish:")
        lines += [f"- {b}" for b in verdict.blockers]
    if verdict.new_findings:
        lines.append("ruff findings this run caused:")
        lines += list(verdict.new_findings[:15])
    old = [f for c in report.checks if c.parser == "ruff" for f in c.findings
           if f not in verdict.new_findings]
    if old:
        lines.append("pre-existing ruff findings (not yours unless the goal is about them):")
        lines += old[:10] + ([f"... {len(old) - 10} more"] if len(old) > 10 else [])
    lines += [c.details for c in report.checks if c.details and not c.ok and c.parser != "ruff"]
    text = "\n".join(lines)
    return text if len(text) <= 2500 else text[:2480] + "\n... (cut)"
