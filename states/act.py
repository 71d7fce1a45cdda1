"""Act: build the request from Compact's context and Plan's checklist, ask the model once,
then run its tool calls in order."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from jetbox.core.errors import Paused
from jetbox.engine.resume import Pending, pending_reply
from jetbox.model.base import Reply
from jetbox.round.context import compact, describe_call, notices
from jetbox.round.handler import Handler, Step
from jetbox.store import records as rec

if TYPE_CHECKING:
    from jetbox.round.run import Round, Run
    from jetbox.tools.toolbox import ToolResult

# Enough for a whole result the model is shown again after a resume or a compaction.
MAX_LEDGER_OUTPUT = 20_000
NO_CALL = "No tool call in your reply. Reply with exactly one or more tool calls."


class Act(Handler):
    """Reads: the round's conversation, status and probes; a reply journaled before a crash
    (resume.pending_reply), which is finished instead of asking the model again.
    Returns: the round with the request's note added to its conversation, the reply and
    the results of the calls this visit ran.
    Writes: a `model_reply` record before any call runs, then one `tool_result` per call
    (the toolbox adds its own intent/result records). Past the timebox between two calls it
    pauses, leaving the rest of the reply to the resume."""

    outcomes = ("acted",)

    def run(self, run: Run, now: Round) -> Step:
        pending = pending_reply(run.records(), now.status.state)
        if pending is not None:
            reply, start = pending.reply, pending.journal.next_index
            run.event(now, f"resuming a journaled reply at call {start + 1}: no new model call")
        else:
            now = request(run, now)
            reply, start = self._ask(run, now), 0
        if not reply.tool_calls and start == 0:
            # Why nothing ran (cut off, unknown tool, a call in reasoning...), or the plain
            # reminder: the model hears it as the result of its reply.
            run.ledger.append(rec.TOOL_RESULT, round=now.round, index=0, name=rec.NO_CALL,
                              arguments={}, ok=False, refused=False,
                              output=reply.problem or NO_CALL)
        results = []
        for index in range(start, len(reply.tool_calls)):
            if index > start:
                self._check_timebox(run, index, len(reply.tool_calls))
            call = reply.tool_calls[index]
            result = self._replay(run, call.name, pending) if index == start else None
            if result is None:
                result = run.toolbox.dispatch(call.name, call.arguments, now.round)
            results.append(result)
            self._record(run, now, index, call.arguments, result)
        return "acted", replace(now, reply=reply, results=tuple(results))

    @staticmethod
    def _check_timebox(run: Run, index: int, total: int) -> None:
        """Between two calls of one reply: past the timebox, pause; the reply is journaled,
        so the resume runs the rest of its calls without asking the model again."""
        if run.elapsed_s() >= run.settings.timebox_s:
            raise Paused(f"timebox: {run.settings.timebox_s:g} s this session; calls "
                         f"{index + 1}-{total} of the model's reply run on resume")

    @staticmethod
    def _ask(run: Run, now: Round) -> Reply:
        assert now.conversation is not None
        run.event(now, f"asking {run.model.name}")
        reply = run.model.chat(now.conversation.messages(), run.toolbox.specs())
        run.ledger.append(rec.MODEL_REPLY, round=now.round, **reply.to_record())
        run.event(now, f"{run.model.name} replied in {reply.duration_s:.1f} s (load "
                  f"{reply.load_s:.1f} s, first token {reply.first_token_s:.1f} s; "
                  f"{reply.prompt_tokens} tokens in, {reply.output_tokens} out, "
                  f"{len(reply.tool_calls)} calls)")
        return reply

    @staticmethod
    def _replay(run: Run, name: str, pending: Pending | None) -> ToolResult | None:
        """The call whose action began before the crash: completed without repeating it."""
        if pending is None or pending.journal.intent is None:
            return None
        return run.toolbox.replay(name, pending.journal.intent, pending.journal.result)

    @staticmethod
    def _record(run: Run, now: Round, index: int, arguments: Any, result: ToolResult) -> None:
        run.ledger.append(rec.TOOL_RESULT, round=now.round, index=index, name=result.name,
                          arguments=arguments, ok=result.ok, refused=result.refused,
                          changed=result.changed, output=result.output[:MAX_LEDGER_OUTPUT])
        verdict = "ok" if result.ok else "refused" if result.refused else "failed"
        run.event(now, f"{describe_call(result.name, arguments)} -> {verdict}")


def request(run: Run, now: Round) -> Round:
    """The round with its request ready: Compact's conversation (rebuilt when this invocation
    resumed here without one) and a note of what changed since the model last saw it, Plan's
    checklist among it."""
    now = run.probed(now)
    conversation = now.conversation or compact(run, now)
    return replace(now, conversation=conversation.with_note(notices(run, now)))
