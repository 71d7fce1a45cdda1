"""`jetbox eval`: suites of tasks, offline, in parallel; failures never stop the suite."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from jetbox.commands.evaluate import DEFAULT_SUITE, load_suite
from tests.conftest import run_cli

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

OK_TASK = """\
goal: Create hello.py with hello() returning 'hi', with a test.
limits: {max_rounds: 5, timebox_s: 60}
offline_script:
  - write_file: {path: hello.py, content: "def hello():\\n    return 'hi'\\n"}
  - write_file:
      path: test_hello.py
      content: "from hello import hello\\n\\n\\ndef test_hello():\\n    assert hello() == 'hi'\\n"
  - finish: {summary: done}
"""
WRONG_TASK = """\
goal: Create two.py with two() returning 2.
check: [[python, -c, "from two import two; assert two() == 2"]]
limits: {max_rounds: 3, timebox_s: 60}
offline_script:
  - write_file: {path: two.py, content: "def two():\\n    return 3\\n"}
  - finish: {summary: wrong on purpose}
"""


def test_default_suite_has_eight_valid_tasks_that_all_pass_offline(tmp_path: Path) -> None:
    tasks = load_suite(DEFAULT_SUITE)
    assert len(tasks) >= 8 and all(t.offline_script for t in tasks)
    result = run_cli("eval", "--offline", "--jobs", "2", "--results", str(tmp_path / "r"))
    assert result.code == 0, result.err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    total = summary["rows"][-1]
    assert total["task"] == "TOTAL" and total["runs"] == len(tasks)
    assert total["success_rate"] == 1.0, [r for r in summary["runs"] if not r["success"]]


def test_a_failing_task_is_reported_and_does_not_stop_the_suite(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "a_ok.yaml").write_text(OK_TASK)
    (suite / "b_wrong.yaml").write_text(WRONG_TASK)
    (suite / "c_broken.yaml").write_text(OK_TASK.replace("finish: {summary: done}",
                                                         "finish: {summary: done}\n  - 42"))
    results = tmp_path / "results"
    out = run_cli("eval", str(suite), "--offline", "--runs", "2", "--jobs", "2", "--results",
                  str(results))
    assert out.code == 0, out.err
    rows = {r["task"]: r for r in csv.DictReader(open(results / "summary.csv"))}
    assert rows["a_ok"]["success_rate"] == "1.0" and rows["b_wrong"]["success_rate"] == "0.0"
    assert rows["c_broken"]["success_rate"] == "0.0" and rows["TOTAL"]["runs"] == "6"
    broken = [r for r in json.loads((results / "summary.json").read_text())["runs"]
              if r["task"] == "c_broken"]
    assert all(r["error"] for r in broken)
    assert "a_ok" in out.out and "TOTAL" in out.out and "success_rate" in out.out
    # A line on stderr as each run ends, so a suite of minutes is seen to move.
    ended = [line for line in out.err.splitlines() if line.startswith("[")]
    assert len(ended) == 6 and ended[-1].startswith("[6/6] "), out.err
    assert any(re.fullmatch(r"\[\d/6\] a_ok run 1: passed in [\d.]+ s", e) for e in ended)
    assert any("b_wrong run 2: failed (exit" in e for e in ended)
    assert any("c_broken run 1: could not run" in e for e in ended)
    for run in ("run1", "run2"):
        kept = sorted(p.name for p in (results / "a_ok" / run).iterdir())
        assert kept == ["agent.log", "agent_ledger.log", "status.txt"]
    metrics = json.loads((results / "summary.json").read_text())["rows"][0]
    assert metrics["model_calls"] == 3 and metrics["files_written"] == 2
    assert metrics["tokens_in"] > 0 and metrics["wall_s_median"] > 0


def test_bad_suites_are_clear_errors(tmp_path: Path) -> None:
    assert run_cli("eval", str(tmp_path / "nowhere")).code == 2
    (tmp_path / "t.yaml").write_text("goal: x\nwhatever: 1\n")
    result = run_cli("eval", str(tmp_path), "--offline")
    assert result.code == 2 and "unknown key(s) ['whatever']" in result.err


@pytest.mark.parametrize("missing", ["offline_script"])
def test_offline_needs_scripts(tmp_path: Path, missing: str) -> None:
    (tmp_path / "t.yaml").write_text("goal: x\n")
    result = run_cli("eval", str(tmp_path), "--offline")
    assert result.code == 2 and "needs an offline_script in: t" in result.err
