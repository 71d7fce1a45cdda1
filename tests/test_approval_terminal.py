"""A person at a terminal answers Jetbox's questions: yes, no with a reason the model sees,
always, quit; and kill -9 while a question waits or while the approved call runs. Driven
through a real pseudo-terminal against the offline Ollama."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jetbox.offline import Call
from tests.approvekit import (
    EDIT,
    FINISH,
    GOAL,
    PYTEST,
    QWEN,
    Terminal,
    asked,
    commands_run,
    kinds,
    project,
    run_args,
    server,
    tool_messages,
)
from tests.conftest import ROOT, run_cli, status_fields

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")]
PROMPT = "[q]uit: "
RUFF = Call("run_cmd", {"cmd": ["ruff", "check", "."]})


def python_cmd(word: str) -> Call:
    return Call("run_cmd", {"cmd": ["python", "hello.py", word]})


def test_yes_no_with_a_reason_and_always_at_the_terminal(workspace: Path) -> None:
    project(workspace)
    (workspace / "app.py").write_text("count = 11\n")
    (workspace / "hello.py").write_text("import sys\n\nprint(sys.argv[1])\n")
    with server([PYTEST, RUFF], [python_cmd("one"), python_cmd("two")], [FINISH]) as ollama:
        term = Terminal(run_args(workspace, ollama.host, "--approve", "commands") + [GOAL])
        shown = term.expect(PROMPT)
        assert 'run_cmd ["pytest", "-q"]' in shown and "$ pytest -q" in shown
        assert "Jetbox asks [q1] before this call" in shown and "[Y]es (Enter)" in shown
        term.type("")  # Enter: the default the prompt shows, yes
        shown = term.expect(PROMPT)
        assert "$ ruff check ." in shown and "[a]lways for this exact command" in shown
        term.type("no because lint only at the end")
        assert "$ python hello.py one" in term.expect(PROMPT)
        term.type("always python ruff.py")  # not how the command starts: asked again
        assert "is not how `python hello.py one` starts" in term.expect(PROMPT)
        term.type("always python hello.py")  # typed: the next one starts so, not asked
        assert term.wait() == 0, term.seen[-3000:]
        refused_round = tool_messages(ollama.requests[1])
    assert any("the person refused: lint only at the end" in m for m in refused_round)
    assert commands_run(workspace) == ["pytest", "python", "python"]  # ruff never ran
    assert asked(workspace) == ['run_cmd ["pytest", "-q"]', 'run_cmd ["ruff", "check", "."]',
                                'run_cmd ["python", "hello.py", "one"]']
    answers = [(a["answer"], a["via"]) for a in kinds(workspace, "approval_answered")]
    assert answers == [("yes", "terminal"), ("no", "terminal"), ("always", "terminal")]
    assert kinds(workspace, "approval_answered")[2]["prefix"] == ["python", "hello.py"]
    assert "2 approved, 1 refused" in term.seen


def test_an_edit_is_shown_as_a_coloured_diff_and_quit_leaves_the_question_waiting(
        workspace: Path) -> None:
    project(workspace)
    with server([EDIT], [FINISH]) as ollama:
        term = Terminal(run_args(workspace, ollama.host, "--approve", "changes") + [GOAL])
        shown = term.expect(PROMPT)
        assert "--- a/app.py" in shown and "+++ b/app.py" in shown
        assert "reason: (the model gave none)" in shown and f"folder: {workspace}" in shown
        assert "\x1b[31m-count = 1" in shown and "\x1b[32m+count = 11" in shown
        term.type("maybe")  # not an answer: asked again
        assert "please answer" in term.expect(PROMPT)
        term.type("q")
        assert term.wait() == 3
        assert (workspace / "app.py").read_text() == "count = 1\n"
        assert status_fields(workspace)["State"] == "Wait"
        assert status_fields(workspace)["Approve [q1]"] == "edit_file app.py"
        resumed = run_cli(*run_args(workspace, ollama.host, "--answer", "yes"))
        assert resumed.code == 0, resumed.err
        assert len(ollama.requests) == 2
    assert (workspace / "app.py").read_text() == "count = 11\n"
    assert len(asked(workspace)) == 1 and len(kinds(workspace, "approval_answered")) == 1


def test_kill_9_while_the_question_waits_resumes_at_the_same_question(workspace: Path) -> None:
    project(workspace)
    (workspace / "app.py").write_text("count = 11\n")
    with server([PYTEST], [FINISH]) as ollama:
        term = Terminal(run_args(workspace, ollama.host, "--approve", "commands") + [GOAL])
        term.expect(PROMPT)
        os.kill(term.process.pid, signal.SIGKILL)
        assert term.wait() == -9
        assert status_fields(workspace)["State"] == "Approve"
        assert status_fields(workspace)["Approve [q1]"] == 'run_cmd ["pytest", "-q"]'
        again = Terminal(run_args(workspace, ollama.host))  # asked again, not answered
        assert 'run_cmd ["pytest", "-q"]' in again.expect(PROMPT)
        again.type("yes")
        assert again.wait() == 0, again.seen[-3000:]
        assert len(ollama.requests) == 2  # the journaled reply was not asked for again
    assert asked(workspace) == ['run_cmd ["pytest", "-q"]']  # one question, asked twice
    assert len(kinds(workspace, "approval_answered")) == 1
    assert commands_run(workspace) == ["pytest"]


@pytest.mark.parametrize("point", ["kill:intent", "kill:applied"])
def test_kill_9_during_the_approved_call_applies_it_exactly_once(point: str,
                                                                 workspace: Path) -> None:
    project(workspace)
    approve = ["--approve", "changes"]
    with server([EDIT], [FINISH]) as ollama:
        assert run_cli(*run_args(workspace, ollama.host, *approve), GOAL).code == 3
        answer = ["--answer", "yes"]
        assert _child(workspace, ollama.host, answer, point) == -9
        assert _child(workspace, ollama.host, [], None) == 0
        assert len(ollama.requests) == 2
    # Applied twice, the edit would leave `count = 111`.
    assert (workspace / "app.py").read_text() == "count = 11\n"
    assert len(asked(workspace)) == 1 and len(kinds(workspace, "approval_answered")) == 1
    assert len([r for r in kinds(workspace, "intent") if r["action"] == "edit"]) == 1


def _child(workspace: Path, host: str, extra: list[str], failpoint: str | None) -> int:
    """One `jetbox run` child process without a terminal (as crashkit.jetbox, with flags)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JETBOX_", "OLLAMA_"))}
    env["PYTHONPATH"] = str(ROOT)
    if failpoint:
        env["JETBOX_FAILPOINT"] = failpoint
    argv = [sys.executable, "-m", "jetbox", "run", "-w", str(workspace), "--host", host,
            "--model", QWEN.name, "--sandbox", "none", "--quiet", *extra]
    return subprocess.run(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=120, check=False).returncode


def test_on_a_real_project_the_fix_is_shown_as_its_diff_before_it_is_made(
        tmp_path: Path) -> None:
    from jetbox.offline import OfflineOllama
    from jetbox.offline.solvers import LineFixer
    from tests.realprojects import plant_bug, unpack

    root = unpack("a", tmp_path)
    bug = plant_bug("a", root)
    fixer = LineFixer(root, bug.path, bug.pattern, bug.broken.strip(), bug.original.strip())
    with OfflineOllama(fixer) as ollama:
        term = Terminal(["run", "Fix the bug that makes the tests fail", "-w", str(root),
                         "--host", ollama.host, "--sandbox", "none", "--approve", "changes"])
        shown = term.expect(PROMPT, timeout_s=120)
        term.type("yes")
        assert term.wait() == 0, term.seen[-3000:]
    assert f"--- a/{bug.path}" in shown and f"+++ b/{bug.path}" in shown
    assert f"\x1b[31m-{bug.broken}\x1b[0m" in shown
    assert f"\x1b[32m+{bug.original}\x1b[0m" in shown
    assert f"@@ -{bug.line - 3},7 +{bug.line - 3},7 @@" in shown  # the real file's lines
    assert asked(root) == [f"edit_file {bug.path}"]
    assert fixer.calls == {"search": 1, "read_file": 1, "edit_file": 1, "finish": 1}


@pytest.mark.parametrize("append", range(1, 8))
def test_a_kill_at_any_record_around_the_answer_keeps_one_question_one_answer_one_edit(
        append: int, workspace: Path) -> None:
    """Killed at the n-th ledger append of the invocation that brings the answer (the
    answer itself, the move back to Act, the edit's intent and result, its tool_result...),
    then resumed with the same answer until done."""
    project(workspace)
    with server([EDIT], [FINISH]) as ollama:
        assert run_cli(*run_args(workspace, ollama.host, "--approve", "changes"), GOAL).code == 3
        assert _child(workspace, ollama.host, ["--answer", "yes"], f"kill:ledger#{append}") == -9
        assert _child(workspace, ollama.host, ["--answer", "yes"], None) == 0
        assert len(ollama.requests) == 2  # the journaled reply was never asked for again
    assert (workspace / "app.py").read_text() == "count = 11\n"
    assert len(asked(workspace)) == 1 and len(kinds(workspace, "approval_answered")) == 1
    assert len([r for r in kinds(workspace, "intent") if r["action"] == "edit"]) == 1


def test_lookalike_and_invisible_names_are_marked_at_the_terminal(workspace: Path) -> None:
    """Issue 32, item 2: `scripts/chеck.py` (a Cyrillic е) and `scripts/check\\u200b.py`
    look like the person's scripts/check.py; the question says they are not."""
    project(workspace)
    (workspace / "app.py").write_text("count = 11\n")
    (workspace / "scripts").mkdir()
    (workspace / "scripts" / "check.py").write_text("print('ok')\n")
    cyrillic = Call("run_cmd", {"cmd": ["python", "scripts/ch\u0435ck.py"]})
    hidden = Call("write_file", {"path": "scripts/check\u200b.py", "content": "x = 1\n"})
    with server([cyrillic, hidden], [FINISH]) as ollama:
        term = Terminal(run_args(workspace, ollama.host, "--approve", "changes") + [GOAL])
        shown = term.expect(PROMPT)
        assert "mixes scripts (Latin + Cyrillic: \\u0435 cyrillic small letter ie)" in shown
        assert "is not the existing scripts/check.py" in shown
        term.type("no")
        shown = term.expect(PROMPT)
        assert "write_file scripts/check\\u200b.py" in shown and "\u200b" not in shown
        assert "is not the existing scripts/check.py" in shown
        term.type("no")
        assert term.wait() == 0, term.seen[-3000:]
    assert commands_run(workspace) == [] and not (workspace / "scripts/check\u200b.py").exists()


def test_an_answer_typed_before_the_question_was_shown_does_not_answer_it(
        workspace: Path) -> None:
    """Issue 32, item 3 at a terminal: type-ahead (an Enter or a `y` pressed while the probes
    ran) is dropped when the question appears; only what is typed after answers it."""
    project(workspace)
    (workspace / "app.py").write_text("count = 11\n")
    with server([PYTEST], [FINISH]) as ollama:
        term = Terminal(run_args(workspace, ollama.host, "--approve", "commands") + [GOAL])
        term.type("y")  # before the probes are done: no question exists yet
        term.expect(PROMPT)
        term.type("no because typed after reading it")
        assert term.wait() == 0, term.seen[-3000:]
    answers = [(a["answer"], a["reason"]) for a in kinds(workspace, "approval_answered")]
    assert answers == [("no", "typed after reading it")]
    assert commands_run(workspace) == []
