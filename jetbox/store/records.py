"""Every kind of ledger record, and the named questions Jetbox asks of them.

The ledger stores records; this module is the one place that knows their kinds and fields
(questions.py: those of a person's answers), so a kind is changed in one place. Each query
takes the records to look at, oldest first: a plain list in tests, usually
`ledger.current_run()` (indexed: index.py), never O(run) where the newest records answer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jetbox.store.index import newest_at, of_kind

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


def current_run(records: Records) -> Records:
    """The records since the last `run_start` (all of them before the first)."""
    return records[newest_at(records, (RUN_START,)) or 0:]


def since_resume(records: Records) -> Records:
    """The records of this invocation: a guard counts from the resume, not the run's start."""
    return records[newest_at(records, (RESUME, RUN_START)) or 0:]


def last(records: Records, *kinds: str) -> Record | None:
    """The newest record of one of `kinds`, or None."""
    at = newest_at(records, kinds)
    return None if at is None else records[at]


def unanswered(records: Records, kind: str, *since: str) -> Record | None:
    newest = last(records, kind, *since)  # None if one of `since` came after it
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
    return [r for r in of_kind(records, TOOL_RESULT) if r.get("name") not in ("finish", NO_CALL)]


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
    return {note for r in of_kind(records, STATUS_REBUILT) for note in r.get("notes", [])}


def last_plan(records: Records) -> list[str] | None:
    plan = last(records, PLAN)  # Jetbox's last checklist items; None before the first plan
    return list(plan["items"]) if plan else None


# Guards: Reflect's questions, over the records since the resume.
def same_call_streak(records: Records) -> tuple[int, Record | None]:
    """How many replies in a row (newest backwards) made the same calls, and the first call."""
    replies = (r for r in reversed(records) if r["kind"] == MODEL_REPLY)
    newest = next(replies, None)
    if newest is None or not newest.get("calls"):
        return 0, None
    signature = json.dumps(newest["calls"], sort_keys=True)
    streak = 1
    for reply in replies:  # newest backwards, stopping at the first that differs
        if json.dumps(reply.get("calls"), sort_keys=True) != signature:
            break
        streak += 1
    return streak, newest["calls"][0]


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
    counts = (r["failures"] for r in reversed(records) if r["kind"] == PROBE and "failures" in r)
    newest, before = next(counts, None), next(counts, None)
    return newest is not None and before is not None and newest < before


def stalled_rounds(records: Records) -> int:
    """The latest reflection's count of rounds without progress."""
    reflection = last(records, REFLECTION)
    return int(reflection.get("stalled", 0)) if reflection else 0


def reflected_in(records: Records, round_no: int) -> bool:
    """Reflect already judged this round (a resume into Reflect must not count it twice)."""
    for record in reversed(records):  # rounds only grow: stop at an older round's reflection
        if record["kind"] == REFLECTION:
            if record.get("round") == round_no:
                return True
            if isinstance(record.get("round"), int) and record["round"] < round_no:
                return False
    return False


def guard_reason(records: Records) -> str:
    """Why a guard stopped the run: the newest reflection that names one."""
    return next((str(r["guard"]) for r in reversed(records)
                 if r["kind"] == REFLECTION and r.get("guard")), "a guard stopped the run")


# Summaries: what a run did.
def model_replies(records: Records) -> list[Record]:
    return of_kind(records, MODEL_REPLY)


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
