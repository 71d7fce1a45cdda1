"""Every kind of ledger record, and the named questions Jetbox asks of them.

The ledger (ledger.py) stores records; this module is the one place that knows their kinds
and fields (questions.py: those of a person's answers). Handlers, resume and the summaries
call these queries instead of scanning records, so a kind is changed in one place. Each
query takes the records (usually `ledger.current_run()`), oldest first, so a plain list
tests it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]
Records = Sequence[Record]

# The run: started, resumed, moved, stopped.
RUN_START = "run_start"
RESUME = "resume"
RUN_SUPERSEDED = "run_superseded"
TRANSITION = "transition"
RUN_END = "run_end"
PAUSED = "paused"
INTERRUPTED = "interrupted"
ERROR = "error"
MODEL_UNAVAILABLE = "model_unavailable"
STATUS_WRITTEN = "status_written"
# status.txt against the ledger.
STATUS_REBUILT = "status_rebuilt"
STATUS_DISAGREES = "status_disagrees"
STATUS_EDITED = "status_edited"
# What the handlers write.
BASELINE = "baseline"
PROBE = "probe"
FINISH_REFUSED = "finish_refused"
COMPACTION = "compaction"
PLAN = "plan"
MODEL_REPLY = "model_reply"
TOOL_RESULT = "tool_result"
REFLECTION = "reflection"
ROUND = "round"
# A person in the loop (questions.py): the run's mode, a call put to them, their answer.
APPROVAL, QUESTION, ANSWER = "approval_mode", "approval_asked", "approval_answered"
# The toolbox's journal: an intent before an action, its result after.
INTENT = "intent"
RESULT = "result"
REFUSAL = "refusal"
TOOL_ERROR = "tool_error"
PROTECTED_REMOVED = "protected_removed"
# Housekeeping.
CONFIG_TRUSTED = "config_trusted"
CONFIG_SEEN = "config_seen"  # the configuration as a session left it (trust.record_seen)
LOCK_TAKEN_OVER = "lock_taken_over"
STRAYS_KILLED = "strays_killed"

NO_CALL = "(none)"  # the tool_result name of a reply that made no call
FILE_ACTIONS = ("write", "edit")


def _from_last(records: Records, kinds: tuple[str, ...]) -> Records:
    at = next((i for i in range(len(records) - 1, -1, -1) if records[i]["kind"] in kinds), 0)
    return records[at:]


def current_run(records: Records) -> Records:
    """The records since the last `run_start` (all of them before the first)."""
    return _from_last(records, (RUN_START,))


def since_resume(records: Records) -> Records:
    """The records of this invocation: a guard counts from the resume, not the run's start."""
    return _from_last(records, (RESUME, RUN_START))


def last(records: Records, *kinds: str) -> Record | None:
    """The newest record of one of `kinds`, or None."""
    return next((r for r in reversed(records) if r["kind"] in kinds), None)


def unanswered(records: Records, kind: str, *since: str) -> Record | None:
    """The newest record of `kind`, if no record of the kinds `since` came after it."""
    newest = last(records, kind, *since)
    return newest if newest is not None and newest["kind"] == kind else None


def run_goal(records: Records) -> str | None:
    """The goal of the run these records begin, or None if they do not begin one."""
    return records[0]["goal"] if records and records[0]["kind"] == RUN_START else None


# The round: what the model asked, what ran, what the probes saw.
def finish_requested(records: Records) -> bool:
    """The model's latest reply called `finish` and no probe refused it since."""
    reply = unanswered(records, MODEL_REPLY, FINISH_REFUSED)
    return reply is not None and any(c.get("name") == "finish" for c in reply.get("calls", []))


def acted_since_probe(records: Records) -> bool:
    """A write, edit or command began since the last probe, or there was no probe yet."""
    return unanswered(records, PROBE, INTENT) is None


def latest_results(records: Records) -> list[Record]:
    """The tool results of the latest model reply."""
    at = next((i for i in range(len(records) - 1, -1, -1)
               if records[i]["kind"] == MODEL_REPLY), -1)
    return [r for r in records[at + 1:] if r["kind"] == TOOL_RESULT]


def tool_results(records: Records) -> list[Record]:
    """Every tool call's result that did something (not `finish`, not a reply without calls)."""
    return [r for r in records if r["kind"] == TOOL_RESULT
            and r.get("name") not in ("finish", NO_CALL)]


def unanswered_refusal(records: Records) -> list[str] | None:
    """Why the latest finish was refused, if the model has not replied since."""
    refused = unanswered(records, FINISH_REFUSED, MODEL_REPLY)
    return list(refused["reasons"]) if refused else None


def unanswered_pause(records: Records) -> str | None:
    """Why the run was paused, if the model has not replied since the person resumed it."""
    paused = unanswered(records, PAUSED, MODEL_REPLY)
    return str(paused["reason"]) if paused else None


def latest_warning(records: Records) -> str:
    reflection = last(records, REFLECTION)
    return str(reflection.get("warning") or "") if reflection else ""


def jetbox_notes(records: Records) -> set[str]:
    """The status notes Jetbox wrote itself (rebuilding status.txt); the rest are a person's."""
    return {note for r in records if r["kind"] == STATUS_REBUILT for note in r.get("notes", [])}


def last_plan(records: Records) -> list[str] | None:
    """The checklist items Jetbox generated last, or None before the first plan."""
    plan = last(records, PLAN)
    return list(plan["items"]) if plan else None


# Guards: Reflect's questions, over the records since the resume.
def same_call_streak(records: Records) -> tuple[int, Record | None]:
    """How many replies in a row (newest backwards) made the same calls, and the first call."""
    replies = [r for r in records if r["kind"] == MODEL_REPLY]
    if not replies or not replies[-1].get("calls"):
        return 0, None
    signature = json.dumps(replies[-1]["calls"], sort_keys=True)
    streak = 0
    for reply in reversed(replies):
        if json.dumps(reply.get("calls"), sort_keys=True) != signature:
            break
        streak += 1
    return streak, replies[-1]["calls"][0]


def malformed_streak(records: Records) -> int:
    """Refused or malformed calls in a row, newest backwards, across replies and restarts."""
    streak = 0
    for record in reversed(records):
        if record["kind"] != TOOL_RESULT:
            continue
        if record.get("ok") or (not record.get("refused") and record.get("name") != NO_CALL):
            break
        streak += 1
    return streak


def failures_dropped(records: Records) -> bool:
    """The last two probes show fewer failures than before."""
    counts = [r["failures"] for r in records if r["kind"] == PROBE and "failures" in r]
    return len(counts) >= 2 and counts[-1] < counts[-2]


def stalled_rounds(records: Records) -> int:
    """The latest reflection's count of rounds without progress."""
    reflection = last(records, REFLECTION)
    return int(reflection.get("stalled", 0)) if reflection else 0


def reflected_in(records: Records, round_no: int) -> bool:
    """Reflect already judged this round (a resume into Reflect must not count it twice)."""
    return any(r["kind"] == REFLECTION and r.get("round") == round_no for r in records)


def guard_reason(records: Records) -> str:
    """Why a guard stopped the run: the newest reflection that names one."""
    return next((str(r["guard"]) for r in reversed(records)
                 if r["kind"] == REFLECTION and r.get("guard")), "a guard stopped the run")


# Resume: where the run is, and the reply it was in the middle of.
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


# Summaries: what a run did.
def model_replies(records: Records) -> list[Record]:
    return [r for r in records if r["kind"] == MODEL_REPLY]


def files_written(records: Records) -> tuple[str, ...]:
    """The paths of writes and edits that landed, in the order they were first written."""
    landed = {r.get("intent") for r in records if r["kind"] == RESULT and r.get("ok")}
    return tuple({r["path"]: None for r in records if r["kind"] == INTENT
                  and r.get("action") in FILE_ACTIONS and r["seq"] in landed})


def count(records: Records, kind: str, action: str | None = None) -> int:
    """Records of one kind (intents: of one action, e.g. "cmd")."""
    return sum(r["kind"] == kind and action in (None, r.get("action")) for r in records)


def tool_errors(records: Records) -> int:
    """Tool calls that failed (refusals, the tools' and a person's, are counted apart)."""
    return sum(r["kind"] == TOOL_RESULT and not (r.get("ok") or r.get("refused")
                                                or r.get("declined")) for r in records)


def completed_rounds(records: Records, initial: str) -> int:
    """Rounds that ran to their end: each ends with the transition back to the initial state."""
    return sum(r["kind"] == TRANSITION and r.get("dest") == initial for r in records)


def visited_states(records: Records) -> list[str]:
    """The states a run went through, from its transitions."""
    moves = [r for r in records if r["kind"] == TRANSITION]
    return [moves[0]["source"], *(r["dest"] for r in moves)] if moves else []


def entered_state(record: Record) -> str | None:
    """The state a record puts the run in ("" for a new run), or None if it does not move it."""
    field = {TRANSITION: "dest", RESUME: "state"}.get(record["kind"])
    return str(record[field]) if field else "" if record["kind"] == RUN_START else None
