"""A person in the loop: which calls are put to them, and the answers given without a
terminal (exit 3, status.txt's `Approve:` line, --answer), through the offline Ollama."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jetbox.core.errors import ConfigError
from jetbox.exec.sandbox import bwrap_usable
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
from jetbox.spec.config import Settings, resolve_settings
from jetbox.store import queries
from jetbox.store.kinds import (
    Answered,
    ApprovalMode,
    ModelReply,
    Question,
    RunStart,
    ToolResult,
    Transition,
)
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
from tests.conftest import ROOT, run_cli, status_fields, trust_folder

READ = Call("read_file", {"path": "app.py"})


@pytest.mark.parametrize(("text", "answer"), [
    ("yes", Answer("yes")), ("Y\n", Answer("yes")), ("always", Answer("always")),
    ("no", Answer("no")), ("no because tests first", Answer("no", "tests first")),
    ("n: too slow ", Answer("no", "too slow")), ("no:use ruff", Answer("no", "use ruff")),
    ("q", Answer("quit")), ("nope", None), ("maybe", None), ("", None),
    ("always python tool.py", Answer("always", prefix=("python", "tool.py"))),
    ("a: for 'pytest' -q", Answer("always", prefix=("pytest", "-q"))),
    ('run_cmd ["pytest", "-q"]', None)])
def test_answers_are_read_as_a_person_writes_them(text: str, answer: Answer | None) -> None:
    assert parse_answer(text) == answer


# status.txt's Approve line is an answer only where the run's code cannot write it.
BWRAP = ("--sandbox", "bwrap")
NEEDS_BWRAP = pytest.mark.skipif(not bwrap_usable(), reason="status.txt answers need bwrap")


def test_the_allow_list_matches_whole_words_of_the_resolved_argv() -> None:
    skip = ("pytest -q", "ruff check")
    assert skipped(["pytest", "-q", "tests/"], skip)
    assert skipped(["ruff", "check", "."], skip)
    assert not skipped(["pytest"], skip)            # a prefix of the entry is not enough
    assert not skipped(["pytest", "-qx"], skip)     # words, not characters
    assert not skipped(["ruff", "format", "."], skip)
    cmd = ToolCall("run_cmd", {"cmd": "PYTEST.EXE -q"})  # resolved as the policy names it
    assert not needs_approval("commands", skip, cmd)
    assert call_kind(cmd) == 'run_cmd ["pytest", "-q"]'  # what a plain `always` covers


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

    def mode(settings: Settings, given: bool) -> str:
        """As open_run does: the record approval_mode returns is appended by its caller."""
        held, record = approval_mode(settings, given, ledger.current_run())
        if record is not None:
            ledger.append(record)
        return held.approve

    changes = resolve_settings({}, tmp_path, {}, {"approve": "changes"})
    assert mode(changes, True) == "changes"
    default = resolve_settings({}, tmp_path, {}, {})
    assert mode(default, False) == "changes"
    never = resolve_settings({}, tmp_path, {}, {"approve": "never"})
    assert mode(never, True) == "never"
    assert mode(default, False) == "never"
    assert [r.mode for r in ledger.records() if isinstance(r, ApprovalMode)] == \
        ["changes", "never"]
    assert approval_mode(default, False, ledger.current_run())[1] is None  # nothing new


def test_status_txt_keeps_the_question_on_one_escaped_line() -> None:
    status = Status(goal="g", state="Approve", approve='write_file a.py\nState: Done')
    text = status.render()
    assert 'Approve: write_file a.py\\x0aState: Done\n' in text
    assert parse(text) == status and parse(text).state == "Approve"
    assert "Approve:" not in Status(goal="g", state="Calls").render()


def test_a_return_from_an_answer_continues_the_reply_it_interrupted() -> None:
    records = [RunStart(seq=1, goal="g"), Transition(seq=2, dest="Ask", source="Plan"),
               ModelReply(seq=3), Transition(seq=4, dest="Calls", source="Ask"),
               ToolResult(seq=5, index=0), Question(seq=6, reply=3, index=1),
               Transition(seq=7, dest="Approve", source="Calls"),
               Answered(seq=8, asked=6, answer="yes"),
               Transition(seq=9, dest="Calls", source="Approve")]
    journaled = queries.reply_to_run(records, "Calls")
    assert journaled is not None and journaled.reply.seq == 3 and journaled.next_index == 1
    # A later, ordinary entry into Calls (a new round) has no reply of its own yet.
    records.append(Transition(seq=10, dest="Calls", source="Ask"))
    assert queries.reply_to_run(records, "Calls") is None


def test_jetbox_graph_shows_the_approve_state() -> None:
    result = run_cli("graph", "--machine", str(ROOT / "jetbox/machine.yaml"))
    assert result.code == 0
    assert "Calls --> Approve: ask" in result.out and "Approve --> Calls: answered" in result.out


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
        for number in range(1, len(expected) + 1):  # one invocation per question, each
            assert result.code == 3, result.err      # answered by its id with --answer
            assert status_fields(workspace)["State"] == "Wait"  # exit 3: the pause state
            result = run_cli(*run_args(workspace, ollama.host, "--answer", f"q{number}=yes"))
        assert result.code == 0, result.err
        assert len(ollama.requests) == 2  # answers continue the journaled reply
    assert asked(workspace) == expected
    assert (workspace / "app.py").read_text() == "count = 11\n"
    assert commands_run(workspace) == ["pytest"]
    if expected:
        assert "approvals" in result.out and f"{len(expected)} asked in the run" in result.out


@pytest.mark.slow
@NEEDS_BWRAP
def test_without_a_terminal_the_person_answers_on_the_status_line(workspace: Path) -> None:
    project(workspace)
    ruff = Call("run_cmd", {"cmd": ["ruff", "check", "."]})
    with server([ruff, EDIT], [FINISH]) as ollama:
        first = run_cli(*run_args(workspace, ollama.host, *BWRAP, "--approve", "commands"), GOAL)
        assert first.code == 3
        status = workspace / "status.txt"
        text = status.read_text(encoding="utf-8")
        assert 'Approve [q1]: run_cmd ["ruff", "check", "."]\n' in text
        assert status_fields(workspace)["State"] == "Wait"
        again = run_cli(*run_args(workspace, ollama.host, *BWRAP))  # unanswered: no run
        assert again.code == 3 and commands_run(workspace) == []
        status.write_text(status.read_text(encoding="utf-8").replace(
            'Approve [q1]: run_cmd ["ruff", "check", "."]',
            "Approve [q1]: no because lint at the end"))
        resumed = run_cli(*run_args(workspace, ollama.host, *BWRAP))
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
    assert 'ASKED the person [q1]: run_cmd ["ruff", "check", "."]' in log
    assert "ANSWERED [q1] no: lint at the end (via status.txt)" in log


@pytest.mark.slow
@NEEDS_BWRAP
def test_the_allow_list_skips_trusted_commands_and_a_yes_on_the_status_line_runs_one(
        workspace: Path) -> None:
    project(workspace)
    (workspace / "pyproject.toml").write_text(
        '[tool.jetbox]\napprove = "commands"\napprove_skip = ["pytest -q", "ruff check"]\n')
    trust_folder(workspace)  # the person's own settings
    bare = Call("run_cmd", {"cmd": "pytest"})
    with server([PYTEST, Call("run_cmd", {"cmd": ["ruff", "check", "."]}), bare, EDIT],
                [FINISH]) as ollama:
        first = run_cli(*run_args(workspace, ollama.host, *BWRAP), GOAL)
        assert first.code == 3
        assert commands_run(workspace) == ["pytest", "ruff"]  # not asked
        status = workspace / "status.txt"
        status.write_text(status.read_text(encoding="utf-8").replace(
            'Approve [q1]: run_cmd ["pytest"]', "Approve [q1]: yes"), encoding="utf-8")
        done = run_cli(*run_args(workspace, ollama.host, *BWRAP))
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
        assert status_fields(workspace)["Approve [q1]"] == "yes {}"
        assert run_cli(*run_args(workspace, ollama.host)).code == 3  # still waiting
    assert kinds(workspace, "approval_answered") == []


@pytest.mark.slow
def test_removing_the_approve_state_from_machine_yaml_turns_approval_off(
        workspace: Path) -> None:
    project(workspace)
    text = (ROOT / "jetbox/machine.yaml").read_text(encoding="utf-8")
    # Approve, the Wait state it pauses in (three lines) and the transitions of both.
    text = re.sub(r"  - name: Wait .*\n.*\n    pause: true\n", "", text)
    kept = [line for line in text.splitlines()
            if "Approve" not in line and "states.approve" not in line]
    (workspace / "machine.yaml").write_text("\n".join(kept) + "\n", encoding="utf-8")
    trust_folder(workspace)  # the person's own settings
    assert "Approve" not in run_cli("graph", "-w", str(workspace)).out
    with server([EDIT, PYTEST], [FINISH]) as ollama:
        result = run_cli(*run_args(workspace, ollama.host, "--approve", "all",
                                   own_machine=True), GOAL)
    assert result.code == 0, result.err
    assert "no `ask` transition" in result.err
    assert asked(workspace) == [] and commands_run(workspace) == ["pytest"]


# Issue 32, item 2: what is shown is what runs.
def test_every_format_character_reaches_a_terminal_only_as_its_escape() -> None:
    import sys
    import unicodedata

    from jetbox.core.text import for_terminal

    formats = [chr(c) for c in range(sys.maxunicode + 1)
               if unicodedata.category(chr(c)) == "Cf"]
    shown = for_terminal("".join(formats))
    assert shown.isascii() and len(formats) > 150
    assert for_terminal("check\u200b.py \u202eyp.\U000e0041") == \
        "check\\u200b.py \\u202eyp.\\U000e0041"


def test_a_name_that_mixes_scripts_or_mimics_an_existing_one_is_marked() -> None:
    from jetbox.core.text import name_marks

    existing = ["scripts/check.py", "app.py"]
    cyrillic = name_marks("scripts/ch\u0435ck.py", existing)
    assert "mixes scripts (Latin + Cyrillic: \\u0435 cyrillic small letter ie)" in cyrillic[0]
    assert "is not the existing scripts/check.py" in cyrillic[1]
    assert "is not the existing scripts/check.py" in \
        name_marks("scripts/check\u200b.py", existing)[0]
    assert "mixes scripts (Latin + Greek" in name_marks("\u03bfops.py", [])[0]
    assert name_marks("scripts/check.py", existing) == []
    assert name_marks("données/café.py", existing) == []  # accents are Latin
    assert name_marks("тест.py", existing) == []  # one script, nothing like a name here


LONG = ["python", *["-X", "utf8"] * 60, "scripts/hidden.py"]  # far past 240 characters


@pytest.mark.slow
def test_a_long_call_is_shown_whole_by_status_txt_status_and_log(workspace: Path) -> None:
    project(workspace)
    whole = '["python", ' + ", ".join(['"-X", "utf8"'] * 60) + ', "scripts/hidden.py"]'
    with server([Call("run_cmd", {"cmd": LONG})], [FINISH]) as ollama:
        result = run_cli(*run_args(workspace, ollama.host, "--approve", "commands"), GOAL)
    assert result.code == 3, result.err
    line = next(v for k, v in status_fields(workspace).items() if k.startswith("Approve"))
    assert "the whole call is in .jetbox/question.txt" in line and "..." not in line
    question = (workspace / ".jetbox" / "question.txt").read_text(encoding="utf-8")
    assert f"call: run_cmd {whole}" in question
    assert f"$ {' '.join(LONG)}" in question and f"folder: {workspace}" in question
    status = run_cli("status", "-w", str(workspace)).out
    assert f"run_cmd {whole}" in status and "question q1 waits for your answer" in status
    assert f"ASKED the person [q1]: run_cmd {whole}" in run_cli("log", "-w", str(workspace)).out


@pytest.mark.slow
def test_invisible_and_lookalike_names_are_escaped_and_marked_without_a_terminal(
        workspace: Path) -> None:
    project(workspace)
    (workspace / "scripts").mkdir()
    (workspace / "scripts" / "check.py").write_text("print('ok')\n")
    zero_width = Call("run_cmd", {"cmd": ["python", "scripts/check\u200b.py"]})
    with server([zero_width], [FINISH]) as ollama:
        assert run_cli(*run_args(workspace, ollama.host, "--approve", "commands"),
                       GOAL).code == 3
    status = (workspace / "status.txt").read_text(encoding="utf-8")
    assert 'run_cmd ["python", "scripts/check\\u200b.py"]' in status
    assert "is not the existing scripts/check.py" in status and "\u200b" not in status
    log = run_cli("log", "-w", str(workspace)).out
    assert "check\\u200b.py" in log and "is not the existing scripts/check.py" in log


# Issue 32, item 3: an answer answers one question.
@pytest.mark.slow
def test_the_same_answer_command_again_does_not_answer_a_question_never_shown(
        workspace: Path) -> None:
    project(workspace)
    with server([READ, EDIT], [FINISH]) as ollama:
        first = run_cli(*run_args(workspace, ollama.host, "--approve", "all"), GOAL)
        assert first.code == 3 and "Approve [q1]: read_file" in \
            (workspace / "status.txt").read_text(encoding="utf-8")
        # The person answers q1; the reply's next call becomes q2 in the same invocation.
        second = run_cli(*run_args(workspace, ollama.host, "--answer", "yes"))
        assert second.code == 3, second.err
        assert "--answer q2=yes" in second.err and "same command" not in second.err
        # Run again as it was: the plain yes would answer q2, which they may not have seen.
        again = run_cli(*run_args(workspace, ollama.host, "--answer", "yes"))
        assert again.code == 3
        assert "--answer yes names no question" in again.err
        assert "q2: edit_file app.py" in again.err
        assert (workspace / "app.py").read_text() == "count = 1\n"
        status = run_cli("status", "-w", str(workspace)).out
        assert "question q2 waits for your answer" in status and "call: edit_file app.py" in status
        edited = run_cli(*run_args(workspace, ollama.host, "--answer", "q2=yes"))
        assert edited.code == 3 and "Approve [q3]: finish" in \
            (workspace / "status.txt").read_text(encoding="utf-8")  # under `all`, finish too
        done = run_cli(*run_args(workspace, ollama.host, "--answer", "q3=yes"))
        assert done.code == 0, done.err
    answers = kinds(workspace, "approval_answered")
    assert [(a["qid"], a["answer"], a["via"]) for a in answers] == \
        [("q1", "yes", "--answer"), ("q2", "yes", "--answer"), ("q3", "yes", "--answer")]
    assert [q["qid"] for q in kinds(workspace, "approval_asked")] == ["q1", "q2", "q3"]
    assert not (workspace / ".jetbox" / "question.txt").exists()  # none waits
    assert (workspace / "app.py").read_text() == "count = 11\n"


@pytest.mark.slow
@NEEDS_BWRAP
def test_an_answer_for_another_id_or_before_its_question_was_asked_is_refused(
        workspace: Path) -> None:
    project(workspace)
    with server([EDIT], [FINISH]) as ollama:
        early = run_cli(*run_args(workspace, ollama.host, *BWRAP, "--approve", "changes",
                                  "--answer", "q1=yes"), GOAL)
        assert early.code == 3  # given before q1 was asked: refused, q1 waits
        assert "was given before this question was asked: q1: edit_file app.py" in early.err
        other = run_cli(*run_args(workspace, ollama.host, *BWRAP, "--answer", "q7=yes"))
        assert other.code == 3 and "--answer q7=yes names q7, but the question waiting is " \
            "q1: edit_file app.py" in other.err
        status = workspace / "status.txt"
        text = status.read_text(encoding="utf-8")
        status.write_text(text.replace("Approve [q1]: edit_file app.py", "Approve [q2]: yes"))
        wrong = run_cli(*run_args(workspace, ollama.host, *BWRAP))
        assert wrong.code == 3 and "names q2, but the question waiting is q1" in wrong.err
        status.write_text(text.replace("Approve [q1]: edit_file app.py", "Approve: yes"))
        bare = run_cli(*run_args(workspace, ollama.host, *BWRAP))
        assert bare.code == 3 and "names no question; the one waiting is q1" in bare.err
        assert kinds(workspace, "approval_answered") == []
        assert (workspace / "app.py").read_text() == "count = 1\n"
        status.write_text(text.replace("Approve [q1]: edit_file app.py", "Approve [q1]: yes"))
        done = run_cli(*run_args(workspace, ollama.host, *BWRAP))
        assert done.code == 0, done.err
    assert [(a["qid"], a["via"]) for a in kinds(workspace, "approval_answered")] == \
        [("q1", "status.txt")]


def test_the_approve_line_names_its_question_and_old_questions_get_ids_by_place() -> None:
    from jetbox.store.queries import next_qid, qid_of

    status = Status(goal="g", state="Approve", approve="edit_file a.py", approve_id="q3")
    assert "Approve [q3]: edit_file a.py\n" in status.render()
    assert parse(status.render()) == status
    assert parse("Goal: g\napprove [Q3]: yes\n").approve_id == "q3"
    assert parse("Goal: g\nApprove: yes\n").approve_id == ""
    empty = parse("Goal: g\nApprove [q1]:\n")  # nothing on the line: nothing it names
    assert empty.approve_id == "" and parse(empty.render()) == empty
    # A ledger written before ids: numbered by their place in the run.
    old = [RunStart(seq=1, goal="g"), Question(seq=5, reply=3), Question(seq=9, reply=8)]
    assert [qid_of(old, q) for q in old[1:]] == ["q1", "q2"] and next_qid(old) == "q3"


# Issue 32, item 4: "always" covers one command; a skip never covers a writing argument.
@pytest.mark.parametrize(("argv", "writes"), [
    (["ruff", "check", "."], []),
    (["ruff", "check", "--output-file", "NOTES.md"], ["--output-file"]),
    (["ruff", "check", "--output-file=NOTES.md"], ["--output-file=NOTES.md"]),
    (["ruff", "check", "-oNOTES.md"], ["-oNOTES.md"]),
    (["ruff", "check", "--fix", "--unsafe-fixes"], ["--fix", "--unsafe-fixes"]),
    (["ruff", "format", "."], ["format"]),
    (["python", "-m", "ruff", "check", "--fix"], ["--fix"]),
    (["pytest", "-q", "--junitxml=out.xml"], ["--junitxml=out.xml"]),
    (["pytest", "-p", "evil"], ["-p"]), (["pytest", "-qp", "evil"], ["-qp"]),
    (["pytest", "-q", "tests/"], []),
    (["ruff", "check", ".", ">", "NOTES.md"], [">"]), (["ruff", "check", "2>>log"], ["2>>log"]),
    (["ruff", "check", "|", "tee", "NOTES.md"], ["|", "tee"]),
    (["git", "log", "-o"], []),  # a program Jetbox does not know: only redirections
])
def test_arguments_that_write_files_are_found(argv: list[str], writes: list[str]) -> None:
    from jetbox.round.scope import writing_arguments

    assert writing_arguments(argv) == writes
    assert not skipped(argv, ("ruff check", "pytest", "python -m ruff")) or not writes


@pytest.mark.slow
def test_always_covers_the_exact_command_not_the_program(workspace: Path) -> None:
    project(workspace)
    (workspace / "app.py").write_text("count = 11\n")
    (workspace / "tool.py").write_text("print('tool')\n")
    (workspace / "deploy.py").write_text("open('DEPLOYED', 'w').close()\n")
    tool = Call("run_cmd", {"cmd": ["python", "tool.py"]})
    deploy = Call("run_cmd", {"cmd": ["python", "deploy.py"]})
    with server([tool], [tool, deploy], [FINISH]) as ollama:
        assert run_cli(*run_args(workspace, ollama.host, "--approve", "commands"),
                       GOAL).code == 3
        second = run_cli(*run_args(workspace, ollama.host, "--answer", "q1=always"))
        assert second.code == 3, second.err  # tool.py ran twice; deploy.py is asked about
        assert "Approve [q2]: run_cmd [\"python\", \"deploy.py\"]" in \
            (workspace / "status.txt").read_text(encoding="utf-8")
        done = run_cli(*run_args(workspace, ollama.host, "--answer", "q2=no"))
        assert done.code == 0, done.err
    assert asked(workspace) == ['run_cmd ["python", "tool.py"]',
                                'run_cmd ["python", "deploy.py"]']
    assert commands_run(workspace) == ["python", "python"]
    assert not (workspace / "DEPLOYED").exists()


@pytest.mark.slow
def test_a_skipped_program_is_asked_about_when_its_arguments_write_files(
        workspace: Path) -> None:
    project(workspace)
    (workspace / "app.py").write_text("import os\ncount = 11\n")  # F401: --fix would fix it
    (workspace / "NOTES.md").write_text("the person's notes\n")
    (workspace / "pyproject.toml").write_text(
        '[tool.jetbox]\napprove = "changes"\napprove_skip = ["ruff check"]\n')
    trust_folder(workspace)  # the person's own settings
    output = Call("run_cmd", {"cmd": ["ruff", "check", "--output-file", "NOTES.md"]})
    fix = Call("run_cmd", {"cmd": "ruff check --fix --unsafe-fixes ."})
    plain = Call("run_cmd", {"cmd": ["ruff", "check", "."]})
    with server([output, fix, plain], [FINISH]) as ollama:
        assert run_cli(*run_args(workspace, ollama.host), GOAL).code == 3
        assert asked(workspace) == ['run_cmd ["ruff", "check", "--output-file", "NOTES.md"]']
        assert run_cli(*run_args(workspace, ollama.host, "--answer", "q1=no")).code == 3
        assert asked(workspace)[1] == \
            'run_cmd ["ruff", "check", "--fix", "--unsafe-fixes", "."]'
        done = run_cli(*run_args(workspace, ollama.host, "--answer", "q2=no"))
        assert done.code == 0, done.err
    assert len(asked(workspace)) == 2 and commands_run(workspace) == ["ruff"]  # the plain one
    assert (workspace / "NOTES.md").read_text() == "the person's notes\n"
    assert (workspace / "app.py").read_text() == "import os\ncount = 11\n"


# Issue 32, item 6: the whole approval setting holds on resume.
@pytest.mark.slow
def test_approve_skip_survives_a_resume_with_the_mode(workspace: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    project(workspace)
    (workspace / "tool.py").write_text("print('tool')\n")
    tool = Call("run_cmd", {"cmd": ["python", "tool.py"]})
    with server([tool, EDIT, PYTEST], [FINISH]) as ollama:
        monkeypatch.setenv("JETBOX_APPROVE_SKIP", "pytest -q")
        assert run_cli(*run_args(workspace, ollama.host, "--approve", "commands"),
                       GOAL).code == 3
        monkeypatch.delenv("JETBOX_APPROVE_SKIP")  # a new shell: the setting is the run's
        done = run_cli(*run_args(workspace, ollama.host, "--answer", "q1=yes"))
        assert done.code == 0, done.err
    assert asked(workspace) == ['run_cmd ["python", "tool.py"]']  # pytest -q: skipped
    assert commands_run(workspace) == ["python", "pytest"]
    assert [(r["mode"], r["skip"]) for r in kinds(workspace, "approval_mode")] == \
        [("commands", ["pytest -q"])]
    assert "approval mode: commands (never asked: pytest -q)" in \
        run_cli("log", "-w", str(workspace)).out


def test_an_approval_mode_record_without_skips_reads_as_before(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "agent_ledger.log")
    ledger.append(RunStart(goal="g"))
    ledger.append(ApprovalMode(mode="changes"))  # as a ledger before issue 32 holds it
    configured = resolve_settings({}, tmp_path, {"JETBOX_APPROVE_SKIP": "ruff check"}, {})
    held, record = approval_mode(configured, False, ledger.current_run())
    assert (held.approve, held.approve_skip, record) == ("changes", ("ruff check",), None)
    assert '"skip"' not in (tmp_path / "agent_ledger.log").read_text(encoding="utf-8")


# Issue 32, item 5: not approving blind.
@pytest.mark.slow
def test_a_pending_question_shows_the_diff_the_reason_and_the_folder(workspace: Path) -> None:
    from jetbox.offline import OfflineOllama, ScriptResponder, Turn
    from tests.approvekit import QWEN

    project(workspace)
    turns = [Turn(content="The test wants 11,\nso I set count to 11.", calls=(EDIT,)),
             Turn(calls=(FINISH,))]
    with OfflineOllama(ScriptResponder(turns), models=[QWEN]) as ollama:
        assert run_cli(*run_args(workspace, ollama.host, "--approve", "changes"),
                       GOAL).code == 3
    status = (workspace / "status.txt").read_text(encoding="utf-8")
    assert "Approve [q1]: edit_file app.py" in status and ".jetbox/question.txt" in status
    question = (workspace / ".jetbox" / "question.txt").read_text(encoding="utf-8")
    shown = run_cli("status", "-w", str(workspace)).out
    for text in (question, shown):
        assert "reason: The test wants 11, so I set count to 11." in text
        assert f"folder: {workspace}" in text
        assert "-count = 1\n" in text and "+count = 11\n" in text


# Issue 32, item 1: nothing the model wrote runs in a probe without a yes.
def test_test_code_is_what_the_pytest_probe_would_run() -> None:
    from jetbox.round.scope import runs_as_test_code

    for path in ("test_app.py", "tests/test_helpers.py", "pkg/app_test.py", "conftest.py",
                 "tests/helpers.py", "tests/__init__.py", "sub/tests/conftest.py"):
        assert runs_as_test_code(path), path
    for path in ("app.py", "tests/data.json", "src/testing_tools.md", "contest.py", None):
        assert not runs_as_test_code(path), path
    helper = ToolCall("write_file", {"path": "tests/test_helpers.py", "content": ""})
    assert needs_approval("commands", (), helper) and needs_approval("all", (), helper)
    assert not needs_approval("commands", (), ToolCall("write_file", {"path": "app.py",
                                                                      "content": ""}))


@pytest.mark.slow
def test_under_commands_model_written_test_code_never_runs_in_a_probe_without_a_yes(
        workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    project(workspace)
    marker = tmp_path_factory.mktemp("host") / "RAN"
    helper = Call("write_file", {"path": "tests/test_helpers.py", "content":
                                 f"from pathlib import Path\n\nPath({str(marker)!r})"
                                 f".write_text('module code ran')\n"})
    with server([helper, EDIT], [FINISH]) as ollama:
        first = run_cli(*run_args(workspace, ollama.host, "--approve", "commands"), GOAL)
        assert first.code == 3, first.err  # asked before the file exists: nothing to run
        assert "is test code: Jetbox's pytest probe runs it" in \
            (workspace / "status.txt").read_text(encoding="utf-8")
        assert not marker.exists()
        done = run_cli(*run_args(workspace, ollama.host, "--answer", "q1=no"))
        assert done.code == 0, done.err
    assert asked(workspace)[0].startswith("write_file tests/test_helpers.py")
    assert not (workspace / "tests" / "test_helpers.py").exists()
    assert not marker.exists()  # the probes (the finish's full suite too) never ran it
    assert (workspace / "app.py").read_text() == "count = 11\n"
