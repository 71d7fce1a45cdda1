"""Each handler on its own: the records it finds in the ledger and the round it is given in,
the outcome, round and records out. No subprocess and no server (see tests/unitkit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetbox.core.errors import MachineError
from jetbox.model.base import call
from jetbox.round.context import prefix_messages
from jetbox.round.conversation import Conversation
from jetbox.round.run import Round, Run
from jetbox.states.calls import Calls
from jetbox.states.close import Pause, Persist, Reflect
from jetbox.states.model import Ask, Compact, Plan
from jetbox.states.workspace import Done, Probe
from jetbox.store import queries
from jetbox.store.kinds import (
    Compaction,
    Intent,
    ModelReply,
    Reflection,
    Result,
    RoundEnd,
    RunEnd,
    ToolResult,
    Transition,
)
from jetbox.store.kinds import Planned as PlanRecord
from tests.unitkit import START, kinds, make_run, reply, report, result, round_at, scripted

ENTER_CALLS = {"kind": "transition", "source": "Ask", "dest": "Calls", "outcome": "asked",
               "round": 1}


def act(run: Run, now: Round) -> tuple[str | None, Round]:
    """Ask, the move the engine makes, then Calls: one model call and its calls."""
    outcome, now = Ask().run(run, now)
    assert outcome == "asked" and now.reply is not None
    run.ledger.append(Transition(source="Ask", dest="Calls", outcome="asked", round=now.round))
    return Calls().run(run, now.with_status(state="Calls"))


# Probe

def test_probe_records_the_baseline_once_and_the_verdict_each_time(tmp_path: Path) -> None:
    run = make_run(tmp_path, [START])
    outcome, now = Probe().run(run, round_at("Probe"))
    assert outcome == "probed" and now.report is not None
    _, now = Probe().run(run, now)
    assert kinds(run).count(queries.BASELINE) == 1 and kinds(run).count(queries.PROBE) == 2


def test_probe_reuses_results_only_when_nothing_was_done_since(tmp_path: Path) -> None:
    run = make_run(tmp_path, [START])
    _, now = Probe().run(run, round_at("Probe"))
    _, now = Probe().run(run, now)
    assert now.report is not None and now.report.reused
    run.ledger.append(Intent(action="cmd", argv=["pytest"], program="pytest"))
    _, now = Probe().run(run, now)
    assert now.report is not None and not now.report.reused


# Compact

def test_compact_builds_the_context_at_the_start_of_an_invocation(tmp_path: Path) -> None:
    run = make_run(tmp_path, [START, result("read_file", output="line one")])
    outcome, now = Compact().run(run, round_at("Compact", probes=report(failing=["t.py::x"])))
    assert outcome == "compacted" and now.conversation is not None
    state = now.conversation.messages()[2]["content"]
    assert "read_file" in state and "line one" in state and "t.py::x" in state
    assert queries.last_of(run.records(), Compaction).reason == "start of this invocation"


def test_compact_folds_the_last_round_in_and_keeps_the_prefix(tmp_path: Path) -> None:
    run = make_run(tmp_path, [START])
    conversation = Conversation(prefix_messages("g"), {"role": "user", "content": "state"})
    now = round_at("Compact", probes=report())
    from dataclasses import replace

    from jetbox.tools.toolbox import ToolResult
    now = replace(now, conversation=conversation, reply=call("list_dir", path="."),
                  results=(ToolResult("list_dir", True, "a.py"),))
    _, after = Compact().run(run, now)
    assert after.reply is None and after.results == ()
    assert after.conversation is not None
    messages = after.conversation.messages()
    assert messages[:2] == list(prefix_messages("g"))
    assert messages[-1] == {"role": "tool", "content": "a.py", "tool_name": "list_dir"}
    assert queries.COMPACTION not in kinds(run)


def test_compact_rebuilds_after_history_keep_rounds(tmp_path: Path) -> None:
    run = make_run(tmp_path, [START])
    conversation = Conversation(prefix_messages("g"), {"role": "user", "content": "s"},
                                rounds=run.compaction.history_keep + 1)
    from dataclasses import replace
    _, after = Compact().run(run, replace(round_at("Compact", probes=report()),
                                          conversation=conversation))
    assert "more than" in queries.last_of(run.records(), Compaction).reason
    assert after.conversation is not None and after.conversation.rounds == 0


# Plan

def test_plan_leads_with_the_goal_and_keeps_a_persons_own_items(tmp_path: Path) -> None:
    run = make_run(tmp_path, [START, {"kind": "baseline", "findings": [],
                                      "outcomes": {"t.py::test_ok": "passed"}}])
    now = round_at("Plan", probes=report(failing=["t.py::test_new"]),
                   next=("check the docs first",))
    outcome, now = Plan().run(run, now)
    assert outcome == "planned"
    assert now.status.next[0] == "check the docs first"
    assert now.status.next[1].startswith("work on the goal")
    assert any("t.py::test_new" in item for item in now.status.next)
    plans = [r for r in run.records() if isinstance(r, PlanRecord)]
    assert len(plans) == 1 and plans[0].person == ["check the docs first"]
    Plan().run(run, now)
    assert kinds(run).count(queries.PLAN) == 1  # unchanged: not recorded again


# Ask and Calls

def test_act_asks_the_model_with_the_plan_and_runs_its_calls(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    factory = scripted(call("read_file", path="a.py"))
    run = make_run(tmp_path, [START], model=factory)
    now = round_at("Ask", probes=report(), run=run, next=("work on the goal: fix the parser",))
    outcome, now = act(run, now)
    assert outcome == "acted" and [r.ok for r in now.results] == [True]
    sent = str(factory().requests[0])  # type: ignore[attr-defined]
    # the goal is in its own message: the plan names it instead of copying it
    assert "Plan:\\n- work on the goal (above)" in sent and "Goal: fix the parser" in sent
    assert kinds(run)[-3:] == [queries.MODEL_REPLY, Transition.KIND, queries.TOOL_RESULT]
    last = run.records()[-1]
    assert isinstance(last, ToolResult) and "x = 1" in last.output


def test_calls_finishes_a_journaled_reply_without_asking_again(tmp_path: Path) -> None:
    journal = [START,
               reply(("write_file", {"path": "a.py", "content": "A"}),
                     ("write_file", {"path": "b.py", "content": "B"})),
               ENTER_CALLS, result("write_file", changed=True),
               {"kind": "intent", "action": "write", "path": "b.py", "content": "B",
                "sha256": "x"}]
    run = make_run(tmp_path, journal)  # the model would fail the test if asked
    outcome, now = Calls().run(run, Round(round_at("Calls").status))  # as a resume enters it
    assert outcome == "acted" and len(now.results) == 1 and now.results[0].changed
    assert (tmp_path / "b.py").read_text() == "B" and not (tmp_path / "a.py").exists()
    assert queries.last_of(run.records(), Result).recovered == "applied on resume"
    assert queries.last_of(run.records(), ToolResult).index == 1


def test_act_records_a_reply_without_calls(tmp_path: Path) -> None:
    run = make_run(tmp_path, [START], model=scripted(ModelReply(content="I think...")))
    _, now = act(run, round_at("Ask", probes=report(), run=run))
    assert now.results == ()
    assert queries.last_of(run.records(), ToolResult).name == queries.NO_CALL


# Reflect

def test_reflect_sees_progress_in_a_changed_file(tmp_path: Path) -> None:
    run = make_run(tmp_path, [START, reply(("edit_file", {"path": "a.py"})),
                              result("edit_file", changed=True, arguments={"path": "a.py"})])
    outcome, now = Reflect().run(run, round_at("Reflect"))
    assert outcome == "reflected" and now.status.status == "green - progress"
    assert now.status.active == ("edit_file a.py",)


def test_reflect_is_stuck_after_loop_limit_same_calls(tmp_path: Path) -> None:
    same = [reply(("list_dir", {"path": "."}), round_no=n) for n in (1, 2, 3)]
    run = make_run(tmp_path, [START, *same, result("list_dir", round_no=3)], loop_limit=3)
    outcome, now = Reflect().run(run, round_at("Reflect", 3))
    assert outcome == "stuck" and now.status.status.startswith("yellow - repeating")
    assert "same call 3 times" in queries.last_of(run.records(), Reflection).guard


def test_reflect_counts_the_guards_from_the_resume(tmp_path: Path) -> None:
    same = [reply(("list_dir", {"path": "."}), round_no=n) for n in (1, 2, 3)]
    resumed = {"kind": "resume", "state": "Persist", "round": 3}
    run = make_run(tmp_path, [START, *same, resumed, reply(("list_dir", {"path": "."})),
                              result("list_dir")], loop_limit=3)
    outcome, _ = Reflect().run(run, round_at("Reflect", 4))
    assert outcome == "reflected"


def test_reflect_is_stuck_after_max_tool_errors_refusals(tmp_path: Path) -> None:
    refused = [result("run_cmd", ok=False, refused=True, index=i) for i in range(3)]
    run = make_run(tmp_path, [START, reply(("run_cmd", {"cmd": ["rm"]})), *refused],
                   max_tool_errors=3)
    outcome, now = Reflect().run(run, round_at("Reflect"))
    assert outcome == "stuck" and now.status.status.startswith("yellow - 3 of 3")


# Persist, Pause, Done

def test_persist_closes_the_round_in_the_ledger(tmp_path: Path) -> None:
    run = make_run(tmp_path, [START])
    now = round_at("Persist", 2, status="green - progress", next=("call finish",))
    outcome, after = Persist().run(run, now)
    assert (outcome, after) == ("persisted", now)
    last = run.records()[-1]
    assert isinstance(last, RoundEnd) and (last.round, last.next) == (2, ["call finish"])
    assert not (tmp_path / "status.txt").exists()  # the engine writes status.txt


def test_pause_hands_the_run_back(tmp_path: Path) -> None:
    run = make_run(tmp_path, [START, {"kind": "paused", "reason": "loop: list_dir"}])
    assert Pause().run(run, round_at("Pause"))[0] == "resumed"


def test_done_writes_the_runs_end_once(tmp_path: Path) -> None:
    run = make_run(tmp_path, [START, {"kind": "baseline", "findings": [], "outcomes": {}},
                              reply(("finish", {"summary": "ok"}))])
    outcome, now = Done().run(run, round_at("Done", 2, probes=report()))
    assert outcome is None and now.status.status.startswith("green - done: ")
    Done().run(run, now)
    assert kinds(run).count(queries.RUN_END) == 1
    assert queries.last_of(run.records(), RunEnd).metrics["model_calls"] == 1


def test_ask_without_a_conversation_says_to_keep_compact(tmp_path: Path) -> None:
    run = make_run(tmp_path, [START])  # the model would fail the test if asked
    with pytest.raises(MachineError, match="keep a Compact state before it"):
        Ask().run(run, round_at("Ask", probes=report()))


def test_calls_without_a_journaled_reply_says_to_keep_ask(tmp_path: Path) -> None:
    run = make_run(tmp_path, [START, ENTER_CALLS])
    with pytest.raises(MachineError, match="keep an Ask state before it"):
        Calls().run(run, round_at("Calls", probes=report()))


def test_ask_resumed_after_its_reply_was_journaled_does_not_ask_again(tmp_path: Path) -> None:
    enter_ask = {"kind": "transition", "source": "Plan", "dest": "Ask", "outcome": "planned",
                 "round": 1}
    run = make_run(tmp_path, [START, enter_ask, reply(("read_file", {"path": "a.py"}))])
    outcome, now = Ask().run(run, round_at("Ask"))  # the model would fail the test if asked
    assert outcome == "asked" and now.reply is not None
    assert [c.name for c in now.reply.calls] == ["read_file"]
    assert kinds(run).count(queries.MODEL_REPLY) == 1


def test_a_resume_enters_only_a_state_that_needs_nothing_but_the_status() -> None:
    """What Probe and Compact make lives in memory only: a resume re-enters their round at its
    start rather than entering a state that reads it (engine/resume.py)."""
    from jetbox.engine.usercode import load_handlers
    from jetbox.spec.machine import load_machine
    from tests.unitkit import PACKAGED_MACHINE

    handlers = load_handlers(load_machine(PACKAGED_MACHINE))
    direct = sorted(state for state, handler in handlers.items() if handler.resumes_here())
    assert direct == ["Approve", "Done", "Pause", "Persist", "Reflect", "Wait"]

    class Undeclared(Plan):
        reads = None  # written before declarations: resumed as reading everything

    assert Probe().resumes_here() is False and Undeclared().resumes_here() is False


def test_every_built_in_handler_declares_what_it_reads_writes_and_appends() -> None:
    from jetbox.engine.usercode import load_handlers
    from jetbox.spec.machine import load_machine
    from tests.unitkit import PACKAGED_MACHINE

    for state, handler in load_handlers(load_machine(PACKAGED_MACHINE)).items():
        assert handler.writes is not None and handler.appends is not None, state
    before = round_at("Plan")
    after = before.with_status(next=("x",))
    assert Plan().undeclared(before, after, []) == ""
    assert Persist().undeclared(before, after, []) == \
        "changed the round's status but declares writes=[]"
    assert "appended plan but declares appends=['round']" in \
        Persist().undeclared(before, before, [PlanRecord(round=1, items=[])])
