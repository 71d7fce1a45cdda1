"""Act: one model call, then its tool calls in order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jetbox.context import build_messages, describe_call
from jetbox.errors import Paused
from jetbox.model import Reply
from jetbox.recovery import (
    FILE_ACTIONS,
    pending_reply,
    resolve_command,
    resolve_write,
    result_text,
)
from states.base import Handler

if TYPE_CHECKING:
    from jetbox.run import Run
    from jetbox.tools import ToolResult

# Enough for a whole result the model is shown again after a resume or a compaction.
MAX_LEDGER_OUTPUT = 20_000
NO_CALL = "No tool call in your reply. Reply with exactly one or more tool calls."


class Act(Handler):
    """Reads: run.messages (rebuilt if this invocation resumed here); a reply journaled
    before a crash, which is finished instead of asking the model again.
    Writes: a `model_reply` ledger record before any call runs, then one `tool_result`
    per call (the tools add their own intent/result records); run.reply, run.results.
    Past the timebox between two calls it pauses, leaving the rest to the resume."""

    outcomes = ("acted",)

    def run(self, run: Run) -> str:
        pending = pending_reply(run.ledger, run.state)
        if pending is not None:
            reply, start = pending.reply, pending.next_index
            run.event(f"resuming a journaled reply at call {start + 1}: no new model call")
        else:
            reply, start = self._ask(run), 0
        run.reply, run.results = reply, []
        if not reply.tool_calls and start == 0:
            run.ledger.append("tool_result", round=run.round, index=0, name="(none)",
                              arguments={}, ok=False, refused=False, output=NO_CALL)
        for index in range(start, len(reply.tool_calls)):
            if index > start:
                self._check_timebox(run, index, len(reply.tool_calls))
            call = reply.tool_calls[index]
            result = None
            if pending is not None and index == start and pending.intent is not None:
                result = self._finish_interrupted(run, call.name, pending.intent, pending.result)
            if result is None:
                result = run.toolbox.dispatch(call.name, call.arguments, run.round)
            self._record(run, index, call.name, call.arguments, result)
        return "acted"

    @staticmethod
    def _check_timebox(run: Run, index: int, total: int) -> None:
        """Between two calls of one reply: past the timebox, pause; the reply is journaled,
        so the resume runs the rest of its calls without asking the model again."""
        if run.elapsed_s() >= run.settings.timebox_s:
            raise Paused(f"timebox: {run.settings.timebox_s:g} s this session; calls "
                         f"{index + 1}-{total} of the model's reply run on resume")

    @staticmethod
    def _ask(run: Run) -> Reply:
        messages = run.messages or build_messages(run)
        run.event(f"asking {run.model.name}")
        reply = run.model.chat(messages, run.toolbox.specs())
        run.ledger.append("model_reply", round=run.round, **reply.to_record())
        run.event(f"{run.model.name} replied in {reply.duration_s:.1f} s (load {reply.load_s:.1f}"
                  f" s, first token {reply.first_token_s:.1f} s; {reply.prompt_tokens} tokens "
                  f"in, {reply.output_tokens} out, {len(reply.tool_calls)} calls)")
        return reply

    @staticmethod
    def _finish_interrupted(run: Run, name: str, intent: dict[str, Any],
                            result: dict[str, Any] | None) -> ToolResult | None:
        """The call whose action began before the crash: complete it without repeating it."""
        from jetbox.tools import ToolResult

        if result is not None:
            return ToolResult(name, bool(result.get("ok")), result_text(result),
                              changed=bool(result.get("changed")))
        if intent.get("action") in FILE_ACTIONS:
            ok, text = resolve_write(run.ledger, run.workspace.root, intent)
            return ToolResult(name, ok, text, changed=ok)
        text = resolve_command(run.ledger, intent)
        return None if text is None else ToolResult(name, False, text)

    @staticmethod
    def _record(run: Run, index: int, name: str, arguments: Any, result: ToolResult) -> None:
        run.results.append(result)
        run.ledger.append("tool_result", round=run.round, index=index, name=name,
                          arguments=arguments, ok=result.ok, refused=result.refused,
                          changed=result.changed, output=result.output[:MAX_LEDGER_OUTPUT])
        verdict = "ok" if result.ok else "refused" if result.refused else "failed"
        run.event(f"{describe_call(name, arguments)} -> {verdict}")
