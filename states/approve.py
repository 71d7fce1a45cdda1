"""Approve: a person says yes or no to the call Act put to them (the `approve` setting)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetbox.core.errors import Paused
from jetbox.round.approval import QUIT, Answer, parse_answer, status_value
from jetbox.round.asking import ask, on_terminal, write_question_file
from jetbox.round.handler import Handler, Step
from jetbox.store import questions
from jetbox.store import records as rec
from jetbox.store.acts import Answer as Answered
from jetbox.store.acts import Question
from jetbox.store.status import one_line

if TYPE_CHECKING:
    from jetbox.round.run import Round, Run

WAITING = ("waiting for a person's answer: write yes, no because ... or always on the "
           "`Approve:` line, or run with --answer")


class Approve(Handler):
    """Reads: the newest `approval_asked` record (Act journaled it, and the reply holding the
    call, before the run came here); its answer, if one was recorded before a crash.
    The answer comes from `--answer` or status.txt's `Approve:` line (for a question asked
    before this invocation), else from the terminal; with neither, the run pauses here
    (exit 3) with the question on the `Approve:` line, and the next run asks again.
    Writes: one `approval_answered` record. Returns `answered`: Act then continues the
    reply from that call, running it or telling the model it was refused."""

    outcomes = ("answered",)

    def run(self, run: Run, now: Round) -> Step:
        records = run.records()
        question = rec.last_of(records, Question)
        if question is None:
            run.event(now, "no question is waiting")
            return "answered", now.with_status(approve="")
        answer = questions.answer_to(records, question.seq) or \
            self._answer(run, now, question)
        verdict = answer.answer + (f": {answer.reason}" if answer.reason else "")
        run.event(now, f"{question.line}: {verdict} ({answer.via})")
        return "answered", now.with_status(approve="")

    @staticmethod
    def _answer(run: Run, now: Round, question: Question) -> Answered:
        """Ask, journal the answer; or pause with the question on status.txt's line."""
        waiting = now.with_status(approve=status_value(question.line))
        # The question whole, wherever it is read: status.txt's line names this file.
        write_question_file(run.workspace.root, question, run.records())
        answer, via = given(run, now, question)
        if answer is None and on_terminal(run.display):
            answer, via = ask(run.display, question, run.settings.approve,
                              run.workspace.root), "terminal"
        if answer is None:
            raise Paused(WAITING, now=waiting)
        if answer.verdict == QUIT:
            raise Paused("the person quit at a question; run again to be asked again",
                         now=waiting)
        answered = run.ledger.append(Answered(round=now.round, asked=question.seq,
                                              answer=answer.verdict, reason=answer.reason,
                                              call_kind=question.call_kind, via=via))
        assert isinstance(answered, Answered)
        return answered


def given(run: Run, now: Round, question: Question) -> tuple[Answer | None, str]:
    """The answer given for a question asked before this invocation: `--answer`, else an
    edited `Approve:` line. A later question is never answered by either."""
    if question.seq > run.session_start:
        return None, ""
    # The question's own line is never an answer, whatever the model named its call.
    edited = "" if now.status.approve == one_line(status_value(question.line)) \
        else now.status.approve
    for text, via in ((run.answer, "--answer"), (edited, "status.txt")):
        answer = parse_answer(text)
        if answer is not None and answer.verdict != QUIT:
            return answer, via
    if edited:
        run.display.warn(f"status.txt `Approve: {edited}` is not an answer; write yes, "
                         f"no because ..., or always")
    return None, ""
