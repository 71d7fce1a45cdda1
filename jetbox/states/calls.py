"""The calls of a round: Calls runs the journaled reply's calls; Approve puts one to a person
(the `approve` setting) and Wait is where the run pauses until they answer."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from jetbox.core.errors import MachineError, PauseRun
from jetbox.core.prompts import say
from jetbox.round.approval import (
    ASK,
    QUESTION_FILE,
    QUIT,
    always_prefix,
    gate,
    given,
    status_value,
    waiting,
)
from jetbox.round.asking import ask, on_terminal, reason_of, write_question_file
from jetbox.round.context import describe_call
from jetbox.round.handler import Handler, Step
from jetbox.round.run import pending_reply
from jetbox.store import kinds, queries
from jetbox.store.kinds import Answered, Question
from jetbox.tools.schemas import ToolResult
from jetbox.tools.toolbox import TOOLBOX_KINDS

if TYPE_CHECKING:
    from jetbox.round.run import Round, Run

# Enough for a whole result the model is shown again after a resume or a compaction.
MAX_LEDGER_OUTPUT = 20_000
WAIT = "wait"  # Approve's outcome when no answer is given yet (machine.yaml: to Wait)


class Calls(Handler):
    """Reads: the reply journaled just before the run entered this state (Ask's) and how far
    its calls got (queries.reply_to_run): a resume, or a return from a person's answer,
    continues from the next call and never asks the model again.
    Returns: the round with the reply and the results of the calls this visit ran.
    Writes: one `tool_result` per call (the toolbox adds its own intent/result records); for
    a reply with no call, one telling the model why nothing ran. Past the timebox between
    two calls it pauses, leaving the rest of the reply to the resume.
    A call the `approve` setting puts to a person (approval.gate) ends the visit with `ask`,
    where machine.yaml routes it (to Approve, which comes back here): the question is
    journaled first, and the reply continues from that call once it is answered."""

    outcomes = ("acted",)
    optional_outcomes = (ASK,)
    reads = ("status", "reply", "results")
    writes = ("status", "reply", "results")
    appends = (kinds.ToolResult.KIND, Question.KIND, *TOOLBOX_KINDS)

    def run(self, run: Run, now: Round) -> Step:
        pending = pending_reply(run.records(), now.status.state)
        if pending is None:
            raise MachineError(f"`{now.status.state}` runs the calls of a journaled reply, "
                               f"but none was journaled: keep an Ask state before it in "
                               f"{run.spec.path}")
        reply, seq, start = pending.reply, pending.reply.seq, pending.next_index
        # The results so far travel on in the round when it comes back from a question.
        results: list[ToolResult] = list(now.results) if now.reply is not None else []
        if now.reply is None or start > 0:
            run.event(now, f"resuming a journaled reply at call {start + 1}: no new model call")
        if not reply.calls and start == 0:
            # Why nothing ran (cut off, unknown tool, a call in reasoning...), or the plain
            # reminder: the model hears it as the result of its reply.
            run.ledger.append(ToolResult(queries.NO_CALL, False,
                                         reply.problem or say("reply.no_call"),
                                         round=now.round, index=0, arguments={}))
        for index in range(start, len(reply.calls)):
            if index > start:
                # the reply is journaled: a resume runs the rest without asking again
                run.check_timebox(say("pause.calls_on_resume", first=index + 1,
                                      last=len(reply.calls)))
            call = reply.calls[index]
            gated = gate(run, now, seq, index, call)
            if isinstance(gated, Question):  # put to a person: journaled once, then asked
                run.ledger.append(gated)
                gated = ASK
            if gated == ASK:  # status.txt shows the question from the move to Approve on
                question = queries.question_for(run.records(), seq, index)
                assert question is not None  # gate journaled it
                return ASK, replace(now, reply=reply, results=tuple(results)).with_status(
                    approve=status_value(question.line),
                    approve_id=queries.qid_of(run.records(), question))
            result = gated if isinstance(gated, ToolResult) else \
                self._replay(run, call.name, pending) if index == start else None
            result = result or run.toolbox.dispatch(call.name, call.arguments, now.round)
            results.append(result)
            self._record(run, now, index, call.arguments, result, declined=gated is not None)
        return "acted", replace(now, reply=reply, results=tuple(results))

    @staticmethod
    def _replay(run: Run, name: str, pending: queries.JournaledReply) -> ToolResult | None:
        """The call whose action began before the crash: completed without repeating it."""
        if pending.intent is None:
            return None
        return run.toolbox.replay(name, pending.intent, pending.result)

    @staticmethod
    def _record(run: Run, now: Round, index: int, arguments: Any, result: ToolResult,
                declined: bool = False) -> None:
        """One tool_result; `declined`: a person refused the call, which never ran."""
        journaled = replace(result, round=now.round, index=index, arguments=arguments,
                            output=result.output[:MAX_LEDGER_OUTPUT],
                            declined=True if declined else None)
        run.ledger.append(journaled)
        run.event(now, f"{describe_call(result.name, arguments)} -> {journaled.outcome}")


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
        question = queries.last_of(records, Question)
        if question is None:
            run.event(now, "no question is waiting")
            return "answered", now.with_status(approve="", approve_id="")
        answer = queries.answer_to(records, question.seq) or \
            self._answer(run, now, question)
        if isinstance(answer, str):  # no answer yet: status.txt shows the question
            qid = queries.qid_of(records, question)
            return answer, now.with_status(approve=status_value(question.line), approve_id=qid)
        # Answered: the file no longer describes a question that waits.
        (run.workspace.root / QUESTION_FILE).unlink(missing_ok=True)
        verdict = answer.answer + (f": {answer.reason}" if answer.reason else "")
        run.event(now, f"[{queries.qid_of(records, question)}] {question.line}: {verdict} "
                       f"({answer.via})")
        return "answered", now.with_status(approve="", approve_id="")

    @staticmethod
    def _answer(run: Run, now: Round, question: Question) -> Answered | str:
        """Ask, journal the answer; or WAIT (QUIT) for a person who has not answered."""
        qid = queries.qid_of(run.records(), question)
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
                                              prefix=always_prefix(answer)))
        assert isinstance(answered, Answered)
        return answered


class Wait(Handler):
    """A pause state (machine.yaml `pause: true`): reached from Approve with no answer, the
    invocation ends here with exit 3, status.txt showing the question on its
    `Approve [q3]:` line (Approve set it). Resumed into, it goes back to Approve, which asks
    again. Reads: the newest `approval_asked` record, and the move that led here (`wait`, or
    `quit` at the terminal). Returns: the round unchanged, outcome `resumed`."""

    outcomes = ("resumed",)
    reads = ("status",)
    writes = ()
    appends = ()

    def run(self, run: Run, now: Round) -> Step:
        run.event(now, "asking again")
        return "resumed", now

    def paused(self, run: Run, now: Round) -> PauseRun:
        records = run.records()
        question = queries.last_of(records, Question)
        qid = queries.qid_of(records, question) if question is not None else "q?"
        moved = queries.last_of(records, kinds.Transition)
        hint = "run again once it is answered"  # not "the same command": see given()
        if moved is not None and moved.outcome == QUIT:
            return PauseRun(say("pause.person_quit", qid=qid), hint=hint)
        return PauseRun(waiting(qid, run.toolbox.policy.sandbox == "bwrap"), hint=hint)


