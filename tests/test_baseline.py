"""Done judged against where the run started: pre-existing lint is not the run's, tests
that fail must pass unless a person marks them known, a goal without tests can finish."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from tests.conftest import run_cli, status_fields

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

LEGACY = "import os\nimport sys\n\n\ndef add(a, b):\n    return a - b\n"
TEST = "from pkg import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
FIX = Call("edit_file", {"path": "pkg/__init__.py", "old": "return a - b", "new": "return a + b"})
FINISH = Call("finish", {"summary": "fixed add"})


def legacy_project(ws: Path) -> Path:
    """Two pre-existing F401 findings and one failing test."""
    (ws / "pkg").mkdir()
    (ws / "pkg" / "__init__.py").write_text(LEGACY)
    (ws / "tests").mkdir()
    (ws / "tests" / "test_pkg.py").write_text(TEST)
    return ws


def records(ws: Path, kind: str) -> list[dict]:
    lines = (ws / "agent_ledger.log").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


def run(ws: Path, server: OfflineOllama, *extra: str, goal: str | None = "Fix add") -> object:
    return run_cli("run", *([goal] if goal else []), "-w", str(ws), "--host", server.host,
                   "--sandbox", "none", *extra)


def test_pre_existing_lint_does_not_block_and_the_summary_states_the_verdict(
        workspace: Path) -> None:
    legacy_project(workspace)
    with OfflineOllama(ScriptResponder([Turn(calls=(FIX,)), Turn(calls=(FINISH,))])) as server:
        result = run(workspace, server)
        first_prompt = json.dumps(server.requests[0].messages)
    assert result.code == 0, result.err
    verdict = "ruff: 0 new (2 pre-existing, not yours); pytest: 1 passed, 0 regressions"
    assert verdict in result.err
    room = "room: fail->pass 1/1, pass->pass 0/0"
    assert status_fields(workspace)["Status"] == f"green - done: {verdict}; {room}"
    baseline = records(workspace, "baseline")[0]
    assert len(baseline["findings"]) == 2
    assert baseline["outcomes"] == {"tests/test_pkg.py::test_add": "failed"}
    plan = records(workspace, "plan")[0]["items"]
    assert plan[0] == "work on the goal: Fix add"
    assert not any("F401" in item for item in plan)
    # The model is told the findings are not its own; it is not shown them (not a lint goal).
    assert "2 pre-existing, not yours" in first_prompt
    assert "pre-existing ruff findings" not in first_prompt


def test_a_new_finding_in_a_changed_file_blocks_the_finish(workspace: Path) -> None:
    legacy_project(workspace)
    careless = Call("edit_file", {"path": "pkg/__init__.py", "old": "return a - b",
                                  "new": "import json\n    return a + b"})
    tidy = Call("edit_file", {"path": "pkg/__init__.py", "old": "import json\n", "new": ""})
    script = [Turn(calls=(careless,)), Turn(calls=(FINISH,)), Turn(calls=(tidy,)),
              Turn(calls=(FINISH,))]
    with OfflineOllama(ScriptResponder(script)) as server:
        result = run(workspace, server)
        after_refusal = json.dumps(server.requests[2].messages)
    assert result.code == 0, result.err
    refused = records(workspace, "finish_refused")
    assert len(refused) == 1
    assert "ruff: 1 new finding in files you changed" in refused[0]["reasons"][0]
    assert "F401" in refused[0]["reasons"][0] and "json" in refused[0]["reasons"][0]
    assert "ruff findings this run caused:" in after_refusal


def test_a_test_failing_at_the_start_must_pass_unless_a_person_marks_it_known(
        workspace: Path) -> None:
    legacy_project(workspace)
    with OfflineOllama(ScriptResponder([Turn(calls=(FINISH,))] * 2)) as server:
        # A goal that asks for no change: "Fix add" would need one (tests/test_verdict_*.py).
        first = run(workspace, server, "--max-rounds", "2", goal="Check that the tests pass")
    assert first.code == 3
    reasons = records(workspace, "finish_refused")[0]["reasons"]
    assert reasons == ["pytest: 1 test fails: tests/test_pkg.py::test_add (mark a test known "
                       "with a `Known: <test id>` line in status.txt or the known_failures "
                       "setting)"]
    status = workspace / "status.txt"
    status.write_text(status.read_text() + "Known: tests/test_pkg.py::test_add\n")
    with OfflineOllama(ScriptResponder([])) as server:
        second = run(workspace, server, goal=None)
        assert not server.requests  # the journaled finish is verified again, no model call
    assert second.code == 0, second.err
    assert "pytest: 1 failed, 0 regressions, 1 known failures" in second.err
    assert "Known: tests/test_pkg.py::test_add" in status.read_text()


def test_known_failures_setting_names_tests_that_may_still_fail(workspace: Path) -> None:
    legacy_project(workspace)
    with OfflineOllama(ScriptResponder([Turn(calls=(FINISH,))])) as server:
        result = run_cli("run", "Tidy up", "-w", str(workspace), "--host", server.host,
                         "--sandbox", "none", "--known-failures",
                         "tests/test_pkg.py::test_add")
    assert result.code == 0, result.err


def test_a_passing_test_that_stops_running_is_a_regression(workspace: Path) -> None:
    legacy_project(workspace)
    (workspace / "pkg" / "__init__.py").write_text("def add(a, b):\n    return a + b\n")
    empty = Call("write_file", {"path": "tests/test_pkg.py", "content": "\n"})
    script = [Turn(calls=(empty,)), Turn(calls=(FINISH,)), Turn(calls=(FINISH,))]
    with OfflineOllama(ScriptResponder(script)) as server:
        result = run(workspace, server, "--max-rounds", "3")
    assert result.code == 3
    reasons = records(workspace, "finish_refused")[0]["reasons"]
    # The clean room runs the original file, where test_add passes; the run's version of
    # the file no longer has it, and that is what blocks.
    assert any("the run's version of tests/test_pkg.py no longer runs "
               "tests/test_pkg.py::test_add (gone" in r for r in reasons), reasons


def test_a_lint_goal_in_a_project_without_tests_can_finish(workspace: Path) -> None:
    (workspace / "tool.py").write_text("import os\n\nprint('hi')\n")
    fix = Call("edit_file", {"path": "tool.py", "old": "import os\n\n", "new": ""})
    with OfflineOllama(ScriptResponder([Turn(calls=(fix,)), Turn(calls=(FINISH,))])) as server:
        result = run(workspace, server, goal="Remove the unused import in tool.py")
    assert result.code == 0, result.err
    assert "ruff: clean; pytest: no tests ran (the goal does not ask for tests)" in result.err


def test_a_goal_that_asks_for_tests_needs_tests(workspace: Path) -> None:
    (workspace / "tool.py").write_text("print('hi')\n")
    with OfflineOllama(ScriptResponder([Turn(calls=(FINISH,))] * 2)) as server:
        result = run(workspace, server, "--max-rounds", "2", goal="Add tests for tool.py")
    assert result.code == 3
    assert "the goal asks for tests" in records(workspace, "finish_refused")[0]["reasons"][0]
