"""The model side of a round: Compact folds the last round into the model's context, Plan
keeps a short checklist, and Ask makes the one model call and journals its reply."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from jetbox.core.errors import MachineError
from jetbox.core.prompts import say
from jetbox.core.text import counted
from jetbox.round.context import compact, compaction_reason, exchange, notices, request_chars
from jetbox.round.handler import Handler, Step
from jetbox.store import kinds, queries
from jetbox.store.status import MAX_NEXT, clean_item

if TYPE_CHECKING:
    from jetbox.probes.verdict import Verdict
    from jetbox.round.run import Round, Run


class Compact(Handler):
    """Reads: the round's last reply and results, its probes and status; the ledger's recap.
    Returns: the round with its conversation (the reply folded in) and no pending reply.
    Writes: a `compaction` record when the state is rebuilt (start or resume, more than
    `history_keep` rounds, the context budget)."""

    outcomes = ("compacted",)
    reads = ("status", "report", "verdict", "conversation", "reply", "results")
    writes = ("conversation", "reply", "results")
    appends = (kinds.Compaction.KIND,)

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
            run.ledger.append(kinds.Compaction(round=now.round, reason=reason, chars=size))
        if size > budget:
            run.display.warn(f"the request ({size} chars) exceeds the context budget ({budget});"
                             f" raise num_ctx or lower compaction limits")
        return "compacted", now


def plan_from_verdict(verdict: Verdict, goal: str) -> list[str]:
    """The seed's checklist from real state, goal first: what the run broke or must still
    make pass, then finish. Pre-existing lint is not listed: it is not the run's."""
    steps = [say("plan.work_on_goal", goal=goal)]
    steps += [say("plan.fix", blocker=blocker) for blocker in verdict.blockers]
    if verdict.ok:
        steps.append(say("plan.finish_when_green"))
    else:
        steps.append(say("plan.finish_after_fixes"))
    return steps


class Plan(Handler):
    """Reads: the round's status `Next:` and probes; the last plan Jetbox wrote (ledger).
    Returns: the round with `Next:` set (a person's own lines first, kept until they remove
    them, then Jetbox's checklist from the verdict).
    Writes: a `plan` record when the checklist changes."""

    outcomes = ("planned",)
    reads = ("status", "verdict")
    writes = ("status",)
    appends = (kinds.Planned.KIND,)

    def run(self, run: Run, now: Round) -> Step:
        last = queries.last_plan(run.records())
        ours = set(last or ())
        person = [item for item in now.status.next if item not in ours]
        assert now.verdict is not None, "Probe judges every round before Plan"
        generated = [clean_item(s) for s in plan_from_verdict(now.verdict, now.status.goal)]
        steps = tuple(dict.fromkeys([*person, *generated]))[:MAX_NEXT]
        if steps != now.status.next or last is None:
            now = now.with_status(next=steps)
            run.ledger.append(kinds.Planned(round=now.round, items=generated, person=person))
        return "planned", now


class Ask(Handler):
    """Reads: the round's conversation (Compact's), status and probes; a reply journaled in
    this visit before a crash (queries.journaled_reply), which is not asked for again.
    Returns: the round with the request's note added to its conversation and the reply.
    Writes: a `model_reply` record, before the run moves to Calls, which runs its calls."""

    outcomes = ("asked",)
    reads = ("status", "report", "verdict", "conversation")
    writes = ("conversation", "reply", "results")
    appends = (kinds.ModelReply.KIND,)

    def run(self, run: Run, now: Round) -> Step:
        journaled = queries.journaled_reply(run.records(), now.status.state)
        if journaled is not None:  # a crash after the reply was journaled: not asked again
            run.event(now, "the reply was journaled before the stop: no new model call")
            return "asked", replace(now, reply=journaled.reply, results=())
        now = request(run, now)
        assert now.conversation is not None
        run.event(now, f"asking {run.model.name}")
        reply = replace(run.model.chat(now.conversation.messages(), run.toolbox.specs()),
                        round=now.round)
        run.ledger.append(reply)
        run.event(now, f"{run.model.name} replied in {reply.duration_s:.1f} s (load "
                  f"{reply.load_s:.1f} s, first token {reply.first_token_s:.1f} s; "
                  f"{reply.prompt_tokens} tokens in, {reply.output_tokens} out, "
                  f"{counted(len(reply.calls), 'call')})")
        return "asked", replace(now, reply=reply, results=())


def request(run: Run, now: Round) -> Round:
    """The round with its request ready: Compact's conversation and a note of what changed
    since the model last saw it, Plan's checklist among it."""
    if now.conversation is None:
        raise MachineError(f"`{now.status.state}` asks the model but the round has no "
                           f"conversation: keep a Compact state before it in {run.spec.path}")
    return replace(now, conversation=now.conversation.with_note(notices(run, now)))
