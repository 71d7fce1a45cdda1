"""Compact: the next request, appended to the last one or rebuilt when it must be."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetbox.context import compact, compaction_reason, exchange, request_chars
from states.base import Handler

if TYPE_CHECKING:
    from jetbox.run import Run


class Compact(Handler):
    """Reads: the last reply and tool results, probes, status, ledger recap.
    Writes: run.conversation and run.messages; a `compaction` ledger record when the
    state is rebuilt (start or resume, HISTORY_KEEP exceeded, context budget)."""

    outcomes = ("compacted",)

    def run(self, run: Run) -> str:
        policy, conversation = run.compaction, run.conversation
        if conversation is not None:
            if run.reply is not None:
                keep = policy.latest_chars(run.settings.num_ctx)
                conversation.add_round(exchange(run.reply, run.results, keep),
                                       policy.max_result_chars)
                run.reply = None
            conversation.add_note(run)
        budget = policy.budget_chars(run.settings.num_ctx)
        size = request_chars(conversation.messages(), run.toolbox.specs()) if conversation else 0
        reason = compaction_reason(conversation, policy, size, budget)
        if reason is not None:
            conversation = run.conversation = compact(run, policy)
            size = request_chars(conversation.messages(), run.toolbox.specs())
            run.ledger.append("compaction", round=run.round, reason=reason, chars=size)
        if size > budget:
            run.display.warn(f"the request ({size} chars) exceeds the context budget ({budget});"
                             f" raise num_ctx or lower compaction limits")
        assert conversation is not None
        run.messages = conversation.messages()
        return "compacted"
