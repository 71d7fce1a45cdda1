"""Resume's questions of the ledger: where the run is, and the model reply it was in the
middle of (how far its calls got, and the action a crash interrupted)."""

from __future__ import annotations

from dataclasses import dataclass

from jetbox.store.records import (
    ANSWER,
    INTENT,
    MODEL_REPLY,
    RESULT,
    TOOL_RESULT,
    TRANSITION,
    Record,
    Records,
    last,
    run_goal,
)


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
        if record["kind"] == TRANSITION:
            return Position(goal, record["dest"], record["round"])
        if "state" in record and "round" in record:
            return Position(goal, record["state"], record["round"])
    return Position(goal, initial, 1)


def recent_status_shas(records: Records, window: int = 12) -> list[str]:
    return [r["status_sha"] for r in records[-window:] if "status_sha" in r]  # oldest first


@dataclass(frozen=True)
class JournaledReply:
    """A model reply journaled since the run last entered a state, and how far its calls got:
    from next_index on they have not run (none left: the crash came after the last one)."""

    reply: Record
    next_index: int
    intent: Record | None  # the action the next call had begun before the crash
    result: Record | None  # its result, when it finished but its tool_result is missing


def journaled_reply(records: Records, state: str) -> JournaledReply | None:
    """The reply journaled since the run last entered `state` (a return from an answer
    continues the visit the question interrupted), if any."""
    start, answered = 0, False
    for i, record in enumerate(records):
        moved = record["kind"] == TRANSITION
        start = i if moved and record["dest"] == state and not answered else start
        answered = record["kind"] == ANSWER or (answered and not moved)
    at = next((i for i in range(start, len(records)) if records[i]["kind"] == MODEL_REPLY), None)
    if at is None:
        return None
    after = records[at + 1:]
    done = [i for i, r in enumerate(after) if r["kind"] == TOOL_RESULT]
    next_index = max(after[i]["index"] for i in done) + 1 if done else 0
    since = after[done[-1] + 1:] if done else after
    # The newest: a command re-run on an earlier resume has an intent of its own.
    intent = last(since, INTENT)
    result = None if intent is None else next(
        (r for r in since if r["kind"] == RESULT and r.get("intent") == intent["seq"]), None)
    return JournaledReply(records[at], next_index, intent, result)


def open_intents(records: Records) -> list[Record]:
    """Intents among these records that have no result yet."""
    closed = {r.get("intent") for r in records if r["kind"] == RESULT}
    return [r for r in records if r["kind"] == INTENT and r["seq"] not in closed]
