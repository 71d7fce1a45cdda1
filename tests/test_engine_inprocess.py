"""The Engine driven in this process (tests/enginekit.py): every way a run stops, pauses,
asks a person or refuses a finish, with a scripted model and data probes, in the quick tier.
The same behaviours through `jetbox run` with real ruff and pytest stay in the slow tier
(test_run.py, test_guards.py, test_custom_machine.py, test_resume_kill.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from jetbox.core.errors import MachineError, ModelDown
from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.round.handler import Handler, Step
from jetbox.round.run import Round, Run
from tests.enginekit import GOAL, PYTEST, machine_file, project, run_engine

LOOK = Turn(calls=(Call("list_dir", {"path": "."}),))
WRITE = Turn(calls=(Call("write_file", {"path": "hello.py", "content":
                                        "def greet(name):\n    return f'Hello, {name}!'\n"}),))
FINISH = Turn(calls=(Call("finish", {"summary": "greet written"}),))


@pytest.fixture
def workspace(workspace: Path) -> Path:
    return project(workspace)


@pytest.fixture
def machine(tmp_path: Path) -> Path:
    return machine_file(tmp_path / "machine")


def served(*turns: Turn) -> OfflineOllama:
    return OfflineOllama(ScriptResponder(list(turns)))


def test_a_run_goes_round_by_round_to_done(workspace: Path, machine: Path) -> None:
    with served(WRITE, FINISH) as server:
        ran = run_engine(workspace, machine, server.host, GOAL)
        assert len(server.requests) == 2
    assert ran.code == 0, ran.err
    assert ran.status["State"] == "Done" and ran.status["Status"].startswith("green - done")
    assert "pytest: 1 passed" in ran.status["Status"]
    pairs = [(t["source"], t["dest"]) for t in ran.records("transition")]
    assert pairs[:7] == [("Probe", "Compact"), ("Compact", "Plan"), ("Plan", "Ask"),
                         ("Ask", "Calls"), ("Calls", "Reflect"), ("Reflect", "Persist"),
                         ("Persist", "Probe")]
    assert pairs[-1] == ("Probe", "Done")
    assert "run summary (done)" in ran.out + ran.err


def test_the_ledger_keeps_the_start_of_a_long_thinking_and_the_model_hears_the_same(
        workspace: Path, machine: Path) -> None:
    # One reply, one value: the next request sends back the thinking as the ledger keeps it,
    # so a resumed run and one that never stopped ask the model the same.
    thought = "why " * 1500
    with served(replace(WRITE, thinking=thought), FINISH) as server:
        ran = run_engine(workspace, machine, server.host, GOAL)
        sent = [m for m in server.requests[1].messages if m["role"] == "assistant"]
    assert ran.code == 0, ran.err
    first = ran.records("model_reply")[0]
    assert first["thinking_chars"] == len(thought) == 6000
    assert first["thinking"] == sent[0]["thinking"] == thought[:4000]
    assert first["calls"] == [{"name": "write_file", "arguments": WRITE.calls[0].arguments}]


def test_a_finish_before_the_probes_pass_is_refused_and_the_model_told(
        workspace: Path, machine: Path) -> None:
    with served(FINISH, WRITE, FINISH) as server:
        ran = run_engine(workspace, machine, server.host, GOAL)
        second = json.dumps(server.requests[1].messages)
    assert ran.code == 0, ran.err
    refused = ran.records("finish_refused")
    assert len(refused) == 1
    assert "test_hello.py::test_greet" in json.dumps(refused[0])
    assert "finish was refused" in second
    assert ran.status["State"] == "Done"


@pytest.mark.parametrize(("settings", "limits", "reason"), [
    ({"max_rounds": 1}, None, "paused: round limit: 1 round this session"),
    ({}, {"max_rounds": 1, "timebox_s": 120}, "paused: round limit: 1 round this session"),
    ({"timebox_s": 0.001}, None, "paused: timebox"),
], ids=["max-rounds", "machine-limits", "timebox"])
def test_a_limit_pauses_with_exit_3_and_the_next_run_resumes_to_done(
        workspace: Path, tmp_path: Path, settings: dict[str, float],
        limits: dict[str, float] | None, reason: str) -> None:
    machine = machine_file(tmp_path / "machine", **({"limits": limits} if limits else {}))
    with served(WRITE, FINISH) as server:
        first = run_engine(workspace, machine, server.host, GOAL, **settings)
        assert first.code == 3, first.err
        assert reason in first.status["Status"]
        # The next invocation has time and rounds again (flags over machine.yaml).
        again = run_engine(workspace, machine, server.host, max_rounds=20, timebox_s=120)
        assert again.code == 0, again.err
    assert again.status["State"] == "Done"
    assert len(again.records("run_start")) == 1  # resumed, not started over
    assert len(again.records("model_reply")) == 2  # no reply asked twice


def test_a_stuck_model_pauses_in_the_pause_state_and_the_next_run_continues(
        workspace: Path, machine: Path) -> None:
    with served(LOOK, LOOK, LOOK, LOOK) as server:
        first = run_engine(workspace, machine, server.host, GOAL)
    assert first.code == 3, first.err
    assert first.status["State"] == "Pause"
    assert first.status["Status"].startswith("red - paused: loop")
    with served(WRITE, FINISH) as server:
        second = run_engine(workspace, machine, server.host)
        prompt = json.dumps(server.requests[0].messages)
    assert second.code == 0, second.err
    assert "The run was paused (loop: the model made the same call 4 times" in prompt
    assert "continuing after the pause" in second.err
    assert ("Pause", "Persist") in [(t["source"], t["dest"]) for t in second.records("transition")]


class Dawdle(Handler):
    """A Plan that answers with an outcome it never declared."""

    outcomes = ("planned",)

    def run(self, run: Run, now: Round) -> Step:
        return "dawdled", now


def test_a_handler_returning_an_undeclared_outcome_stops_the_run_red(
        workspace: Path, tmp_path: Path) -> None:
    machine = machine_file(tmp_path / "machine")
    machine.write_text(machine.read_text(encoding="utf-8").replace(
        "states.model:Plan", f"{__name__}:Dawdle"), encoding="utf-8")
    with served(WRITE) as server, pytest.raises(MachineError, match="does not declare"):
        run_engine(workspace, machine, server.host, GOAL)
    status = (workspace / "status.txt").read_text(encoding="utf-8")
    assert "red - handler of `Plan` returned `dawdled`, which it does not declare" in status
    lines = (workspace / "agent_ledger.log").read_text(encoding="utf-8").splitlines()
    kinds = [json.loads(line)["kind"] for line in lines]
    assert "error" in kinds and "model_reply" not in kinds  # stopped before Ask asked


class Peek(Handler):
    """A Plan that declares it reads only the status, and looks at the verdict anyway."""

    outcomes = ("planned",)
    reads = ("status",)
    writes = ("status",)
    appends = ()
    seen: list[object] = []

    def run(self, run: Run, now: Round) -> Step:
        Peek.seen.append(now.verdict)
        return "planned", now.with_status(next=("peeked",))


def test_a_handler_sees_only_the_fields_it_declares_it_reads(
        workspace: Path, tmp_path: Path) -> None:
    """`reads` holds by construction, in every run: what a resume may leave out (a state that
    reads only the status is entered directly) is what the handler never sees."""
    machine = machine_file(tmp_path / "machine")
    machine.write_text(machine.read_text(encoding="utf-8").replace(
        "states.model:Plan", f"{__name__}:Peek"), encoding="utf-8")
    Peek.seen.clear()
    with served(WRITE, FINISH) as server:
        ran = run_engine(workspace, machine, server.host, GOAL)
    assert ran.code == 0, ran.err
    assert Peek.seen == [None, None]  # Probe made a verdict each round; Peek did not declare it
    assert ran.records("probe")[0]["verdict"]  # ...and it was there to see


@pytest.mark.parametrize(("answer", "written", "rounds"),
                         [("yes", True, 3), ("no:tests first", False, 2)])
def test_an_approval_is_asked_then_answered_with_answer(
        workspace: Path, machine: Path, answer: str, written: bool, rounds: int) -> None:
    turns = [WRITE, FINISH] if written else [WRITE, LOOK, LOOK, LOOK]
    with served(*turns) as server:
        first = run_engine(workspace, machine, server.host, GOAL, approve="changes")
        assert first.code == 3, first.err
        assert first.status["State"] == "Wait"  # the pause state Approve waits in
        assert [r["line"].split(" (")[0] for r in first.records("approval_asked")] == [
            "write_file hello.py"]
        assert not (workspace / "hello.py").exists()  # nothing before the answer
        again = run_engine(workspace, machine, server.host, answer=f"q1={answer}",
                           max_rounds=rounds)
        told = json.dumps(server.requests[-1].messages)
    answered = again.records("approval_answered")
    assert [(a["answer"], a["via"]) for a in answered] == [(answer.partition(":")[0],
                                                             "--answer")]
    assert (workspace / "hello.py").exists() is written
    if written:
        assert again.code == 0, again.err
        assert again.status["State"] == "Done"
        assert len(server.requests) == 2  # the answer continued the journaled reply
    else:
        assert again.code == 3  # the round limit: the model was told and asked again
        assert "tests first" in told


def test_a_run_stopped_before_its_model_call_goes_on_from_the_rounds_start(
        workspace: Path, machine: Path) -> None:
    """Ask reads what the round's Probe and Compact make, which no invocation outlives: the
    resume re-enters the round at Probe and reaches Ask through the real handlers."""
    with served(WRITE) as server, pytest.raises(ModelDown):
        run_engine(workspace, machine, server.host, GOAL)  # round 2's call: the script is spent
    status = (workspace / "status.txt").read_text(encoding="utf-8")
    assert "State: Ask" in status and "Round: 2" in status
    with served(FINISH) as server:
        again = run_engine(workspace, machine, server.host)
        assert len(server.requests) == 1
    assert again.code == 0, again.err
    resumed = again.records("resume")[-1]
    assert (resumed["state"], resumed["round"], resumed["instead_of"]) == ("Probe", 2, "Ask")
    assert "status.txt stood at Ask, which reads" in again.err
    probes = [r["round"] for r in again.records("probe")]
    assert probes.count(2) == 2  # round 2's probe, and again on the resume: no other path
    records = again.records()
    after = records[records.index(resumed) + 1:]
    assert [(t["source"], t["dest"]) for t in after if t["kind"] == "transition"][:4] == [
        ("Probe", "Compact"), ("Compact", "Plan"), ("Plan", "Ask"), ("Ask", "Calls")]
    assert again.status["State"] == "Done"


def test_a_pytest_judged_probe_that_is_not_pytest_gets_only_its_own_arguments(
        workspace: Path, tmp_path: Path) -> None:
    """The clean room warms its bytecode folder with `pytest --collect-only` (runner._warm):
    only a probe that runs pytest itself. A script judged by the pytest parser would have
    been started with pytest's arguments, in an empty folder."""
    calls = tmp_path / "calls.txt"
    logged = f"import sys\nopen({str(calls)!r}, 'a').write(repr(sys.argv[1:]) + '\\n')\n"
    machine = machine_file(tmp_path / "machine", pytest=logged + PYTEST)
    with served(WRITE, FINISH) as server:
        ran = run_engine(workspace, machine, server.host, GOAL)
    assert ran.code == 0, ran.err
    assert "room: " in ran.records("probe")[-1]["verdict"]  # judged in the clean room
    started = calls.read_text(encoding="utf-8").splitlines()
    assert len(started) >= 3 and not [a for a in started if "--collect-only" in a], started
