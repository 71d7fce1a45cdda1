"""The model's request (jetbox/round/context.py) on its own: the conversation value, notes of what
changed, folding, and the compacted state, from plain records and a probe report of data."""

from __future__ import annotations

from pathlib import Path

from jetbox.model.base import call
from jetbox.round.context import (
    compact,
    compaction_reason,
    exchange,
    notices,
    prefix_messages,
    recap,
)
from jetbox.round.conversation import Conversation, fold
from jetbox.spec.compaction import CompactionPolicy
from jetbox.store.kinds import FinishRefused, StatusRebuilt
from jetbox.tools.toolbox import ToolResult
from tests.unitkit import START, make_run, reply, report, result, round_at

STATE = {"role": "user", "content": "state"}


def test_a_new_round_folds_the_results_of_the_one_before() -> None:
    first = Conversation(prefix_messages("g"), STATE)
    one = first.with_round([{"role": "assistant", "content": ""},
                            {"role": "tool", "content": "x" * 100}], fold_chars=20)
    two = one.with_round([{"role": "tool", "content": "y" * 100}], fold_chars=20)
    assert first.exchanges == () and one.rounds == 1 and two.rounds == 2
    assert one.exchanges[1]["content"] == "x" * 100  # the value it came from is unchanged
    assert "chars elided" in two.exchanges[1]["content"]
    assert two.exchanges[2]["content"] == "y" * 100


def test_a_note_carries_only_what_changed_since_the_model_saw_it() -> None:
    seen = Conversation(prefix_messages("g"), STATE, shown={"plan": "Plan: a", "probes": "p1"})
    same = seen.with_note({"plan": "Plan: a", "probes": "p1"})
    assert same.exchanges == ()
    changed = seen.with_note({"plan": "Plan: b", "probes": "p1"})
    assert changed.exchanges == ({"role": "user", "content": "Plan: b"},)
    assert changed.shown == {"plan": "Plan: b", "probes": "p1"}


def test_an_exchange_keeps_results_whole_while_they_fit() -> None:
    reply_ = call("read_file", path="a.py")
    small = exchange(reply_, [ToolResult("read_file", True, "abc")], keep_chars=100)
    assert small[1] == {"role": "tool", "content": "abc", "tool_name": "read_file"}
    big = exchange(reply_, [ToolResult("read_file", True, "z" * 500)], keep_chars=100)
    assert len(big[1]["content"]) < 200 and "elided" in big[1]["content"]
    assert fold("short", 10) == "short"


def test_compaction_reasons() -> None:
    policy = CompactionPolicy(history_keep=2)
    fresh = Conversation(prefix_messages("g"), STATE)
    assert compaction_reason(None, policy, 0, 100) == "start of this invocation"
    assert compaction_reason(fresh, policy, 50, 100) is None
    assert "budget" in str(compaction_reason(fresh, policy, 150, 100))
    old = Conversation(prefix_messages("g"), STATE, rounds=3)
    assert "more than 2 rounds" in str(compaction_reason(old, policy, 50, 100))


def test_the_recap_is_deduplicated_newest_last() -> None:
    read = result("read_file", arguments={"path": "a.py"})
    records = [read, result("list_dir", arguments={"path": "."}), read,
               result("finish", arguments={"summary": "x"})]
    assert recap(records) == ["list_dir . (ok)", "read_file a.py (ok)"]
    # more distinct calls than the recap holds: the newest, each at its last use
    from jetbox.round.context import RECAP_ITEMS

    many = [result("read_file", arguments={"path": f"f{i % (RECAP_ITEMS + 3)}.py"})
            for i in range(3 * RECAP_ITEMS)]
    expected: dict[str, None] = {}
    for r in many:  # the rule, walked forward: an item moves to the end when used again
        expected.pop(f"read_file {r.arguments['path']} (ok)", None)
        expected[f"read_file {r.arguments['path']} (ok)"] = None
    assert recap(many) == list(expected)[-RECAP_ITEMS:]


def test_the_compacted_state_tells_a_persons_notes_from_jetboxs(tmp_path: Path) -> None:
    rebuilt = StatusRebuilt(reason="missing", notes=["rebuilt note"])
    run = make_run(tmp_path, [START, rebuilt, reply(("read_file", {"path": "a.py"})),
                              result("read_file", arguments={"path": "a.py"}, output="A1"),
                              FinishRefused(reasons=["fix t.py::x"])])
    now = round_at("Act", probes=report(failing=["t.py::x"]),
                   notes=("rebuilt note", "look at b.py"), next=("fix t.py::x",))
    state = compact(run, now).messages()[2]["content"]
    assert "Note: rebuilt note" in state and "Note from the person: look at b.py" in state
    assert "Your finish was refused: fix t.py::x" in state and "A1" in state
    assert set(notices(run, now)) == {"verdict", "blocking", "files", "plan", "refusal"}


def test_the_plan_names_the_goal_and_the_blockers_it_would_repeat(tmp_path: Path) -> None:
    from jetbox.states.model import plan_from_verdict

    run = make_run(tmp_path, [START])
    probes = report(failing=("t.py::test_new",))
    judged = round_at("Act", probes=probes, run=run)
    assert judged.verdict is not None and judged.verdict.blockers
    person = "check the docs first"
    now = round_at("Act", probes=probes, run=run,
                   next=(person, *plan_from_verdict(judged.verdict, judged.status.goal)))
    found = notices(run, now)
    plan = found["plan"].splitlines()
    assert plan[1:4] == [f"- {person}", "- work on the goal (above)",
                         "- fix pytest, goal (see Blocking a finish)"]
    # The ids are in the request once: the failure's line names the test by its short name.
    assert found["blocking"].count("t.py::test_new") == 1
    assert "FAILED test_new - assert 1 == 2" in found["blocking"]
    assert "t.py::test_new" not in found["plan"]
    # Marking a test known is the person's call: the hint is theirs, not in the model's request.
    assert any("Known: <test id>" in b for b in judged.verdict.blockers)
    assert "Known:" not in found["blocking"]
