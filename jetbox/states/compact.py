"""Compact: fold the last round into the model's context, or rebuild it when it must be."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from jetbox.round.context import compact, compaction_reason, exchange, request_chars
from jetbox.round.handler import Handler, Step
from jetbox.store import kinds as k

if TYPE_CHECKING:
    from jetbox.round.run import Round, Run


class Compact(Handler):
    """Reads: the round's last reply and results, its probes and status; the ledger's recap.
    Returns: the round with its conversation (the reply folded in) and no pending reply.
    Writes: a `compaction` record when the state is rebuilt (start or resume, more than
    `history_keep` rounds, the context budget)."""

    outcomes = ("compacted",)
    reads = ("status", "report", "verdict", "conversation", "reply", "results")
    writes = ("conversation", "reply", "results")
    appends = (k.Compaction.KIND,)

    def run(self, run: Run, now: Round) -> Step:
        policy, conversation = run.compaction, now.conversation
        if conversation is not None and now.reply is not None:
            keep = policy.latest_chars(run.settings.num_ctx)
            conversation = conversation.with_round(exchange(now.reply, now.results, keep),
                                                   policy.max_result_chars)
        now = replace(now, conversation=conversation, reply=None, results=())
        budget = policy.budget_chars(run.settings.num_ctx)
        size = request_chars(conversation.messages(), run.toolbox.specs()) if conversation else 0
        reason = compaction_reason(conversation, policy, size, budget)
        if reason is not None:
            now = replace(now, conversation=compact(run, now))
            assert now.conversation is not None
            size = request_chars(now.conversation.messages(), run.toolbox.specs())
            run.ledger.append(k.Compaction(round=now.round, reason=reason, chars=size))
        if size > budget:
            run.display.warn(f"the request ({size} chars) exceeds the context budget ({budget});"
                             f" raise num_ctx or lower compaction limits")
        return "compacted", now
