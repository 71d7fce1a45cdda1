"""Issue 23: the model's request stays small (notes carry only what changed, the file tree is
summarised) without losing what the model needs: the goal's files, the run's files, the
failing tests, and the lines it read."""

from __future__ import annotations

import json
from pathlib import Path

from jetbox.probes.runner import CheckResult, ProbeReport
from jetbox.round.context import compact, exchange, notices
from jetbox.round.notes import files_delta, named_in, tree_summary
from jetbox.round.run import Round
from jetbox.store.kinds import ModelReply, ToolCall
from jetbox.store.status import Status
from jetbox.tools.toolbox import ToolResult
from tests.unitkit import START, make_run

GOAL = "Fix the date handling in parser.py so the tests pass"
DATA = tuple(f"data/corpus/{i // 1000:02d}/{i:04d}.json" for i in range(5000))
CODE = ("src/app/__init__.py", "src/app/core.py", "src/app/parser.py", "tests/test_parser.py")
FAILING = "tests/test_parser.py::test_iso_dates"
READ = "src/app/parser.py: lines 10-12 of 80\n10| def parse(text):\n11|     return text[:4]\n12| "


def big_report(extra: tuple[str, ...] = ()) -> ProbeReport:
    outcomes = {FAILING: "failed", "tests/test_parser.py::test_plain": "passed"}
    pytest = CheckResult("pytest", False, "pytest: 1 failed, 1 passed", f"FAILED {FAILING}", 1,
                         False, 0.2, {"failed": 1, "passed": 1}, outcomes=outcomes,
                         parser="pytest")
    ruff = CheckResult("ruff", True, "ruff: clean", "", 0, False, 0.1, {}, parser="ruff")
    return ProbeReport(tuple(sorted((*DATA, *CODE, *extra))), (ruff, pytest), "f")


def started(tmp_path: Path):
    """A run that edited src/app/core.py, at round 3 in Act with the probes above."""
    baseline = {"kind": "baseline", "findings": [],
                "outcomes": {FAILING: "failed", "tests/test_parser.py::test_plain": "passed"}}
    records = [START, baseline, {"kind": "intent", "action": "edit", "path": "src/app/core.py"},
               {"kind": "result", "intent": 3, "ok": True}]
    run = make_run(tmp_path, records)
    now = run.judged(Round(Status(goal=GOAL, state="Act", round=3, next=(f"fix {FAILING}",))),
                     big_report())
    return run, now


def test_in_a_5000_file_tree_the_model_sees_the_goals_the_runs_and_the_failing_files(
        tmp_path: Path) -> None:
    run, now = started(tmp_path)
    state = compact(run, now).messages()[2]["content"]
    assert "src/app/parser.py" in state        # named by the goal (by its file name)
    assert "src/app/core.py" in state          # changed by the run
    assert "tests/test_parser.py" in state     # the failing test's file
    assert FAILING in state                    # the failing test by name
    assert "data/corpus/ 5000" in state        # the rest, counted per folder
    assert state.count("data/corpus/00/0") == 0  # not the first N paths in sort order
    assert len(state) < 3000


def test_a_note_carries_only_what_changed_and_the_read_lines_stay(tmp_path: Path) -> None:
    run, now = started(tmp_path)
    conversation = compact(run, now)
    read = ModelReply(calls=(ToolCall("read_file", {"path": "src/app/parser.py",
                                                    "start_line": 10, "end_line": 12}),))
    conversation = conversation.with_round(exchange(read, [ToolResult("read_file", True, READ)],
                                                    4000), 1500)
    quiet = conversation.with_note(notices(run, now))
    assert quiet.messages()[-1]["content"] == READ  # nothing changed: no note at all
    made = run.judged(now, big_report(extra=("src/app/generated.py",)))
    noted = quiet.with_note(notices(run, made))
    note = noted.messages()[-1]["content"]
    assert note == "new files: src/app/generated.py"
    assert READ in [m["content"] for m in noted.messages()]  # the lines it read, next round


def test_a_file_the_models_own_call_wrote_is_not_repeated_and_its_content_not_sent_back(
        ) -> None:
    write = ModelReply(calls=(ToolCall("write_file", {"path": "pkg/new.py",
                                                      "content": "x = 1\n" * 100}),))
    messages = exchange(write, [ToolResult("write_file", True, "wrote pkg/new.py", changed=True)],
                        4000)
    arguments = messages[0]["tool_calls"][0]["function"]["arguments"]
    assert arguments["path"] == "pkg/new.py" and "600 chars" in arguments["content"]
    assert files_delta("a.py", "a.py\npkg/new.py", {"pkg/new.py"}) == ""
    assert files_delta("a.py\nb.py", "a.py", ()) == "files gone: b.py"


def test_tree_summary_of_a_small_project_lists_every_file() -> None:
    assert tree_summary(["a.py", "tests/test_a.py"], ()) == "files (2): a.py, tests/test_a.py"
    assert named_in(["see pkg/io.py and README"], ["pkg/io.py", "README", "x/io.py"]) == \
        {"pkg/io.py", "README"}


def test_the_request_is_smaller_than_the_old_one_in_the_5000_file_tree(tmp_path: Path) -> None:
    run, now = started(tmp_path)
    size = len(json.dumps(compact(run, now).messages()))
    assert size < 2600, size
