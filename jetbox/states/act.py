"""Ask and Calls: one model call, its reply journaled; then the reply's calls, in order."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from jetbox.core.errors import MachineError
from jetbox.core.text import counted
from jetbox.model.base import Reply
from jetbox.round.approval import ASK, gate, status_value
from jetbox.round.context import describe_call, notices
from jetbox.round.handler import Handler, Step
from jetbox.round.run import pending_reply
from jetbox.store import journal, questions
from jetbox.store import kinds as k
from jetbox.store import records as rec
from jetbox.store.acts import Question
from jetbox.tools.specs import ToolResult
from jetbox.tools.toolbox import TOOLBOX_KINDS

if TYPE_CHECKING:
    from jetbox.round.run import Pending, Round, Run

# Enough for a whole result the model is shown again after a resume or a compaction.
MAX_LEDGER_OUTPUT = 20_000
NO_CALL = "No tool call in your reply. Reply with exactly one or more tool calls."


class Ask(Handler):
    """Reads: the round's conversation (Compact's), status and probes; a reply journaled in
    this visit before a crash (records.journaled_reply), which is not asked for again.
    Returns: the round with the request's note added to its conversation and the reply.
    Writes: a `model_reply` record, before the run moves to Calls, which runs its calls."""

    outcomes = ("asked",)
    reads = ("status", "report", "verdict", "conversation")
    writes = ("conversation", "reply", "results")
    appends = (k.ModelReply.KIND,)

    def run(self, run: Run, now: Round) -> Step:
        journaled = journal.journaled_reply(run.records(), now.status.state)
        if journaled is not None:  # a crash after the reply was journaled: not asked again
            run.event(now, "the reply was journaled before the stop: no new model call")
            return "asked", replace(now, reply=Reply.from_record(journaled.reply), results=())
        now = request(run, now)
        assert now.conversation is not None
        run.event(now, f"asking {run.model.name}")
        reply = run.model.chat(now.conversation.messages(), run.toolbox.specs())
        run.ledger.append(reply.journaled(now.round))
        run.event(now, f"{run.model.name} replied in {reply.duration_s:.1f} s (load "
                  f"{reply.load_s:.1f} s, first token {reply.first_token_s:.1f} s; "
                  f"{reply.prompt_tokens} tokens in, {reply.output_tokens} out, "
                  f"{counted(len(reply.tool_calls), 'call')})")
        return "asked", replace(now, reply=reply, results=())


class Calls(Handler):
    """Reads: the reply journaled just before the run entered this state (Ask's) and how far
    its calls got (records.reply_to_run): a resume, or a return from a person's answer,
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
    appends = (k.ToolResult.KIND, Question.KIND, *TOOLBOX_KINDS)

    def run(self, run: Run, now: Round) -> Step:
        pending = pending_reply(run.records(), now.status.state)
        if pending is None:
            raise MachineError(f"`{now.status.state}` runs the calls of a journaled reply, "
                               f"but none was journaled: keep an Ask state before it in "
                               f"{run.spec.path}")
        reply, seq, start = pending.reply, pending.journal.reply.seq, pending.journal.next_index
        # The results so far travel on in the round when it comes back from a question.
        results: list[ToolResult] = list(now.results) if now.reply is not None else []
        if now.reply is None or start > 0:
            run.event(now, f"resuming a journaled reply at call {start + 1}: no new model call")
        if not reply.tool_calls and start == 0:
            # Why nothing ran (cut off, unknown tool, a call in reasoning...), or the plain
            # reminder: the model hears it as the result of its reply.
            run.ledger.append(ToolResult(rec.NO_CALL, False, reply.problem or NO_CALL,
                                         round=now.round, index=0, arguments={}))
        for index in range(start, len(reply.tool_calls)):
            if index > start:
                # the reply is journaled: a resume runs the rest without asking again
                run.check_timebox(f"; calls {index + 1}-{len(reply.tool_calls)} of the "
                                  f"model's reply run on resume")
            call = reply.tool_calls[index]
            gated = gate(run, now, seq, index, call)
            if isinstance(gated, Question):  # put to a person: journaled once, then asked
                run.ledger.append(gated)
                gated = ASK
            if gated == ASK:  # status.txt shows the question from the move to Approve on
                question = questions.question_for(run.records(), seq, index)
                assert question is not None  # gate journaled it
                return ASK, replace(now, reply=reply, results=tuple(results)).with_status(
                    approve=status_value(question.line),
                    approve_id=questions.qid_of(run.records(), question))
            result = gated if isinstance(gated, ToolResult) else \
                self._replay(run, call.name, pending) if index == start else None
            result = result or run.toolbox.dispatch(call.name, call.arguments, now.round)
            results.append(result)
            self._record(run, now, index, call.arguments, result, declined=gated is not None)
        return "acted", replace(now, reply=reply, results=tuple(results))

    @staticmethod
    def _replay(run: Run, name: str, pending: Pending) -> ToolResult | None:
        """The call whose action began before the crash: completed without repeating it."""
        if pending.journal.intent is None:
            return None
        return run.toolbox.replay(name, pending.journal.intent, pending.journal.result)

    @staticmethod
    def _record(run: Run, now: Round, index: int, arguments: Any, result: ToolResult,
                declined: bool = False) -> None:
        """One tool_result; `declined`: a person refused the call, which never ran."""
        journaled = replace(result, round=now.round, index=index, arguments=arguments,
                            output=result.output[:MAX_LEDGER_OUTPUT],
                            declined=True if declined else None)
        run.ledger.append(journaled)
        run.event(now, f"{describe_call(result.name, arguments)} -> {journaled.outcome}")


def request(run: Run, now: Round) -> Round:
    """The round with its request ready: Compact's conversation and a note of what changed
    since the model last saw it, Plan's checklist among it."""
    if now.conversation is None:
        raise MachineError(f"`{now.status.state}` asks the model but the round has no "
                           f"conversation: keep a Compact state before it in {run.spec.path}")
    return replace(now, conversation=now.conversation.with_note(notices(run, now)))
