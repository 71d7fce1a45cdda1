"""Resume's questions of the ledger: where the run is, and the model reply it was in the
middle of (how far its calls got, and the action a crash interrupted)."""

from __future__ import annotations

from dataclasses import dataclass

from jetbox.store.acts import Answer, Intent, Result
from jetbox.store.kinds import ModelReply, ToolResult, Transition
from jetbox.store.records import INTENT, Records, last, run_goal, stood_at


@dataclass(frozen=True)
class Position:
    """Where the ledger says the run is."""

    goal: str
    state: str
    round: int


def position(records: Records, initial: str) -> Position | None:
    """The state and round of the run these records begin: its last record with both."""
    goal = run_goal(records)
    if goal is None:
        return None
    for record in reversed(records):
        stood = stood_at(record)
        if stood is not None:
            return Position(goal, *stood)
    return Position(goal, initial, 1)


def recent_status_shas(records: Records, window: int = 12) -> list[str]:
    return [sha for r in records[-window:]  # oldest first
            if isinstance(sha := getattr(r, "status_sha", None), str)]


@dataclass(frozen=True)
class JournaledReply:
    """A model reply journaled since the run last entered a state, and how far its calls got:
    from next_index on they have not run (none left: the crash came after the last one)."""

    reply: ModelReply
    next_index: int
    intent: Intent | None  # the action the next call had begun before the crash
    result: Result | None  # its result, when it finished but its tool_result is missing


def visit_start(records: Records, state: str) -> int:
    """Where the run last entered `state`: the newest transition into it that is not a
    return from a person's answer (an answer since the transition before it), else 0.
    Walked back from the newest record: a long run costs no more than a short one."""
    i = len(records) - 1
    while i >= 0:
        record = records[i]
        if not (isinstance(record, Transition) and record.dest == state):
            i -= 1
            continue
        j, answered = i - 1, False
        while j >= 0 and not isinstance(records[j], Transition):
            answered = answered or isinstance(records[j], Answer)
            j -= 1
        if not answered:
            return i
        i = j  # a return from an answer: the visit began before it
    return 0


def journaled_reply(records: Records, state: str) -> JournaledReply | None:
    """The reply journaled since the run last entered `state`, if any: Ask's, when a crash
    came after it was journaled and before the run moved on."""
    start = visit_start(records, state)
    at = next((i for i in range(start, len(records)) if isinstance(records[i], ModelReply)),
              None)
    return None if at is None else _progress(records, at)


def reply_to_run(records: Records, state: str) -> JournaledReply | None:
    """The reply the visit of `state` runs: the one journaled just before the run entered
    it (Ask journals it, then Calls runs it; a return from a person's answer continues the
    visit the question interrupted), with how far its calls got."""
    start = visit_start(records, state)
    entered = records[start] if records else None
    if not (isinstance(entered, Transition) and entered.dest == state):
        return None
    at = start - 1
    while at >= 0 and not isinstance(records[at], ModelReply | Transition):
        at -= 1
    return _progress(records, at) if at >= 0 and isinstance(records[at], ModelReply) else None


def _progress(records: Records, at: int) -> JournaledReply:
    """The reply at `at`, and how far its calls got in the records after it."""
    reply, after = records[at], records[at + 1:]
    assert isinstance(reply, ModelReply)
    done = [i for i, r in enumerate(after) if isinstance(r, ToolResult)]
    next_index = max(after[i].index for i in done) + 1 if done else 0
    since = after[done[-1] + 1:] if done else after
    # The newest: a command re-run on an earlier resume has an intent of its own.
    intent = last(since, INTENT)
    if not isinstance(intent, Intent):
        return JournaledReply(reply, next_index, None, None)
    result = next((r for r in since if isinstance(r, Result) and r.intent == intent.seq), None)
    return JournaledReply(reply, next_index, intent, result)


def open_intents(records: Records) -> list[Intent]:
    """Intents among these records that have no result yet."""
    closed = {r.intent for r in records if isinstance(r, Result)}
    return [r for r in records if isinstance(r, Intent) and r.seq not in closed]
