"""A question on the person's terminal: the call shown readably (a command as its argv, a
write or an edit as the unified diff it would make, coloured where the terminal can), and
their answer read back. Everything shown passes for_terminal: it comes from the model."""

from __future__ import annotations

import difflib
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any, TextIO

from jetbox.core.display import Display
from jetbox.core.fsutil import atomic_write_text, read_bounded
from jetbox.core.text import for_terminal
from jetbox.round.approval import (
    QUESTION_FILE,
    QUIT,
    Answer,
    command_argv,
    parse_answer,
    scope_problem,
)
from jetbox.store.kinds import ModelReply, Question
from jetbox.store.queries import Records, open_question, qid_of
from jetbox.tools.paths import PathRefused, jail
from jetbox.tools.textfile import EditRefused, locate

MAX_DIFF_LINES = 120
MAX_PREVIEW_BYTES = 2_000_000
MAX_REASON_CHARS = 300  # the model's words, not the call: a cut here hides nothing that runs
MARK = "  ! "  # question_line's separator before each mark about a name
COLOURS = {"+": "\x1b[32m", "-": "\x1b[31m", "@": "\x1b[36m"}
PROMPT = ("[Y]es (Enter) / [n]o (or: no because ...) / [a]lways for {scope} this run / "
          "[q]uit: ")
DEFAULT = "yes"  # what Enter answers: the default the prompt shows in capitals


def on_terminal(display: Display, stdin: TextIO | None = None) -> bool:
    """A person can answer here: both what they read and what they type are a terminal."""
    stdin = stdin or sys.stdin
    return bool(stdin is not None and stdin.isatty() and display.stream.isatty())


def preview(workspace: Path, name: str, arguments: Any) -> list[str]:
    """What the call would do, as lines: the argv of a command, the diff of a change."""
    args = arguments if isinstance(arguments, dict) else {}
    try:
        if name == "run_cmd":
            argv = command_argv(arguments)
            return [f"$ {shlex.join(argv)}" if argv else f"cmd: {arguments!r}"]
        if name in ("write_file", "edit_file", "delete", "delete_file"):
            return _diff(workspace, name, args)
    except (PathRefused, EditRefused, OSError, UnicodeDecodeError, ValueError) as exc:
        return [f"(no preview: {exc}; the tool will say so too)"]
    return json.dumps(arguments, ensure_ascii=False, indent=1).splitlines()


def _diff(workspace: Path, name: str, args: dict[str, Any]) -> list[str]:
    target = jail(workspace, args.get("path"), for_write=True)
    exists = target.absolute.is_file()
    before = read_bounded(target.absolute, MAX_PREVIEW_BYTES)[0].decode("utf-8") if exists \
        else ""
    if name == "edit_file":
        after = locate(before, str(args.get("old", "")), str(args.get("new", "")),
                       target.relative).after
    else:
        after = "" if name.startswith("delete") else str(args.get("content", ""))
    old_name = f"a/{target.relative}" if exists else "/dev/null"
    new_name = "/dev/null" if name.startswith("delete") else f"b/{target.relative}"
    lines = [line.rstrip("\r\n") for line in difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), old_name, new_name)]
    more = len(lines) - MAX_DIFF_LINES
    return lines[:MAX_DIFF_LINES] + ([f"... {more} more lines"] if more > 0 else []) \
        or ["(no change)"]


def split_line(line: str) -> tuple[str, list[str]]:
    """A question's line as (the call, its marks), each mark `! ...`."""
    call, *marks = line.split(MARK)
    return call, [f"! {mark}" for mark in marks]


def reason_of(records: Records, question: Question) -> str:
    """What the model said in the reply holding the call, as one bounded line."""
    reply = next((r for r in records if isinstance(r, ModelReply)
                  and r.seq == question.reply), None)
    text = " ".join(reply.content.split()) if reply is not None else ""
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS - 3] + "..."


def question_text(workspace: Path, question: Question, records: Records) -> list[str]:
    """The question whole, as the person reads it anywhere but the terminal (the file
    status.txt names, `jetbox status`): the call, its marks, why, where, and what it does.
    Escaped, uncoloured."""
    call, marks = split_line(question.line)
    reason = reason_of(records, question)
    lines = [f"call: {call}", *marks,
             *[f"  {line}" for line in preview(workspace, question.name, question.arguments)],
             f"reason: {reason or '(the model gave none)'}", f"folder: {workspace}"]
    return [for_terminal(line) for line in lines]


def waiting_question(workspace: Path, records: Records) -> str:
    """`jetbox status`: the question a run waits on, whole (status.txt's line may only name
    its file), or nothing."""
    question = open_question(records)
    if question is None:
        return ""
    qid = qid_of(records, question)
    return (f"question {qid} waits for your answer (--answer {qid}=yes, or on status.txt's "
            f"`Approve [{qid}]:` line):\n"
            + "".join(f"  {line}\n" for line in question_text(workspace, question, records)))


def write_question_file(workspace: Path, question: Question, records: Records,
                        qid: str, sandboxed: bool = True) -> Path:
    """The waiting question, whole, in .jetbox/question.txt (status.txt's line names it).
    Without a sandbox status.txt's line is not taken (the run's code could write it)."""
    path = workspace / QUESTION_FILE
    path.parent.mkdir(exist_ok=True)
    how = (f"answer: on status.txt's `Approve [{qid}]:` line (yes, no because ..., always) "
           f"or with jetbox run --answer {qid}=yes" if sandboxed else
           f"answer: at a terminal, or with jetbox run --answer {qid}=yes (without a sandbox "
           f"status.txt's `Approve [{qid}]:` line is not taken)")
    text = "\n".join([f"Jetbox asks [{qid}] before this call:",
                      *question_text(workspace, question, records), how]) + "\n"
    atomic_write_text(path, text, durable=False)
    return path


def coloured(lines: list[str], stream: TextIO) -> list[str]:
    """Diff lines, escaped, and coloured when the stream is a terminal that wants colour."""
    safe = [for_terminal(line) for line in lines]
    if not stream.isatty() or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return safe
    return [f"{COLOURS[line[0]]}{line}\x1b[0m" if line[:1] in COLOURS
            and not line.startswith(("+++", "---")) else line for line in safe]


def ask(display: Display, question: Question, mode: str, workspace: Path,
        stdin: TextIO | None = None, qid: str = "", reason: str = "") -> Answer:
    """Show the call and read an answer until it is one; end of input means quit."""
    stdin = stdin or sys.stdin
    shown = coloured(preview(workspace, question.name, question.arguments),
                     display.stream)
    call, marks = split_line(question.line)
    display.permanent(f"Jetbox asks [{qid}] before this call (approve={mode}): "
                      f"{for_terminal(call)}")
    for mark in marks:
        display.permanent(f"  {for_terminal(mark)}")
    display.stream.write("\n".join(f"  {line}" for line in shown) + "\n")
    # What, then why and where: the model's stated reason, and the folder it runs in.
    display.stream.write(f"  reason: {for_terminal(reason or '(the model gave none)')}\n"
                         f"  folder: {for_terminal(workspace)}\n")
    scope = ("this exact command (or: always <the words it starts with>)"
             if question.name == "run_cmd" else f"every {for_terminal(question.name)}")
    _forget_typeahead(stdin)
    while True:
        display.stream.write(PROMPT.format(scope=scope))
        display.stream.flush()
        line = stdin.readline()
        answer = (parse_answer(line) if line.strip() else Answer(DEFAULT)) if line \
            else Answer(QUIT)
        problem = scope_problem(answer, question) if answer is not None else None
        if answer is not None and problem is None:
            return answer
        display.stream.write(for_terminal(problem) + "\n" if problem else
                             "please answer y (or Enter), n (optionally with a reason), a "
                             "(optionally with the words a command starts with) or q\n")


def _forget_typeahead(stdin: TextIO) -> None:
    """Drop what was typed before the question was shown: an answer answers a question
    its author saw, so an Enter pressed during the previous one must not take a default."""
    try:
        import termios

        termios.tcflush(stdin.fileno(), termios.TCIFLUSH)
    except (ImportError, OSError, ValueError, AttributeError):
        pass  # not a terminal (a test's stream) or not POSIX: nothing to drop
