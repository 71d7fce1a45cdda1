"""A person in the loop: which calls are put to them, and the answers given without a
terminal (exit 3, status.txt's `Approve:` line, --answer), through the offline Ollama."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetbox.core.errors import ConfigError
from jetbox.model.base import ToolCall
from jetbox.offline import Call
from jetbox.round.approval import (
    Answer,
    approval_mode,
    call_kind,
    needs_approval,
    parse_answer,
    skipped,
)
from jetbox.spec.config import resolve_settings
from jetbox.store import journal
from jetbox.store.acts import Answer as Answered
from jetbox.store.acts import ApprovalMode, Question
from jetbox.store.kinds import ModelReply, RunStart, ToolResult, Transition
from jetbox.store.ledger import Ledger
from jetbox.store.status import Status, parse
from tests.approvekit import (
    EDIT,
    FINISH,
    GOAL,
    PYTEST,
    asked,
    commands_run,
    kinds,
    project,
    run_args,
    server,
    tool_messages,
)
from tests.conftest import ROOT, run_cli, status_fields

READ = Call("read_file", {"path": "app.py"})


@pytest.mark.parametrize(("text", "answer"), [
    ("yes", Answer("yes")), ("Y\n", Answer("yes")), ("always", Answer("always")),
    ("no", Answer("no")), ("no because tests first", Answer("no", "tests first")),
    ("n: too slow ", Answer("no", "too slow")), ("no:use ruff", Answer("no", "use ruff")),
    ("q", Answer("quit")), ("nope", None), ("maybe", None), ("", None),
    ('run_cmd ["pytest", "-q"]', None)])
def test_answers_are_read_as_a_person_writes_them(text: str, answer: Answer | None) -> None:
    assert parse_answer(text) == answer


def test_the_allow_list_matches_whole_words_of_the_resolved_argv() -> None:
    skip = ("pytest -q", "ruff check")
    assert skipped(["pytest", "-q", "tests/"], skip)
    assert skipped(["ruff", "check", "."], skip)
    assert not skipped(["pytest"], skip)            # a prefix of the entry is not enough
    assert not skipped(["pytest", "-qx"], skip)     # words, not characters
    assert not skipped(["ruff", "format", "."], skip)
    cmd = ToolCall("run_cmd", {"cmd": "PYTEST.EXE -q"})  # resolved as the policy names it
    assert not needs_approval("commands", skip, cmd)
    assert call_kind(cmd) == "run_cmd pytest"


@pytest.mark.parametrize(("mode", "expected"), [
    ("never", set()), ("commands", {"run_cmd"}),
    ("changes", {"run_cmd", "edit_file", "write_file"}),
    ("all", {"run_cmd", "edit_file", "write_file", "read_file", "finish"})])
def test_each_mode_puts_its_calls_to_a_person(mode: str, expected: set[str]) -> None:
    calls = [ToolCall("run_cmd", {"cmd": ["pytest"]}), ToolCall("edit_file", EDIT.arguments),
             ToolCall("write_file", {"path": "a.py", "content": ""}),
             ToolCall("read_file", {"path": "a.py"}), ToolCall("finish", {"summary": "x"})]
    assert {c.name for c in calls if needs_approval(mode, (), c)} == expected


def test_a_call_the_tools_refuse_anyway_is_asked_about_only_under_all() -> None:
    broken = ToolCall("edit_file", {"path": "a.py"})  # no old/new: the toolbox refuses it
    assert not needs_approval("changes", (), broken) and needs_approval("all", (), broken)
    assert not needs_approval("commands", (), ToolCall("run_cmd", {"cmd": 5}))


def test_the_settings_come_from_a_list_or_a_comma_separated_string(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.jetbox]\napprove_skip = ["pytest -q"]\n')
    settings = resolve_settings({}, tmp_path, {"JETBOX_APPROVE": "changes"}, {})
    assert (settings.approve, settings.approve_skip) == ("changes", ("pytest -q",))
    env = {"JETBOX_APPROVE_SKIP": "pytest -q, ruff check"}
    assert resolve_settings({}, tmp_path, env, {}).approve_skip == ("pytest -q", "ruff check")
    with pytest.raises(ConfigError, match="`approve` must be one of never, commands"):
        resolve_settings({}, tmp_path, {"JETBOX_APPROVE": "sometimes"}, {})
    with pytest.raises(ConfigError, match="`approve_skip` must be"):
        resolve_settings({"approve_skip": [1, 2]}, tmp_path, {}, {})


def test_the_mode_a_run_was_given_holds_on_resume_until_given_again(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "agent_ledger.log")
    ledger.append(RunStart(goal="g"))
    changes = resolve_settings({}, tmp_path, {}, {"approve": "changes"})
    assert approval_mode(changes, True, ledger.current_run(), ledger).approve == "changes"
    default = resolve_settings({}, tmp_path, {}, {})
    assert approval_mode(default, False, ledger.current_run(), ledger).approve == "changes"
    never = resolve_settings({}, tmp_path, {}, {"approve": "never"})
    assert approval_mode(never, True, ledger.current_run(), ledger).approve == "never"
    assert approval_mode(default, False, ledger.current_run(), ledger).approve == "never"
    assert [r.mode for r in ledger.records() if isinstance(r, ApprovalMode)] == \
        ["changes", "never"]


def test_status_txt_keeps_the_question_on_one_escaped_line() -> None:
    status = Status(goal="g", state="Approve", approve='write_file a.py\nState: Done')
    text = status.render()
    assert 'Approve: write_file a.py\\x0aState: Done\n' in text
    assert parse(text) == status and parse(text).state == "Approve"
    assert "Approve:" not in Status(goal="g", state="Act").render()


def test_a_return_from_an_answer_continues_the_reply_it_interrupted() -> None:
    records = [RunStart(seq=1, goal="g"), Transition(seq=2, dest="Act", source="Plan"),
               ModelReply(seq=3), ToolResult(seq=4, index=0),
               Question(seq=5, reply=3, index=1),
               Transition(seq=6, dest="Approve", source="Act"),
               Answered(seq=7, asked=5, answer="yes"),
               Transition(seq=8, dest="Act", source="Approve")]
    journaled = journal.journaled_reply(records, "Act")
    assert journaled is not None and journaled.reply.seq == 3 and journaled.next_index == 1
    # A later, ordinary entry into Act (a new round) starts afresh.
    records.append(Transition(seq=9, dest="Act", source="Plan"))
    assert journal.journaled_reply(records, "Act") is None


def test_jetbox_graph_shows_the_approve_state() -> None:
    result = run_cli("graph", "--machine", str(ROOT / "machine.yaml"))
    assert result.code == 0
    assert "Act --> Approve: ask" in result.out and "Approve --> Act: answered" in result.out


def test_a_bad_answer_flag_is_a_usage_error(workspace: Path) -> None:
    result = run_cli("run", "-w", str(workspace), "--answer", "perhaps")
    assert result.code == 2 and "--answer 'perhaps'" in result.err


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "expected"), [
    ("never", []),
    ("commands", ['run_cmd ["pytest", "-q"]']),
    ("changes", ["edit_file app.py", 'run_cmd ["pytest", "-q"]']),
    ("all", ["read_file {\"path\": \"app.py\"}", "edit_file app.py",
             'run_cmd ["pytest", "-q"]', 'finish {"summary": "count is 11"}'])])
def test_each_mode_asks_before_its_calls_and_each_yes_runs_the_call_once(
        mode: str, expected: list[str], workspace: Path) -> None:
    project(workspace)
    with server([READ, EDIT, PYTEST], [FINISH]) as ollama:
        result = run_cli(*run_args(workspace, ollama.host, "--approve", mode), GOAL)
        for _ in expected:  # one invocation per question, each answered with --answer
            assert result.code == 3, result.err
            assert status_fields(workspace)["State"] == "Approve"
            result = run_cli(*run_args(workspace, ollama.host, "--answer", "yes"))
        assert result.code == 0, result.err
        assert len(ollama.requests) == 2  # answers continue the journaled reply
    assert asked(workspace) == expected
    assert (workspace / "app.py").read_text() == "count = 11\n"
    assert commands_run(workspace) == ["pytest"]
    if expected:
        assert "approvals" in result.out and f"{len(expected)} asked in the run" in result.out


@pytest.mark.slow
def test_without_a_terminal_the_person_answers_on_the_status_line(workspace: Path) -> None:
    project(workspace)
    ruff = Call("run_cmd", {"cmd": ["ruff", "check", "."]})
    with server([ruff, EDIT], [FINISH]) as ollama:
        first = run_cli(*run_args(workspace, ollama.host, "--approve", "commands"), GOAL)
        assert first.code == 3
        status = workspace / "status.txt"
        text = status.read_text(encoding="utf-8")
        assert 'Approve: run_cmd ["ruff", "check", "."]\n' in text
        assert status_fields(workspace)["State"] == "Approve"
        again = run_cli(*run_args(workspace, ollama.host))  # unanswered: asked again, no run
        assert again.code == 3 and commands_run(workspace) == []
        status.write_text(status.read_text(encoding="utf-8").replace(
            'Approve: run_cmd ["ruff", "check", "."]', "Approve: no because lint at the end"))
        resumed = run_cli(*run_args(workspace, ollama.host))
        assert resumed.code == 0, resumed.err
        shown = tool_messages(ollama.requests[1])
    assert any("the person refused: lint at the end" in m for m in shown)
    assert commands_run(workspace) == []  # refused: never ran
    assert asked(workspace) == ['run_cmd ["ruff", "check", "."]']  # asked once, answered once
    answers = kinds(workspace, "approval_answered")
    assert [(a["answer"], a["reason"], a["via"]) for a in answers] == \
        [("no", "lint at the end", "status.txt")]
    declined = [r for r in kinds(workspace, "tool_result") if r.get("declined")]
    assert len(declined) == 1 and declined[0]["name"] == "run_cmd"
    assert (workspace / "app.py").read_text() == "count = 11\n"  # the edit was not held up
    assert "0 approved, 1 refused" in resumed.out  # the summary, on stdout
    log = run_cli("log", "-w", str(workspace)).out
    assert 'ASKED the person: run_cmd ["ruff", "check", "."]' in log
    assert "ANSWERED no: lint at the end (via status.txt)" in log


@pytest.mark.slow
def test_the_allow_list_skips_trusted_commands_and_a_yes_on_the_status_line_runs_one(
        workspace: Path) -> None:
    project(workspace)
    (workspace / "pyproject.toml").write_text(
        '[tool.jetbox]\napprove = "commands"\napprove_skip = ["pytest -q", "ruff check"]\n')
    bare = Call("run_cmd", {"cmd": "pytest"})
    with server([PYTEST, Call("run_cmd", {"cmd": ["ruff", "check", "."]}), bare, EDIT],
                [FINISH]) as ollama:
        first = run_cli(*run_args(workspace, ollama.host), GOAL)
        assert first.code == 3
        assert commands_run(workspace) == ["pytest", "ruff"]  # not asked
        status = workspace / "status.txt"
        status.write_text(status.read_text(encoding="utf-8").replace(
            'Approve: run_cmd ["pytest"]', "Approve: yes"), encoding="utf-8")
        done = run_cli(*run_args(workspace, ollama.host))
        assert done.code == 0, done.err
    assert asked(workspace) == ['run_cmd ["pytest"]']
    assert commands_run(workspace) == ["pytest", "ruff", "pytest"]  # the approved one, once
    answers = kinds(workspace, "approval_answered")
    assert [(a["answer"], a["via"]) for a in answers] == [("yes", "status.txt")]


@pytest.mark.slow
def test_a_call_named_like_an_answer_cannot_answer_its_own_question(workspace: Path) -> None:
    project(workspace)
    with server([Call("yes", {})], [FINISH]) as ollama:
        assert run_cli(*run_args(workspace, ollama.host, "--approve", "all"), GOAL).code == 3
        assert status_fields(workspace)["Approve"] == "yes {}"
        assert run_cli(*run_args(workspace, ollama.host)).code == 3  # still waiting
    assert kinds(workspace, "approval_answered") == []


@pytest.mark.slow
def test_removing_the_approve_state_from_machine_yaml_turns_approval_off(
        workspace: Path) -> None:
    project(workspace)
    text = (ROOT / "machine.yaml").read_text(encoding="utf-8")
    kept = [line for line in text.splitlines()
            if "Approve" not in line and "states.approve" not in line]
    (workspace / "machine.yaml").write_text("\n".join(kept) + "\n", encoding="utf-8")
    assert "Approve" not in run_cli("graph", "-w", str(workspace)).out
    with server([EDIT, PYTEST], [FINISH]) as ollama:
        result = run_cli(*run_args(workspace, ollama.host, "--approve", "all"), GOAL)
    assert result.code == 0, result.err
    assert "no `ask` transition" in result.err
    assert asked(workspace) == [] and commands_run(workspace) == ["pytest"]
