"""Approve: a person says yes or no to the call Calls put to them (the `approve` setting)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetbox.core.errors import Paused
from jetbox.round.approval import (
    QUESTION_FILE,
    QUIT,
    Answer,
    parse_answer,
    scope_problem,
    split_qid,
    status_value,
)
from jetbox.round.asking import ask, on_terminal, reason_of, write_question_file
from jetbox.round.handler import Handler, Step
from jetbox.store import kinds as k
from jetbox.store import questions
from jetbox.store import records as rec
from jetbox.store.acts import Answer as Answered
from jetbox.store.acts import Question
from jetbox.store.status import one_line
from jetbox.tools.policy import program_name

if TYPE_CHECKING:
    from jetbox.round.run import Round, Run

ANSWER_FLAG = "--answer"
WAIT = "wait"  # Approve's outcome when no answer is given yet (machine.yaml: to Wait)


def waiting(qid: str, sandboxed: bool = True) -> str:
    if not sandboxed:  # the run's code could write status.txt: only the flag or a terminal
        return (f"waiting for a person's answer to {qid} (the whole question, with the diff "
                f"or argv, the model's reason and the folder: {QUESTION_FILE}): run again at "
                f"a terminal, or with --answer {qid}=yes (without a sandbox status.txt's "
                f"`Approve [{qid}]:` line is not taken)")
    return (f"waiting for a person's answer to {qid} (the whole question, with the diff or "
            f"argv, the model's reason and the folder: {QUESTION_FILE}): write yes, no "
            f"because ... or always on the `Approve [{qid}]:` line, or run with "
            f"--answer {qid}=yes")


class Approve(Handler):
    """Reads: the newest `approval_asked` record (Calls journaled it, and the reply holding the
    call, before the run came here); its answer, if one was recorded before a crash.
    The answer comes from `--answer` or status.txt's `Approve [q3]:` line (for a question
    shown before this invocation, and only for the id it names; the line only under bwrap,
    where the run's code cannot write status.txt), else from the terminal;
    with neither it returns `wait` (`quit` when the person quit at the terminal), which
    machine.yaml sends to Wait: the run pauses there (exit 3) with the question on the
    `Approve [q3]:` line and whole in .jetbox/question.txt, and the next run asks again.
    Writes: one `approval_answered` record. Returns `answered`: Calls then continues the
    reply from that call, running it or telling the model it was refused."""

    outcomes = ("answered", WAIT, QUIT)
    reads = ("status",)
    writes = ("status",)
    appends = (Answered.KIND,)

    def run(self, run: Run, now: Round) -> Step:
        records = run.records()
        question = rec.last_of(records, Question)
        if question is None:
            run.event(now, "no question is waiting")
            return "answered", now.with_status(approve="", approve_id="")
        answer = questions.answer_to(records, question.seq) or \
            self._answer(run, now, question)
        if isinstance(answer, str):  # no answer yet: status.txt shows the question
            qid = questions.qid_of(records, question)
            return answer, now.with_status(approve=status_value(question.line), approve_id=qid)
        # Answered: the file no longer describes a question that waits.
        (run.workspace.root / QUESTION_FILE).unlink(missing_ok=True)
        verdict = answer.answer + (f": {answer.reason}" if answer.reason else "")
        run.event(now, f"[{questions.qid_of(records, question)}] {question.line}: {verdict} "
                       f"({answer.via})")
        return "answered", now.with_status(approve="", approve_id="")

    @staticmethod
    def _answer(run: Run, now: Round, question: Question) -> Answered | str:
        """Ask, journal the answer; or WAIT (QUIT) for a person who has not answered."""
        qid = questions.qid_of(run.records(), question)
        # The question whole, wherever it is read: status.txt's line names this file.
        sandboxed = run.toolbox.policy.sandbox == "bwrap"
        write_question_file(run.workspace.root, question, run.records(), qid, sandboxed)
        answer, via = given(run, now, question, qid)
        if answer is None and on_terminal(run.display):
            answer, via = ask(run.display, question, run.settings.approve,
                              run.workspace.root, qid=qid,
                              reason=reason_of(run.records(), question)), "terminal"
        if answer is None:
            return WAIT
        if answer.verdict == QUIT:
            return QUIT
        answered = run.ledger.append(Answered(round=now.round, asked=question.seq, qid=qid,
                                              answer=answer.verdict, reason=answer.reason,
                                              call_kind=question.call_kind, via=via,
                                              prefix=_prefix(answer)))
        assert isinstance(answered, Answered)
        return answered


class Wait(Handler):
    """A pause state (machine.yaml `pause: true`): reached from Approve with no answer, the
    invocation ends here with exit 3, status.txt showing the question on its
    `Approve [q3]:` line (Approve set it). Resumed into, it goes back to Approve, which asks
    again. Reads: the newest `approval_asked` record, and the move that led here (`wait`, or
    `quit` at the terminal). Returns: the round unchanged, outcome `resumed`."""

    outcomes = ("resumed",)
    writes = ()
    appends = ()

    def run(self, run: Run, now: Round) -> Step:
        run.event(now, "asking again")
        return "resumed", now

    def paused(self, run: Run, now: Round) -> Paused:
        records = run.records()
        question = rec.last_of(records, Question)
        qid = questions.qid_of(records, question) if question is not None else "q?"
        moved = rec.last_of(records, k.Transition)
        hint = "run again once it is answered"  # not "the same command": see given()
        if moved is not None and moved.outcome == QUIT:
            return Paused(f"the person quit at {qid}; run again to be asked again", hint=hint)
        return Paused(waiting(qid, run.toolbox.policy.sandbox == "bwrap"), hint=hint)


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


def _prefix(answer: Answer) -> list[str] | None:
    """The typed `always` prefix as the policy names its program (`PYTEST.EXE` is pytest)."""
    if not answer.prefix:
        return None
    return [program_name(answer.prefix[0]), *answer.prefix[1:]]


def _used_flag(records: rec.Records, session_start: int) -> bool:
    """Whether this invocation's --answer already answered a question: it answers one."""
    return any(isinstance(r, Answered) and r.via == ANSWER_FLAG and r.seq > session_start
               for r in records)


def _asked_after_an_answer(records: rec.Records, question: Question) -> bool:
    """Whether the invocation that asked `question` had used an --answer first: then the
    same command run again would answer a question its author never saw."""
    opened = max((r.seq for r in records if isinstance(r, k.Resume | k.RunStart)
                  and r.seq < question.seq), default=0)
    return any(isinstance(r, Answered) and r.via == ANSWER_FLAG
               and opened < r.seq < question.seq for r in records)
