"""Which calls a person approves first (the `approve` setting), how a question and its
answer are written down, and where an answer given off the terminal comes from (`--answer`,
status.txt's line). The asking itself is the Approve state's (jetbox/states/calls.py)."""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from jetbox.core.prompts import say
from jetbox.core.text import name_marks
from jetbox.round.scope import always_covers, command_argv, skipped, writes_test_code
from jetbox.store import kinds, queries
from jetbox.store.kinds import Answered, Question, ToolCall
from jetbox.store.status import one_line
from jetbox.store.workspace import IGNORED_DIRS, STATE_DIR
from jetbox.tools.policy import CommandRefused, program_name
from jetbox.tools.schemas import Refusal, ToolResult, checked_call

if TYPE_CHECKING:
    from jetbox.round.run import Round, Run
    from jetbox.spec.config import Settings

ASK = "ask"  # Calls' outcome that puts a call to a person, where machine.yaml routes it
CHANGES = ("write_file", "edit_file", "delete", "delete_file")
QUIT = "quit"
# A question longer than this does not fit status.txt's line readably: the line names the
# file that holds it whole instead (never a cut call: what is shown is what runs).
STATUS_LINE_CHARS = 200
QUESTION_FILE = f"{STATE_DIR}/question.txt"
MAX_NAMES = 50_000  # existing names compared against a call's names (confusables)
_ANSWER = re.compile(r"\s*(yes|y|no|n|always|a|quit|q)\b[\s:,.;-]*(?:because\b)?\s*(.*)\Z",
                     re.IGNORECASE | re.DOTALL)
_WORDS = {"y": queries.YES, "n": queries.NO, "a": queries.ALWAYS, "q": QUIT}


@dataclass(frozen=True)
class Answer:
    """A person's answer: yes, no (with a reason the model is shown), always, or quit.
    `prefix`: for `always pytest -q`, the words a command must start with to be covered;
    empty, `always` covers this exact call."""

    verdict: str
    reason: str = ""
    prefix: tuple[str, ...] = ()


def parse_answer(text: str) -> Answer | None:
    """`yes`, `no because it is slow`, `no: too slow`, `always`, `always pytest -q` (a prefix
    the person types), `quit` (or their first letters); None for anything else."""
    match = _ANSWER.match(text or "")
    if match is None:
        return None
    word = match.group(1).lower()
    verdict = _WORDS.get(word, word)
    rest = " ".join(match.group(2).split())
    if verdict == queries.ALWAYS and rest:
        try:
            words = shlex.split(rest.removeprefix("for "))
        except ValueError:
            return None
        return Answer(verdict, prefix=tuple(words)) if words else Answer(verdict)
    return Answer(verdict, rest if verdict == queries.NO else "")


def scope_problem(answer: Answer, question: kinds.Question) -> str | None:
    """Why a typed `always` prefix cannot cover this question's call (None: it can)."""
    if not answer.prefix:
        return None
    argv = command_argv(question.arguments) if question.name == "run_cmd" else None
    if argv is None:
        return f"`always {shlex.join(answer.prefix)}`: only a command takes a prefix"
    try:
        prefix = [program_name(answer.prefix[0]), *answer.prefix[1:]]
    except CommandRefused as exc:
        return str(exc)
    if argv[:len(prefix)] != prefix:
        return (f"`always {shlex.join(answer.prefix)}` is not how `{shlex.join(argv)}` "
                f"starts: type words it starts with, or plain `always` for this exact command")
    return None


_QID = re.compile(r"\s*(q\d{1,9})\s*=(.*)\Z", re.IGNORECASE | re.DOTALL)


def split_qid(text: str) -> tuple[str, str]:
    """`q3=yes` as ("q3", "yes"); a plain `yes` as ("", "yes")."""
    match = _QID.match(text or "")
    return (match.group(1).lower(), match.group(2)) if match else ("", text or "")


def needs_approval(mode: str, skip: tuple[str, ...], call: ToolCall) -> bool:
    """`commands`: run_cmd, and writes of test code (the pytest probe runs it); `changes`:
    also every write, edit and delete; `all`: every call. A call the toolbox refuses
    anyway is only asked about under `all`."""
    if mode == "never":
        return False
    if call.name == "run_cmd":
        argv = command_argv(call.arguments)
        return mode == "all" if argv is None else not skipped(argv, skip)
    if call.name in CHANGES and (mode == "changes" or
                                 (mode == "commands" and writes_test_code(call))):
        return _well_formed(call)
    return mode == "all"


def _well_formed(call: ToolCall) -> bool:
    try:
        checked_call(call.name, call.arguments)
    except Refusal:
        return False
    return True


def call_kind(call: ToolCall) -> str:
    """What a plain `always` approves: this exact command, or every call of one tool."""
    argv = command_argv(call.arguments) if call.name == "run_cmd" else None
    return f"run_cmd {json.dumps(argv, ensure_ascii=False)}" if argv else call.name


def question_line(call: ToolCall, existing: Iterable[str] = ()) -> str:
    """The whole call as the person is asked about it, e.g. `run_cmd ["pytest", "-q"]`,
    followed by a mark for each name in it that may not be what it looks like (mixed
    scripts, a lookalike of an `existing` name). Never cut: what is shown is what runs."""
    argv = command_argv(call.arguments) if call.name == "run_cmd" else None
    args = call.arguments if isinstance(call.arguments, dict) else {}
    names: list[str] = []
    if argv is not None:
        text = f"run_cmd {json.dumps(argv, ensure_ascii=False)}"
        names = argv[1:]
    elif call.name in CHANGES and isinstance(args.get("path"), str):
        size = f" ({len(args['content'])} chars)" if isinstance(args.get("content"), str) else ""
        text = f"{call.name} {args['path']}{size}"
        names = [args["path"]]
    else:
        text = f"{call.name} {json.dumps(call.arguments, ensure_ascii=False)}"
        names = [v for v in args.values() if isinstance(v, str) and len(v) < 4096]
    known = list(existing)
    marks = [m for name in dict.fromkeys(names) for m in name_marks(name, known)]
    if writes_test_code(call):
        marks.append(f"! {args['path']} is test code: Jetbox's pytest probe runs it (its "
                     f"module-level code too) from the next round on")
    return "  ".join([text, *marks])


def status_value(line: str) -> str:
    """What status.txt's `Approve:` line shows of a question: all of it when it fits one
    readable line, else where it is, whole."""
    if len(line) <= STATUS_LINE_CHARS:
        return line
    return (f"{line.split(' ', 1)[0]} ({len(line)} characters, too long for this line): "
            f"the whole call is in {QUESTION_FILE}")


def workspace_names(root: Path) -> list[str]:
    """The folder's file names, relative and posix, to compare a call's names against."""
    names: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in IGNORED_DIRS]
        base = Path(folder).relative_to(root)
        names += [(base / f).as_posix() for f in files]
        if len(names) >= MAX_NAMES:
            break
    return names


def gate(run: Run, now: Round, reply_seq: int, index: int, call: ToolCall,
         ) -> kinds.Question | ToolResult | str | None:
    """Before Calls runs call `index` of a journaled reply: None to run it; a question to
    journal and put to a person first (asked once: ASK once it is journaled and not yet
    answered); or the result a refusal gives the model. It appends nothing: Calls does."""
    state = now.status.state
    if not run.spec.routes(state, ASK) or \
            not needs_approval(run.settings.approve, run.settings.approve_skip, call):
        return None
    records = run.records()
    question = queries.question_for(records, reply_seq, index)
    answer = None if question is None else queries.answer_to(records, question.seq)
    if answer is None and question is None and always_covers(records, call):
        return None
    if question is None:
        return kinds.Question(qid=queries.next_qid(records), round=now.round, reply=reply_seq,
                             index=index, name=call.name, arguments=call.arguments,
                             call_kind=call_kind(call),
                             line=question_line(call, workspace_names(run.workspace.root)))
    if answer is None:
        return ASK
    if answer.answer == queries.NO:
        reason = answer.reason or say("result.no_reason_given")
        return ToolResult(call.name, False, say("result.person_declined", reason=reason))
    return None


def approval_mode(settings: Settings, given: bool, run_records: queries.Records,
                  ) -> tuple[Settings, kinds.ApprovalMode | None]:
    """The settings with the run's whole approval setting, and the record to append when it
    is new: a mode set (flag, environment, config) is recorded with its `approve_skip`;
    else, on resume, the recorded mode and skips hold, so a resumed run is neither let off
    its questions nor asked more or fewer than it was given. `--approve never` (given)
    turns them off."""
    recorded = queries.run_mode(run_records)
    if not given and settings.approve == "never" and recorded is not None:
        skip = settings.approve_skip if recorded.skip is None else \
            tuple(str(entry) for entry in recorded.skip)
        return replace(settings, approve=str(recorded.mode), approve_skip=skip), None
    setting = (settings.approve, list(settings.approve_skip))
    if recorded is None and settings.approve == "never":
        return settings, None
    if recorded is None or setting != (recorded.mode, recorded.skip):
        return settings, kinds.ApprovalMode(mode=settings.approve,
                                           skip=list(settings.approve_skip))
    return settings, None


def start_warnings(run: Run) -> list[str]:
    """What a person should know as the run starts: approval asked for but not wired into
    machine.yaml, or an `--answer` with no question waiting for it."""
    warnings = []
    if run.settings.approve != "never" and not any(t.trigger == ASK
                                                   for t in run.spec.transitions):
        warnings.append(f"approve={run.settings.approve}, but {run.spec.path} has no `ask` "
                        f"transition (the Approve state): no call will be put to you")
    if run.answer and queries.open_question(run.records()) is None:
        warnings.append(f"--answer {run.answer}: no question is waiting; ignored")
    return warnings


ANSWER_FLAG = "--answer"


def waiting(qid: str, sandboxed: bool = True) -> str:
    if not sandboxed:  # the run's code could write status.txt: only the flag or a terminal
        return say("pause.waiting_unsandboxed", qid=qid, file=QUESTION_FILE)
    return say("pause.waiting", qid=qid, file=QUESTION_FILE)


def given(run: Run, now: Round, question: Question, qid: str) -> tuple[Answer | None, str]:
    """The answer given for question `qid`: `--answer` (`q3=yes`; a plain `yes` only for a
    question the person was shown before giving it), else status.txt's `Approve [q3]:`
    line. An answer naming another id, or given before its question was asked, is refused
    with a warning naming the question it would have answered."""
    shown_before = question.seq <= run.session_start
    answer, refused = _from_flag(run, question, qid, shown_before)
    if answer is not None:
        return answer, ANSWER_FLAG
    status = now.status
    # The question's own line is never an answer, whatever the model named its call.
    edited = "" if status.approve == one_line(status_value(question.line)) else status.approve
    if edited and run.toolbox.policy.sandbox != "bwrap":
        # Without a sandbox the run's code (a detached child of a test) can write status.txt
        # as well as the person: an answer there cannot be told from theirs.
        run.display.warn(f"status.txt `Approve [{status.approve_id or '?'}]: {edited}` not "
                         f"taken: without a sandbox the run's code can write status.txt too; "
                         f"answer {qid} at a terminal or with {ANSWER_FLAG} {qid}=yes")
        edited = ""
    answer = parse_answer(edited) if shown_before and edited else None
    problem = scope_problem(answer, question) if answer is not None else None
    if answer is not None and answer.verdict != QUIT and problem:
        refused.append(f"status.txt `Approve [{status.approve_id}]: {edited}`: {problem}; "
                       f"the question waiting is")
    elif answer is not None and answer.verdict != QUIT:
        if status.approve_id == qid:
            return answer, "status.txt"
        named_line = f"Approve [{status.approve_id}]" if status.approve_id else "Approve"
        refused.append(f"status.txt `{named_line}: {edited}` "
                       + (f"names {status.approve_id}, but the question waiting is"
                          if status.approve_id else "names no question; the one waiting is"))
    elif edited and shown_before:
        run.display.warn(f"status.txt `Approve: {edited}` is not an answer; write yes, "
                         f"no because ..., or always")
    for refusal in refused:
        run.display.warn(f"{refusal} {qid}: {question.line} (answer it with "
                         f"{ANSWER_FLAG} {qid}=yes or on the `Approve [{qid}]:` line)")
    return None, ""


def _from_flag(run: Run, question: Question, qid: str, shown_before: bool,
               ) -> tuple[Answer | None, list[str]]:
    """`--answer`'s answer for question `qid`, or why it is refused (an answer already
    used by an earlier question of this invocation is neither)."""
    records = run.records()
    flag = "" if _used_flag(records, run.session_start) else run.answer
    named, text = split_qid(flag)
    if not flag:
        return None, []
    if named and named != qid:
        return None, [f"{ANSWER_FLAG} {flag} names {named}, but the question waiting is"]
    if not shown_before:
        return None, [f"{ANSWER_FLAG} {flag} was given before this question was asked:"]
    if not named and _asked_after_an_answer(records, question):
        return None, [f"{ANSWER_FLAG} {flag} names no question, and the one waiting was "
                      f"asked after your last {ANSWER_FLAG} (you may not have seen it):"]
    answer = parse_answer(text)
    problem = scope_problem(answer, question) if answer is not None else None
    if answer is not None and answer.verdict != QUIT and problem is None:
        return answer, []
    return None, [f"{ANSWER_FLAG} {flag}: {problem}; the question waiting is"] if problem \
        else []


def always_prefix(answer: Answer) -> list[str] | None:
    """The typed `always` prefix as the policy names its program (`PYTEST.EXE` is pytest)."""
    if not answer.prefix:
        return None
    return [program_name(answer.prefix[0]), *answer.prefix[1:]]


def _used_flag(records: queries.Records, session_start: int) -> bool:
    """Whether this invocation's --answer already answered a question: it answers one."""
    return any(isinstance(r, Answered) and r.via == ANSWER_FLAG and r.seq > session_start
               for r in records)


def _asked_after_an_answer(records: queries.Records, question: Question) -> bool:
    """Whether the invocation that asked `question` had used an --answer first: then the
    same command run again would answer a question its author never saw."""
    opened = max((r.seq for r in records if isinstance(r, kinds.Resume | kinds.RunStart)
                  and r.seq < question.seq), default=0)
    return any(isinstance(r, Answered) and r.via == ANSWER_FLAG
               and opened < r.seq < question.seq for r in records)
