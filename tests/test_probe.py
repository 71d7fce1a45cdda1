"""Probes: real ruff and pytest results, compact and bounded; reused when nothing changed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from jetbox.core.errors import ConfigError
from jetbox.probes.changes import fingerprint
from jetbox.probes.runner import (
    DEFAULT_PROBES,
    Prober,
    ProbeReport,
    ProbeSpec,
    parse_pytest,
    parse_ruff,
    probe_specs_from_yaml,
)
from jetbox.probes.verdict import explain, judge
from jetbox.store.kinds import Baseline


def project(folder: Path, module: str, test: str) -> Path:
    (folder / "mathx").mkdir(parents=True)
    (folder / "mathx" / "__init__.py").write_text(module)
    (folder / "tests").mkdir()
    (folder / "tests" / "test_mathx.py").write_text(test)
    return folder


GOOD = '"""m."""\n\n\ndef add(a, b):\n    return a + b\n'
TEST = "from mathx import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def seen_by_model(report: ProbeReport) -> str:
    """The probe results as the model is shown them, against an empty baseline."""
    return explain(report, judge(report, Baseline(), (), "make the tests pass"))


def test_a_clean_project_with_passing_tests_is_green(tmp_path: Path) -> None:
    report = Prober(project(tmp_path, GOOD, TEST)).run()
    assert all(c.ok for c in report.checks), seen_by_model(report)
    assert [c.summary for c in report.checks] == ["ruff: clean", "pytest: 1 passed"]
    assert report.files == ("mathx/__init__.py", "tests/test_mathx.py")


def test_failing_assertion_and_ruff_code_with_location_are_in_the_summary(tmp_path: Path) -> None:
    report = Prober(project(tmp_path, "import os\n" + GOOD.replace("+", "-"), TEST)).run()
    text = seen_by_model(report)
    assert [c.ok for c in report.checks] == [False, False]
    assert "pytest: 1 failed" in text and "assert -1 == 5" in text
    assert "ruff findings this run caused" in text and "mathx/__init__.py:1:8: F401" in text


def test_no_tests_is_not_green(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text('"""a."""\n')
    report = Prober(tmp_path).run()
    pytest_check = report.checks[1]
    assert not pytest_check.ok and pytest_check.summary == "pytest: no tests ran"


@pytest.mark.slow
def test_unchanged_workspace_reuses_the_report_without_subprocesses(tmp_path: Path) -> None:
    prober = Prober(project(tmp_path, GOOD, TEST))
    first = prober.run()
    assert prober.runs == 2
    again = prober.run(first)
    assert again.reused and prober.runs == 2 and again.checks == first.checks
    time.sleep(0.01)
    (tmp_path / "mathx" / "__init__.py").write_text(GOOD + "\n")
    assert not prober.run(again).reused and prober.runs == 4


def test_jetbox_own_files_do_not_change_the_fingerprint(tmp_path: Path) -> None:
    project(tmp_path, GOOD, TEST)
    before = fingerprint(tmp_path)
    for name in ("status.txt", "agent_ledger.log", "agent.log", ".jetbox.lock"):
        (tmp_path / name).write_text("changes every round")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert fingerprint(tmp_path) == before


@pytest.mark.slow
def test_probes_run_in_parallel(tmp_path: Path) -> None:
    sleeper = "import time; start = time.time(); time.sleep(1); print(start, time.time())"
    specs = [ProbeSpec(f"s{i}", ("python", "-c", sleeper)) for i in range(2)]
    report = Prober(tmp_path, specs).run()
    assert all(c.ok for c in report.checks)
    spans = [tuple(map(float, c.summary.rsplit(": ", 1)[1].split())) for c in report.checks]
    assert max(start for start, _ in spans) < min(end for _, end in spans)  # they overlapped


@pytest.mark.slow
def test_summary_is_bounded_with_many_files_and_failures(tmp_path: Path) -> None:
    for index in range(1000):
        (tmp_path / f"f{index:04}.txt").write_text("x")
    failing = "\n".join(f"def test_{i}():\n    assert {i} == -1\n" for i in range(500))
    (tmp_path / "test_many.py").write_text(failing)
    report = Prober(tmp_path, [DEFAULT_PROBES[1]]).run()
    text = seen_by_model(report)
    assert "pytest: 500 failed" in text and len(text) <= 2500
    assert "... and" in text and "more" in text


@pytest.mark.slow
def test_missing_program_and_timeout_are_results_not_exceptions(tmp_path: Path) -> None:
    specs = [ProbeSpec("ghost", ("no-such-program-xyz",)),
             ProbeSpec("slow", ("python", "-c", "import time; time.sleep(5)"), timeout_s=0.5)]
    ghost, slow = Prober(tmp_path, specs).run().checks
    assert not ghost.ok and "cannot run" in ghost.summary
    assert not slow.ok and slow.timed_out and "timed out after 0.5 s" in slow.summary


@pytest.mark.parametrize("output, code, summary", [
    ("1 failed, 2 passed in 0.03s", 1, "pytest: 1 failed, 2 passed"),
    ("3 passed, 1 warning in 0.1s", 0, "pytest: 3 passed, 1 warning"),
    ("no tests ran in 0.01s", 5, "pytest: no tests ran"),
    ("==== 1 error in 0.12s ====", 2, "pytest: 1 error"),
])
def test_pytest_summary_lines(output: str, code: int, summary: str) -> None:
    assert parse_pytest("pytest", code, output).summary == summary


def test_ruff_syntax_error_is_reported() -> None:
    parsed = parse_ruff(
        "ruff", 1, "m.py:2:5: invalid-syntax: Expected an expression\nFound 1 error.\n")
    assert not parsed.ok and parsed.counts == {"errors": 1} and "m.py:2:5" in parsed.details
    assert parsed.findings == ("m.py:2:5: invalid-syntax Expected an expression",)


def test_probe_specs_from_machine_yaml() -> None:
    specs = probe_specs_from_yaml([{"name": "mypy", "cmd": "mypy --strict .", "timeout_s": 9,
                                    "required": False}])
    assert specs == (ProbeSpec("mypy", ("mypy", "--strict", "."), "generic", 9.0, False),)
    assert probe_specs_from_yaml(None) == DEFAULT_PROBES
    with pytest.raises(ConfigError, match=r"probes\[0\]: unknown key"):
        probe_specs_from_yaml([{"name": "x", "cmd": "x", "shell": True}])
    with pytest.raises(ConfigError, match="`parser` must be one of"):
        probe_specs_from_yaml([{"name": "x", "cmd": "x", "parser": "eslint"}])


def test_report_round_trips_through_json(tmp_path: Path) -> None:
    report = Prober(project(tmp_path, GOOD, TEST)).run()
    assert ProbeReport.from_dict(report.to_dict()) == report


def test_probes_do_not_write_caches_into_the_workspace(tmp_path: Path) -> None:
    project(tmp_path, GOOD, TEST)
    Prober(tmp_path).run()
    names = {p.name for p in tmp_path.rglob("*")}
    assert not names & {".pytest_cache", ".ruff_cache", "__pycache__"}, names
