"""Done, judged against where the run started: the baseline the first probe recorded.

Ruff: findings that were there at the start are not the run's (noqa comments are ignored on
both sides); a finding the run added blocks a finish, and so does one the goal names that is
still there. Pytest: every baseline test is accounted for (accounting.py), tests the run
added pass, outcomes come from Jetbox's plugin and agree with pytest's exit status, and test
or lint configuration the run changed is not obeyed and blocks a finish. The goal's words
(goal.py): a goal that asks for a change is not met by a run that changed nothing, one that
asks for a test not without a new or changed test that passes."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from jetbox.core.prompts import say
from jetbox.probes import accounting
from jetbox.probes.goal import asks_for_change, asks_for_test, named_findings
from jetbox.probes.room import RoomVerdict
from jetbox.probes.runner import MAX_FILES_SHOWN, CheckResult, ProbeReport
from jetbox.probes.testconfig import TestConfig
from jetbox.store import kinds

FAILING = accounting.FAILING
NAMED = 5  # findings named in one line
_ASKS_FOR_TESTS = re.compile(r"\b(tests?|pytest)\b", re.IGNORECASE)


def baseline_of(report: ProbeReport, config: TestConfig | None = None,
                rule_names: Mapping[str, str] | None = None, tree: str = "",
                room_findings: tuple[str, ...] | None = None, round_no: int = 0,
                ruff_version: str | None = None) -> kinds.Baseline:
    """The `baseline` record of what the first probe saw, and the configuration it saw it
    with: the record is what the verdict is judged against (no second type to convert)."""
    ruff, pytest = _check(report, "ruff"), _check(report, "pytest")
    return kinds.Baseline(
        round=round_no, findings=list(ruff.findings) if ruff else [],
        outcomes=dict(pytest.outcomes) if pytest else {},
        ruff_failed=bool(ruff and not ruff.ok and not ruff.findings),
        fingerprint=report.fingerprint, config=(config or TestConfig()).to_record(),
        plugins=list(pytest.plugins) if pytest else [],
        test_files=dict(pytest.test_files) if pytest else {}, rule_names=dict(rule_names or {}),
        problems=list(pytest.problems) if pytest else [], tree=tree or None,
        room_findings=None if room_findings is None else list(room_findings),
        ruff_version=ruff_version)


def pinned_config(record: kinds.Baseline | None) -> TestConfig | None:
    """The configuration later probes are held to; None before the first probe, and for a
    baseline recorded before Jetbox kept it (a resumed older run is probed as it was)."""
    if record is None or record.config is None:
        return None
    return TestConfig.from_record(record.config)


@dataclass(frozen=True)
class Verdict:
    """Whether a finish may be accepted, and the one line that says why."""

    ok: bool
    line: str                      # e.g. "ruff: 0 new (107 pre-existing); pytest: 663 passed..."
    blockers: tuple[str, ...]      # each names what to fix
    new_findings: tuple[str, ...] = ()
    failing: tuple[str, ...] = ()  # test ids not passing, known ones left out
    changes: str = ""              # "tests: 1 added, 0 removed, 0 skipped; config: unchanged"
    added_tests: tuple[str, ...] = ()  # tests the run added, with their outcome


def _check(report: ProbeReport, parser: str) -> CheckResult | None:
    return next((c for c in report.checks if c.parser == parser), None)


def _named(items: Iterable[str]) -> str:
    return accounting.named(items, NAMED)


def judge(report: ProbeReport, baseline: kinds.Baseline, known: Iterable[str], goal: str,
          allow_test_changes: bool = False) -> Verdict:
    parts: list[str] = []
    blockers: list[str] = []
    if report.room is not None and report.room.base_findings is not None:
        # The room lints every file, ignored ones too: held to the baseline tree, linted alike.
        baseline = replace(baseline, findings=list(report.room.base_findings))
    new_findings: tuple[str, ...] = ()
    failing: tuple[str, ...] = ()
    changes: tuple[str, tuple[str, ...]] = ("", ())
    for check in report.checks:
        if check.parser == "ruff":
            line, blocker, new_findings = _ruff(check, baseline)
        elif check.parser == "pytest":
            line, blocker, failing, changes = _pytest(
                check, report, baseline, frozenset(known), goal, allow_test_changes)
        else:
            line = check.summary
            blocker = check.summary if check.required and not check.ok else ""
        parts.append(line)
        if blocker:
            blockers.append(blocker)
    blockers += _goal_blockers(report, baseline, goal)
    if report.room is not None:
        line, more = _room(report.room, report, baseline, frozenset(known), goal,
                           allow_test_changes)
        parts.append(line)
        # the room judges a test the goal asks for by its own rule (in `more`)
        blockers = [b for b in blockers if b != say("blocker.no_test_passed")] + more
        left_out = _left_out(report.room)
        if blockers and left_out:
            blockers.append(left_out)
    stuck = any(c.endswith(say("verdict.not_put_back", path="")) for c in report.config_changed)
    if report.config_changed and (stuck or not allow_test_changes):
        blockers.append(say("blocker.config_changed", files=_named(report.config_changed)))
    return Verdict(not blockers, "; ".join(parts), tuple(blockers), new_findings, failing,
                   *changes)


def _goal_blockers(report: ProbeReport, baseline: kinds.Baseline, goal: str) -> list[str]:
    """What the goal's own words ask for, beyond a green verdict."""
    reasons = []
    verb = asks_for_change(goal)
    if verb and baseline.fingerprint and report.fingerprint == baseline.fingerprint:
        reasons.append(say("blocker.asks_for_change", verb=verb))
    pytest = _check(report, "pytest")
    if asks_for_test(goal) and pytest is not None and not _new_passing(pytest, baseline):
        reasons.append(say("blocker.no_test_passed"))
    ruff = _check(report, "ruff")
    named = named_findings(goal, baseline.findings, baseline.rule_names)
    if ruff is not None and named:
        left = Counter(finding_key(f) for f in ruff.findings)
        still = [f for f in named if left[finding_key(f)] > 0]
        if still:
            reasons.append(say("blocker.named_findings", findings=_named(still)))
    return reasons


def _room(room: RoomVerdict, report: ProbeReport, baseline: kinds.Baseline, known: frozenset[str],
          goal: str, allow: bool) -> tuple[str, list[str]]:
    """The clean room's line in SWE-bench's words, and what it blocks beyond the probes:
    modules that shadow the runner, code that looks for it, and tests the run added that
    fail in the room or pass without the run's change."""
    blockers = list(room.problems)
    change = room.change
    if change.shadows:
        blockers.append(say("blocker.shadows", modules=_named(change.shadows)))
    if change.knows_runner:
        blockers.append(say("blocker.knows_runner", files=_named(change.knows_runner)))
    pytest = _check(report, "pytest")
    now = pytest.outcomes if pytest else {}
    before = {t: o for t, o in accounting.collected_since(baseline.outcomes, now).items()
              if t not in known}
    fail = [t for t, o in before.items() if o in FAILING]
    kept = [t for t, o in before.items() if o == "passed"]
    line = say("verdict.room", fixed=sum(now.get(t) == "passed" for t in fail),
               failed=len(fail), still_passing=sum(now.get(t) == "passed" for t in kept),
               passed=len(kept))
    new = {t: o for t, o in room.new_after.items() if t not in baseline.outcomes
           and not any(t.startswith(f"{b}::") for b in baseline.outcomes if "::" not in b)}
    failed_before = [t for t, o in room.new_before.items()
                     if o in FAILING and t not in baseline.outcomes]
    if new:
        passing = all(o == "passed" for o in new.values())
        line += say("verdict.room_new_tests", count=len(new),
                    before=say("verdict.fail_before" if failed_before else "verdict.pass_before"),
                    after=say("verdict.pass_after" if passing else "verdict.fail_after"))
    failing_new = [t for t, o in new.items() if o != "passed"]
    blockers += _hidden(room, baseline, known)
    # A test must fail without the change it tests; with no source change (tests for code
    # that already works), it must at least use the project's code.
    if new and not failing_new and not failed_before and change.source and not allow:
        blockers.append(say("blocker.tests_pass_without", tests=_named(new)))
    elif new and change.no_project and not change.source and asks_for_test(goal):
        blockers.append(say("blocker.tests_import_nothing", files=_named(change.no_project)))
    elif asks_for_test(goal) and not new:
        blockers.append(say("blocker.no_test_added"))
    if room.allowed_tests:
        line += say("verdict.room_allowed", tests=_named(room.allowed_tests))
    elif change.changed_tests:
        line += say("verdict.room_changed", tests=_named(change.changed_tests))
    return line, blockers


def _hidden(room: RoomVerdict, baseline: kinds.Baseline, known: frozenset[str]) -> list[str]:
    """Baseline tests that the run's version of their file no longer runs (deleted,
    renamed, skipped, marked xfail): the original still decides whether the code works,
    but a person's test is not dropped without their leave (allow_test_changes)."""
    files = set(room.change.changed_tests) - set(room.allowed_tests)
    before = {t: o for t, o in baseline.outcomes.items() if t.split("::", 1)[0] in files}
    if not before:
        return []
    account = accounting.account(before, {t: o for t, o in room.new_after.items() if t in before},
                          known, False)
    hidden = [r for r in (*account.regressions, *account.unresolved)
              if not accounting.ran_and_failed(r)]
    return [say("blocker.hidden_by_change", files=_named(sorted(files)), tests=_named(hidden),
                dont=say("blocker.dont"))] if hidden else []


def _left_out(room: RoomVerdict) -> str:
    """What the clean room left out of what the run wrote, for a refused finish, or ""."""
    left = [say("blocker.left_out_changed", test=t) for t in room.change.changed_tests
            if t not in room.allowed_tests]
    left += [say("blocker.left_out_not_used", test=t) for t in room.change.not_obeyed]
    left += [say("blocker.left_out_new", test=t)
             for t in room.change.new_tests if t.endswith(".py")]
    return say("blocker.left_out", tests=_named(left)) if left else ""


def _new_passing(check: CheckResult, baseline: kinds.Baseline) -> list[str]:
    """Passing tests the run added, or whose file it changed."""
    def changed(test_id: str) -> bool:
        where = test_id.split("::", 1)[0]
        return test_id not in baseline.outcomes or \
            check.test_files.get(where) != baseline.test_files.get(where)
    return [t for t, o in check.outcomes.items() if o == "passed" and changed(t)]


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


def _ruff(check: CheckResult, baseline: kinds.Baseline) -> tuple[str, str, tuple[str, ...]]:
    if check.timed_out or (not check.ok and not check.findings):
        if baseline.ruff_failed and not check.timed_out:
            return say("verdict.as_at_start", summary=check.summary), "", ()
        return check.summary, check.summary, ()
    added = _new_findings(check.findings, baseline.findings)
    before = len(check.findings) - len(added)
    line = say("verdict.ruff", new=len(added), before=before) if check.findings \
        else say("verdict.ruff_clean")
    blocker = say("blocker.new_finding" if len(added) == 1 else "blocker.new_findings",
                  count=len(added), findings=_named(added)) if added else ""
    return line, blocker if check.required else "", added


def _pytest(check: CheckResult, report: ProbeReport, baseline: kinds.Baseline,
            known: frozenset[str], goal: str, allow: bool) -> tuple[str, str, tuple[str, ...],
                                             tuple[str, tuple[str, ...]]]:
    if check.timed_out:
        return check.summary, check.summary, (), ("", ())
    account = accounting.account(baseline.outcomes, check.outcomes, known, allow)
    changes = accounting.changes_line(account, report.config_changed, allow), account.added_ids
    # A disagreement the project had at the start (a coverage threshold, ...) is not the
    # run's; a missing report always blocks: without it nothing is verified.
    reasons = [p for p in check.problems if p not in baseline.problems or not check.outcomes]
    added = sorted(set(check.plugins) - set(baseline.plugins))
    if added:
        reasons.append(say("blocker.plugins", plugins=_named(added)))
    if not check.outcomes and not check.problems:
        line, reason = _no_tests(check, baseline, goal)
        reasons += [reason] if reason else []
        return line, _blocker(check, reasons + accounting.blockers(account, baseline.outcomes)), \
            (), changes
    # pytest's own words for its outcomes ("3 passed, 1 failed"), as it counts them
    counts = ", ".join(f"{n} {w}" for w, n in check.counts.items() if w != "warnings") \
        or say("verdict.nothing_ran")
    known_failing = [t for t, o in check.outcomes.items() if o in FAILING and t in known]
    line = say("verdict.pytest", counts=counts, regressions=len(account.regressions),
               known=say("verdict.known_failures", count=len(known_failing))
               if known_failing else "")
    reasons += accounting.blockers(account, baseline.outcomes)
    return line, _blocker(check, reasons), account.failing, changes


def _blocker(check: CheckResult, reasons: list[str]) -> str:
    return say("blocker.pytest", reasons="; ".join(reasons)) if reasons and check.required \
        else ""


def _no_tests(check: CheckResult, baseline: kinds.Baseline, goal: str) -> tuple[str, str]:
    """No test ran (none collected, or pytest missing): fine only for a project without
    tests at the start and a goal that does not ask for them."""
    if _ASKS_FOR_TESTS.search(goal):
        return check.summary, say("blocker.goal_asks_for_tests",
                                  summary=check.summary.removeprefix("pytest: "))
    if check.exit_code not in (0, 5, None) and not check.counts.get("missing"):
        return check.summary, check.summary.removeprefix("pytest: ")
    if baseline.outcomes:
        return check.summary, ""  # each baseline test is named by the accounting
    return say("verdict.no_tests_asked", summary=check.summary), ""


def explain(report: ProbeReport, verdict: Verdict) -> str:
    """The probe results as the model sees them: the verdict, what blocks a finish, and the
    details of what the run caused (not the pre-existing findings)."""
    shown = report.files[:MAX_FILES_SHOWN]
    hidden = len(report.files) - len(shown)
    more = say("verdict.more_files", count=hidden) if hidden else ""
    lines = [say("files.whole", count=len(report.files),
                 files=(", ".join(shown) or say("files.none")) + more),
             verdict.line] + ([verdict.changes] if verdict.changes else [])
    if verdict.added_tests:
        lines.append(say("verdict.added_tests", tests=accounting.named(verdict.added_tests)))
    if verdict.blockers:
        lines.append(say("context.blocking"))
        lines += [f"- {b}" for b in verdict.blockers]
    if verdict.new_findings:
        lines.append(say("context.new_findings"))
        lines += list(verdict.new_findings[:15])
    old = [f for c in report.checks if c.parser == "ruff" for f in c.findings
           if f not in verdict.new_findings]
    if old:
        lines.append(say("context.pre_existing"))
        lines += old[:10] + ([say("result.more", count=len(old) - 10)] if len(old) > 10 else [])
    lines += [c.details for c in report.checks if c.details and not c.ok and c.parser != "ruff"]
    text = "\n".join(lines)
    return text if len(text) <= 2500 else text[:2480] + "\n" + say("context.cut")
