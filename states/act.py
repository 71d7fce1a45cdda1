"""Act: one model call, then its tool calls in order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetbox.context import build_messages, describe_call
from jetbox.model import Reply
from states.base import Handler

if TYPE_CHECKING:
    from jetbox.run import Run

NO_CALL = "No tool call in your reply. Reply with exactly one or more tool calls."


class Act(Handler):
    """Reads: run.messages (rebuilt if this invocation resumed here).
    Writes: a `model_reply` ledger record before any call runs, then one `tool_result`
    per call (the tools add their own intent/result records); run.reply, run.results."""

    outcomes = ("acted",)

    def run(self, run: Run) -> str:
        messages = run.messages or build_messages(run)
        run.event(f"asking {run.model.name}")
        reply = run.model.chat(messages, run.toolbox.specs())
        run.ledger.append("model_reply", round=run.round, **reply.to_record())
        self._count(run, reply)
        run.reply, run.results = reply, []
        if not reply.tool_calls:
            run.ledger.append("tool_result", round=run.round, index=0, name="(none)",
                              arguments={}, ok=False, refused=False, output=NO_CALL)
        for index, call in enumerate(reply.tool_calls):
            result = run.toolbox.dispatch(call.name, call.arguments, run.round)
            run.results.append(result)
            run.ledger.append("tool_result", round=run.round, index=index, name=call.name,
                              arguments=call.arguments, ok=result.ok, refused=result.refused,
                              output=result.output[:4000])
            run.event(f"{describe_call(call.name, call.arguments)} -> "
                      f"{'ok' if result.ok else 'refused' if result.refused else 'failed'}")
            self._count_result(run, call.name, call.arguments, result.ok, result.refused)
        return "acted"

    @staticmethod
    def _count(run: Run, reply: Reply) -> None:
        run.counters.model_calls += 1
        run.counters.tokens_in += reply.prompt_tokens
        run.counters.tokens_out += reply.output_tokens

    @staticmethod
    def _count_result(run: Run, name: str, arguments: object, ok: bool, refused: bool) -> None:
        run.counters.tool_calls += 1
        run.counters.refusals += int(refused)
        if name == "write_file" and ok and isinstance(arguments, dict):
            run.counters.files_written.add(str(arguments.get("path")))
        if name == "run_cmd" and not refused:
            run.counters.commands += 1
