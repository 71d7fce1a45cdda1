"""The verdict's rules, unit by unit (issue 18): what the goal's words ask, how every
baseline test is accounted for, when pytest's exit status disagrees with its report, and
which configuration counts as the run's."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from jetbox.probes.accounting import account, blockers, changes_line
from jetbox.probes.goal import asks_for_change, asks_for_test, named_findings
from jetbox.probes.parsers import parse_pytest
from jetbox.probes.report import OutcomeReport, count_outcomes, disagreements, parse_report
from jetbox.probes.runner import CheckResult, ProbeReport
from jetbox.probes.testconfig import pinned_copy, snapshot
from jetbox.probes.verdict import baseline_of, judge, pinned_config
from jetbox.store.kinds import Baseline as BaselineRecord
from jetbox.store.kinds import from_body

FINDINGS = ("mathx/__init__.py:1:8: F401 [*] `os` imported but unused",
            "tool.py:3:1: E501 Line too long (99 > 88)",
            "pkg/a.py:2:8: F401 [*] `sys` imported but unused")
RULES = {"F401": "unused-import", "E501": "line-too-long"}


@pytest.mark.parametrize("goal, verb, test", [
    ("Add `default=` to `toolz.nth()` with a test", "Add", True),
    ("Fix add", "Fix", False),
    ("Create a package mathx with add(a, b), add tests, then make ruff and pytest pass.",
     "Create", True),
    ("Check that the tests pass", "", False),
    ("Make the tests pass", "", False),
    ("Tidy up", "", False),
    ("Write unit tests for slugify", "Write", True),
    ("Check that mathx.add is tested, then make ruff and pytest pass.", "", False),
    ("Call `add()` from main", "", False),
])
def test_what_a_goal_asks_for(goal: str, verb: str, test: bool) -> None:
    assert asks_for_change(goal) == verb
    assert asks_for_test(goal) is test


@pytest.mark.parametrize("goal, named", [
    ("Remove the unused import in mathx", FINDINGS[:1]),
    ("Remove the unused imports", (FINDINGS[0], FINDINGS[2])),
    ("Fix F401 in pkg/a.py", FINDINGS[2:]),
    ("Fix the lint in tool.py", FINDINGS[1:2]),
    ("Fix the lint in tool.py line 7", ()),
    ("Fix add", ()),
])
def test_a_goal_names_findings_by_code_rule_file_or_line(goal: str, named: tuple) -> None:
    assert named_findings(goal, FINDINGS, RULES) == named


BEFORE = {"t::passes": "passed", "t::fails": "failed", "t::skips": "skipped"}


@pytest.mark.parametrize("now, regression, unresolved", [
    ({"t::passes": "passed", "t::fails": "passed", "t::skips": "skipped"}, (), ()),
    ({"t::passes": "xfailed", "t::fails": "passed", "t::skips": "skipped"},
     ("t::passes (marked xfail)",), ()),
    ({"t::fails": "deselected", "t::passes": "passed"},
     ("t::skips (gone: deleted, renamed or no longer collected)",), ("t::fails (deselected)",)),
    ({"t::passes": "skipped", "t::fails": "xfailed", "t::skips": "skipped"},
     ("t::passes (skipped)",), ("t::fails (marked xfail)",)),
])
def test_every_baseline_test_is_accounted_for(now: dict, regression: tuple,
                                              unresolved: tuple) -> None:
    result = account(BEFORE, now, frozenset(), allow_test_changes=False)
    assert (result.regressions, result.unresolved) == (regression, unresolved)


def test_known_tests_and_allowed_changes_are_accounted_for() -> None:
    now = {"t::passes": "passed", "t::skips": "skipped", "t::new": "passed"}
    known = account(BEFORE, now, frozenset({"t::fails"}), allow_test_changes=False)
    assert not known.regressions and not known.unresolved
    assert changes_line(known, (), False) == \
        "tests: 1 added, 1 removed, 0 skipped; config: unchanged"
    allowed = account(BEFORE, {"t::passes": "deselected"}, frozenset(), True)
    assert allowed.allowed == ("t::fails (gone: deleted, renamed or no longer collected)",
                               "t::passes (deselected)",
                               "t::skips (gone: deleted, renamed or no longer collected)")
    assert not blockers(allowed, BEFORE)
    assert changes_line(allowed, ("conftest.py",), True).endswith(
        "config: changed (conftest.py; not obeyed); test changes allowed (allow_test_changes)")


@pytest.mark.parametrize("report, code, problem", [
    (None, 1, "pytest wrote no outcome report (exit 1)"),
    (OutcomeReport({"t": "failed"}, 1), 0, "pytest exited 0 but its session ended with status 1"),
    (OutcomeReport({"t": "failed"}, 0), 0, "pytest exited 0 but 1 tests failed in its report"),
    (OutcomeReport({"t": "passed"}, 1), 1, "pytest exited 1 but no test failed in its report"),
    (OutcomeReport({}, 2), 2, "pytest was interrupted (exit 2)"),
])
def test_pytest_exit_status_must_agree_with_its_report(report: OutcomeReport | None,
                                                       code: int, problem: str) -> None:
    assert problem in "\n".join(disagreements(report, code))


def test_an_agreeing_report_has_no_problems_and_garbage_is_no_report() -> None:
    assert disagreements(OutcomeReport({"t": "passed", "u": "skipped"}, 0), 0) == ()
    assert disagreements(OutcomeReport({"t": "failed"}, 1), 1) == ()
    assert parse_report({"outcomes": {"t": "won"}, "exitstatus": 0, "plugins": []}) is None
    assert parse_report([1]) is None


def test_the_text_parser_never_lets_a_later_line_undo_a_failure() -> None:
    output = ("FAILED tests/t.py::test_sub - assert 1 == 2\n"
              "PASSED tests/t.py::test_sub\n1 failed, 1 passed in 0.1s\n")
    assert parse_pytest("pytest", 1, output).outcomes == {"tests/t.py::test_sub": "failed"}


def test_config_counts_only_what_pytest_and_ruff_read(tmp_path: Path) -> None:
    ruff = "[tool.ruff]\nline-length = 99\n"
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n" + ruff)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text("X = 1\n")
    files = ["pyproject.toml", "tests/conftest.py", "tests/test_a.py"]
    before = snapshot(tmp_path, files)
    assert sorted(before.digests) == ["pyproject.toml", "tests/conftest.py"]
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'y'\n" + ruff)
    assert before.changed(snapshot(tmp_path, files)) == ()  # metadata is not config
    (tmp_path / "pyproject.toml").write_text("[tool.ruff.lint]\nignore = ['ALL']\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --deselect t\n")
    now = snapshot(tmp_path, [*files, "pytest.ini"])
    assert before.changed(now) == ("pyproject.toml", "pytest.ini")


def test_the_pinned_copy_has_the_baseline_config_and_leaves_the_workspace_alone(
        tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "conftest.py").write_text("BASELINE = 1\n")
    before = snapshot(ws, ["conftest.py"])
    (ws / "conftest.py").write_text("HOOKED = 1\n")
    (ws / "pytest.ini").write_text("[pytest]\n")
    (ws / "code.py").write_text("x = 1\n")
    changed = before.changed(snapshot(ws, ["conftest.py", "pytest.ini"]))
    with pinned_copy(ws, before, changed) as (scratch, stuck):
        assert (scratch / "conftest.py").read_text() == "BASELINE = 1\n"
        assert not (scratch / "pytest.ini").exists() and (scratch / "code.py").exists()
        assert stuck == ()
    assert not scratch.exists()
    assert (ws / "conftest.py").read_text() == "HOOKED = 1\n" and (ws / "pytest.ini").exists()
    assert base64.b64decode(before.contents["conftest.py"]) == b"BASELINE = 1\n"


def _report(outcomes: dict[str, str], code: int, problems: tuple[str, ...] = (),
            fingerprint: str = "after") -> ProbeReport:
    check = CheckResult("pytest", code == 0, "pytest", "", code, False, 0.0,
                        count_outcomes(outcomes), outcomes=outcomes, parser="pytest",
                        problems=problems)
    return ProbeReport(("calc.py",), (check,), fingerprint)


def test_a_disagreement_the_project_had_at_the_start_is_not_the_runs() -> None:
    odd = disagreements(OutcomeReport({"t::a": "passed"}, 1), 1)  # a coverage threshold
    baseline = baseline_of(_report({"t::a": "passed"}, 1, odd, "before"))
    assert judge(_report({"t::a": "passed"}, 1, odd), baseline, (), "Fix it").ok
    missing = disagreements(None, 1)
    assert not judge(_report({}, 1, missing), baseline_of(_report({}, 1, missing)), (),
                     "Check it").ok


def test_a_failing_test_deleted_with_every_other_test_is_unresolved() -> None:
    baseline = baseline_of(_report({"t::a": "failed"}, 1, fingerprint="before"))
    verdict = judge(_report({}, 5), baseline, (), "Check the project")
    assert not verdict.ok
    assert "1 test failed at the start and does not run now: t::a (gone" in verdict.blockers[0]


def test_a_baseline_recorded_before_the_config_was_kept_pins_nothing() -> None:
    assert pinned_config(None) is None
    old = from_body({"seq": 3, "kind": "baseline", "findings": [], "outcomes": {}})
    assert isinstance(old, BaselineRecord) and pinned_config(old) is None
    kept = snapshot(Path(__file__).parent.parent, ["pyproject.toml"])
    assert pinned_config(BaselineRecord(config=kept.to_record())) == kept


def test_config_that_cannot_be_put_back_is_named(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    before = snapshot(ws, [])
    (ws / "conftest.py").mkdir()  # a folder: nothing to read, nothing to unlink
    (ws / "conftest.py" / "x.txt").write_text("x")
    with pinned_copy(ws, before, ("conftest.py",)) as (_scratch, stuck):
        assert stuck == ("conftest.py",)
