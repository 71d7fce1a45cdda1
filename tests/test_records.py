"""The ledger's named queries (jetbox/store/queries.py) and the resume's position and pending reply
(jetbox/engine/resume.py), on plain lists of records."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from jetbox.engine.resume import begin, decide
from jetbox.round.run import pending_reply
from jetbox.spec.machine import PACKAGED_MACHINE, load_machine
from jetbox.store import queries
from jetbox.store.kinds import (
    FinishRefused,
    Intent,
    Paused,
    Probed,
    Reflection,
    Refused,
    Result,
    Resume,
    StatusDisagrees,
    ToolCall,
    Transition,
)
from jetbox.store.ledger import Ledger
from jetbox.store.status import StatusFile
from tests.unitkit import GOAL, START, reply, result

PROBE = Probed(failures=2)
INTENT = Intent(action="cmd", seq=40)
REFUSED = FinishRefused(reasons=["fix t.py::x"])


def move(source: str, dest: str, round_no: int = 1) -> Transition:
    return Transition(source=source, dest=dest, outcome="x", round=round_no)


def test_current_run_starts_at_the_last_run_start() -> None:
    old, new = replace(START, goal="old"), START
    assert queries.current_run([old, PROBE, new, PROBE]) == [new, PROBE]
    assert queries.run_goal(queries.current_run([old, new])) == GOAL
    assert queries.run_goal([PROBE]) is None


def test_finish_is_requested_until_a_probe_refuses_it() -> None:
    finish = reply(("finish", {"summary": "done"}))
    assert queries.finish_requested([START, finish])
    assert not queries.finish_requested([START, finish, REFUSED])
    assert not queries.finish_requested([START, reply(("list_dir", {"path": "."}))])
    assert queries.unanswered_refusal([finish, REFUSED]) == ["fix t.py::x"]
    assert queries.unanswered_refusal([REFUSED, finish]) is None


def test_an_action_since_the_last_probe_forbids_reusing_it() -> None:
    assert queries.acted_since_probe([START])
    assert not queries.acted_since_probe([START, INTENT, PROBE])
    assert queries.acted_since_probe([START, PROBE, INTENT])


def test_latest_results_are_those_after_the_newest_reply() -> None:
    a, b = result("read_file"), result("edit_file", index=1)
    records = [reply(("x", {})), result("old"), reply(("y", {}), ("z", {})), a, b]
    assert queries.latest_results(records) == [a, b]


def test_the_malformed_streak_spans_replies_and_stops_at_an_ok_or_failed_call() -> None:
    refused = result("run_cmd", ok=False, refused=True)
    none = result(queries.NO_CALL, ok=False)
    assert queries.malformed_streak([refused, reply(), none, refused]) == 3
    assert queries.malformed_streak([refused, result("x", ok=False), refused]) == 1
    assert queries.malformed_streak([refused, result("x")]) == 0


def test_the_same_call_streak_and_the_guard_count_from_the_resume() -> None:
    same = reply(("list_dir", {"path": "."}))
    records = [START, reply(("read_file", {})), same, same, same]
    streak, first = queries.same_call_streak(records)
    assert streak == 3 and first == ToolCall("list_dir", {"path": "."})
    resumed = [*records, Resume(state="Pause", round=4), same]
    assert queries.same_call_streak(queries.since_resume(resumed))[0] == 1


def test_progress_and_stall_queries() -> None:
    assert queries.failures_dropped([PROBE, Probed(failures=1)])
    assert not queries.failures_dropped([PROBE, PROBE])
    # an old probe without a count
    assert not queries.failures_dropped([Probed(), Probed(failures=1)])
    reflections = [Reflection(round=2, stalled=2, guard="")]
    assert queries.stalled_rounds(reflections) == 2 and queries.reflected_in(reflections, 2)
    assert queries.guard_reason([*reflections, Reflection(guard="loop")]) == "loop"


def test_position_is_the_last_record_naming_a_state_and_round() -> None:
    assert queries.position([START], "Probe") == queries.Position(GOAL, "Probe", 1)
    records = [START, move("Probe", "Compact"), Paused(state="Act", round=2)]
    assert queries.position(records, "Probe") == queries.Position(GOAL, "Act", 2)
    assert queries.position([PROBE], "Probe") is None


def test_a_pending_reply_says_which_call_is_next_and_what_it_began() -> None:
    calls = reply(("write_file", {"path": "a"}), ("run_cmd", {"cmd": ["pytest"]}))
    began = Intent(action="cmd", seq=9)
    records = [START, move("Plan", "Act"), calls, result("write_file"), began]
    pending = pending_reply(records, "Act")
    assert pending is not None and pending.next_index == 1
    assert [c.name for c in pending.reply.calls] == ["write_file", "run_cmd"]
    assert pending.intent == began and pending.result is None
    finished = Result(intent=9, ok=True)
    assert pending_reply([*records, finished], "Act").result == finished
    # A reply from an earlier visit of Act is not pending in this one.
    assert pending_reply([*records, move("Act", "Reflect"), move("Persist", "Act")],
                         "Act") is None


def test_summaries_count_what_landed() -> None:
    intent = Intent(action="write", path="a.py", seq=5)
    records = [intent, Result(intent=5, ok=True), Intent(action="write", path="b.py", seq=7),
               move("Persist", "Probe", 2), result("x", ok=False), Refused()]
    assert queries.files_written(records) == ("a.py",)
    assert queries.completed_rounds(records, "Probe") == 1
    assert queries.tool_errors(records) == 1 and queries.count(records, queries.REFUSAL) == 1
    assert queries.visited_states(records) == ["Persist", "Probe"]


def test_begin_lets_the_ledger_win_over_a_stale_status(tmp_path: Path) -> None:
    spec = load_machine(PACKAGED_MACHINE)
    ledger = Ledger(tmp_path / "agent_ledger.log", fsync=False)
    status_file = StatusFile(tmp_path / "status.txt")
    started = begin(decide(GOAL, False, ledger, status_file), GOAL, spec, ledger, status_file)
    assert not status_file.path.exists()  # the engine writes it: status.txt's one writer
    status_file.write(started)
    assert (started.state, queries.current_run(ledger.records())[0].kind) == ("Probe",
                                                                             queries.RUN_START)
    ledger.append(Transition(source="Probe", dest="Compact", outcome="probed", round=1))
    # status.txt still says Probe
    resumed = begin(decide(None, False, ledger, status_file), None, spec, ledger, status_file)
    assert resumed.state == "Compact"
    disagrees = queries.last_of(ledger.records(), StatusDisagrees)
    assert disagrees is not None and disagrees.resolution == "the ledger wins"
    (tmp_path / "status.txt").unlink()
    rebuilt = begin(decide(None, False, ledger, status_file), None, spec, ledger, status_file)
    assert rebuilt.state == "Compact" and rebuilt.status.startswith("yellow - status.txt rebuilt")
    assert queries.last(ledger.records(), queries.STATUS_EDITED) is None


def test_begin_re_enters_a_round_at_its_start_unless_its_state_needs_only_the_status(
        tmp_path: Path) -> None:
    """Ask, Plan and Compact read what the round's Probe and Compact made in memory: resumed
    there, the round starts again at Probe. A journaled reply, or a state that reads only the
    status (Reflect, Done...), is entered where the run stood."""
    from jetbox.engine.usercode import load_handlers

    spec = load_machine(PACKAGED_MACHINE)
    enterable = [s for s, h in load_handlers(spec).items() if h.resumes_here()]
    to_ask = [move("Probe", "Compact"), move("Compact", "Plan"), move("Plan", "Ask")]
    journaled = reply(("read_file", {"path": "a.py"}))
    cases = {"Plan": (to_ask[:2], "Probe"), "Ask": (to_ask, "Probe"),
             "Ask, reply journaled": ([*to_ask, journaled], "Ask"),
             "Calls": ([*to_ask, journaled, move("Ask", "Calls")], "Calls"),
             "Reflect": ([*to_ask, journaled, move("Ask", "Calls"), move("Calls", "Reflect")],
                         "Reflect"),
             "Done": ([move("Probe", "Done")], "Done")}
    for index, (label, (records, entered)) in enumerate(cases.items()):
        ledger = Ledger(tmp_path / f"ledger{index}.log", fsync=False)
        status_file = StatusFile(tmp_path / f"status{index}.txt")
        status_file.write(begin(decide(GOAL, False, ledger, status_file), GOAL, spec, ledger,
                                status_file))
        for record in records:
            ledger.append(record)
        stood = records[-1].dest if isinstance(records[-1], Transition) else "Ask"
        status_file.write(status_file.read().with_(state=stood))
        resumed = begin(decide(None, False, ledger, status_file), None, spec, ledger,
                        status_file, enterable=enterable)
        assert resumed.state == entered, label
        record = queries.last_of(ledger.records(), Resume)
        assert record is not None and record.state == entered, label
        assert record.instead_of == (stood if entered != stood else None), label


def test_the_visit_start_walked_back_agrees_with_a_walk_from_the_start() -> None:
    """visit_start walks back from the newest record; the rule it keeps is the forward one:
    the newest transition into the state that no answer since the transition before it
    makes a return from a question."""
    import random

    from jetbox.store.kinds import Answered, ModelReply

    def forward(records: list, state: str) -> int:
        start, answered = 0, False
        for i, record in enumerate(records):
            moved = isinstance(record, Transition)
            start = i if moved and record.dest == state and not answered else start
            answered = isinstance(record, Answered) or (answered and not moved)
        return start

    rng = random.Random(24)
    makes = [lambda: Transition(source="Approve", dest=rng.choice(["Act", "Approve", "Probe"])),
             lambda: Answered(), lambda: ModelReply(), lambda: Probed()]
    for _ in range(2000):
        records = [rng.choice(makes)() for _ in range(rng.randint(0, 14))]
        assert queries.visit_start(records, "Act") == forward(records, "Act"), records
