"""The named questions Jetbox asks of the ledger: the run's, the round's, resume's (where the
run is, the reply it was in the middle of) and of a person's answers.

What each kind holds is declared once, as a dataclass (kinds.py); the queries here (and
history.py's, of what a run changed) read those typed records, so the rest of Jetbox asks
questions instead of reading fields by key. Each query
takes the records to look at, oldest first: a plain list in tests, usually
`ledger.current_run()` (indexed: index.py), never O(run) where the newest records answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeGuard, TypeVar

from jetbox.store import kinds
from jetbox.store.index import RunRecords, newest_at, newest_first, of_kind
from jetbox.store.kinds import Record

Records = Sequence[Record]
R = TypeVar("R", bound=Record)

# The run: started, resumed, moved, stopped.
RUN_START = kinds.RunStart.KIND
RESUME = kinds.Resume.KIND
RUN_SUPERSEDED = kinds.RunSuperseded.KIND
RUN_END = kinds.RunEnd.KIND
PAUSED = kinds.Paused.KIND
# status.txt against the ledger.
STATUS_REBUILT = kinds.StatusRebuilt.KIND
STATUS_EDITED = kinds.StatusEdited.KIND
# What the handlers write.
BASELINE = kinds.Baseline.KIND
PROBE = kinds.Probed.KIND
FINISH_REFUSED = kinds.FinishRefused.KIND
COMPACTION = kinds.Compaction.KIND
PLAN = kinds.Planned.KIND
MODEL_REPLY = kinds.ModelReply.KIND
TOOL_RESULT = kinds.ToolResult.KIND
# The toolbox's journal: an intent before an action, its result after.
INTENT = kinds.Intent.KIND
RESULT = kinds.Result.KIND
REFUSAL = kinds.Refused.KIND
# Housekeeping.
CONFIG_TRUSTED = kinds.ConfigTrusted.KIND
CONFIG_SEEN = kinds.ConfigSeen.KIND  # the configuration as a session left it (trust.record_seen)

YES, NO, ALWAYS = "yes", "no", "always"  # a person's answers
NO_CALL = "(none)"  # the tool_result name of a reply that made no call
FILE_ACTIONS = ("write", "edit")


def current_run(records: Records) -> Records:
    """The records since the last `run_start` (all of them before the first)."""
    return records[newest_at(records, (RUN_START,)) or 0:]


def since_resume(records: Records) -> Records:
    """The records of this invocation: a guard counts from the resume, not the run's start."""
    start = newest_at(records, (RESUME, RUN_START)) or 0
    return records.since(start) if isinstance(records, RunRecords) else records[start:]


def last(records: Records, *kinds: str) -> Record | None:
    """The newest record of one of `kinds`, or None."""
    at = newest_at(records, kinds)
    return None if at is None else records[at]


def last_of(records: Records, cls: type[R]) -> R | None:
    """The newest record of the kind `cls`, or None."""
    found = last(records, cls.KIND)
    return found if isinstance(found, cls) else None


def unanswered(records: Records, kind: str, *since: str) -> Record | None:
    newest = last(records, kind, *since)  # None if one of `since` came after it
    return newest if newest is not None and newest.kind == kind else None


def run_goal(records: Records) -> str | None:
    """The goal of the run these records begin, or None if they do not begin one."""
    return records[0].goal if records and isinstance(records[0], kinds.RunStart) else None


# The round: what the model asked, what ran, what the probes saw.
def finish_requested(records: Records) -> bool:
    """The model's latest reply called `finish` and no probe refused it since."""
    reply = unanswered(records, MODEL_REPLY, FINISH_REFUSED)
    return isinstance(reply, kinds.ModelReply) and any(c.name == "finish" for c in reply.calls)


def acted_since_probe(records: Records) -> bool:
    """A write, edit or command began since the last probe, or there was no probe yet."""
    return unanswered(records, PROBE, INTENT) is None


def latest_results(records: Records) -> list[kinds.ToolResult]:
    """The tool results of the latest model reply."""
    at = next((i for i in range(len(records) - 1, -1, -1)
               if records[i].kind == MODEL_REPLY), -1)
    return [r for r in records[at + 1:] if isinstance(r, kinds.ToolResult)]


def tool_results_newest_first(records: Records) -> Iterator[kinds.ToolResult]:
    """Every tool call's result that did something (not `finish`, not a reply without
    calls), newest first, found one by one (a recap needs the last few)."""
    return (r for r in newest_first(records, TOOL_RESULT) if _did_something(r))


def _did_something(record: Record) -> TypeGuard[kinds.ToolResult]:
    return isinstance(record, kinds.ToolResult) and record.name not in ("finish", NO_CALL)


def unanswered_refusal(records: Records) -> list[str] | None:
    """Why the latest finish was refused, if the model has not replied since."""
    refused = unanswered(records, FINISH_REFUSED, MODEL_REPLY)
    return list(refused.reasons) if isinstance(refused, kinds.FinishRefused) else None


def unanswered_pause(records: Records) -> str | None:
    """Why the run was paused, if the model has not replied since the person resumed it."""
    paused = unanswered(records, PAUSED, MODEL_REPLY)
    return str(paused.reason) if isinstance(paused, kinds.Paused) else None


def latest_warning(records: Records) -> str:
    reflection = last_of(records, kinds.Reflection)
    return str(reflection.warning or "") if reflection else ""


def jetbox_notes(records: Records) -> set[str]:
    """The status notes Jetbox wrote itself (rebuilding status.txt); the rest are a person's."""
    return {note for r in of_kind(records, STATUS_REBUILT) if isinstance(r, kinds.StatusRebuilt)
            for note in r.notes}


def last_plan(records: Records) -> list[str] | None:
    plan = last_of(records, kinds.Planned)  # Jetbox's last checklist items; None before the first
    return list(plan.items) if plan else None


# Guards: Reflect's questions, over the records since the resume.
def same_call_streak(records: Records) -> tuple[int, kinds.ToolCall | None]:
    """How many replies in a row (newest backwards) made the same calls, and the first call."""
    replies = (r for r in reversed(records) if isinstance(r, kinds.ModelReply))
    newest = next(replies, None)
    if newest is None or not newest.calls:
        return 0, None
    signature = _signature(newest)
    streak = 1
    for reply in replies:  # newest backwards, stopping at the first that differs
        if _signature(reply) != signature:
            break
        streak += 1
    return streak, newest.calls[0]


def _signature(reply: kinds.ModelReply) -> str:
    """The calls as the ledger keeps them, in one string: the same calls, the same string
    (JSON's equality: 1 is not true, as it is in Python's)."""
    return json.dumps([call.to_dict() for call in reply.calls], sort_keys=True)


def malformed_streak(records: Records) -> int:
    """Refused or malformed calls in a row, newest backwards, across replies and restarts."""
    streak = 0
    for record in reversed(records):
        if not isinstance(record, kinds.ToolResult):
            continue
        if record.ok or (not record.refused and record.name != NO_CALL):
            break
        streak += 1
    return streak


def failures_dropped(records: Records) -> bool:
    """The last two probes show fewer failures than before."""
    counts = (r.failures for r in reversed(records)
              if isinstance(r, kinds.Probed) and r.failures is not None)
    newest, before = next(counts, None), next(counts, None)
    return newest is not None and before is not None and newest < before


def stalled_rounds(records: Records) -> int:
    """The latest reflection's count of rounds without progress."""
    reflection = last_of(records, kinds.Reflection)
    return int(reflection.stalled) if reflection else 0


def reflected_in(records: Records, round_no: int) -> bool:
    """Reflect already judged this round (a resume into Reflect must not count it twice)."""
    for record in reversed(records):  # rounds only grow: stop at an older round's reflection
        if isinstance(record, kinds.Reflection):
            if record.round == round_no:
                return True
            if isinstance(record.round, int) and record.round < round_no:
                return False
    return False


def guard_reason(records: Records) -> str:
    """Why a guard stopped the run: the newest reflection that names one."""
    return next((str(r.guard) for r in reversed(records)
                 if isinstance(r, kinds.Reflection) and r.guard), "a guard stopped the run")


# Summaries: what a run did.
def model_replies(records: Records) -> list[kinds.ModelReply]:
    return [r for r in of_kind(records, MODEL_REPLY) if isinstance(r, kinds.ModelReply)]


def files_written(records: Records) -> tuple[str, ...]:
    """The paths of writes and edits that landed, in the order they were first written."""
    landed = {r.intent for r in of_kind(records, RESULT) if isinstance(r, kinds.Result) and r.ok}
    return tuple({str(r.path): None for r in of_kind(records, INTENT)
                  if isinstance(r, kinds.Intent) and r.action in FILE_ACTIONS and r.seq in landed})


def count(records: Records, kind: str, action: str | None = None) -> int:
    """Records of one kind (intents: of one action, e.g. "cmd")."""
    return sum(r.kind == kind and action in (None, getattr(r, "action", None)) for r in records)


def tool_errors(records: Records) -> int:
    """Tool calls that failed (refusals, the tools' and a person's, are counted apart)."""
    return sum(isinstance(r, kinds.ToolResult) and not (r.ok or r.refused or r.declined)
               for r in records)


def completed_rounds(records: Records, initial: str) -> int:
    """Rounds that ran to their end: each ends with the transition back to the initial state."""
    return sum(isinstance(r, kinds.Transition) and r.dest == initial for r in records)


def visited_states(records: Records) -> list[str]:
    """The states a run went through, from its transitions."""
    moves = [r for r in records if isinstance(r, kinds.Transition)]
    return [moves[0].source, *(r.dest for r in moves)] if moves else []


def entered_state(record: Record) -> str | None:
    """The state a record puts the run in ("" for a new run), or None if it does not move it."""
    if isinstance(record, kinds.Transition):
        return str(record.dest)
    if isinstance(record, kinds.Resume):
        return str(record.state)
    return "" if isinstance(record, kinds.RunStart) else None


def round_of(record: Record) -> int | None:
    """The round a record names, of any kind (a custom kind's too), or None."""
    value = getattr(record, "round", record.extra.get("round"))
    return value if isinstance(value, int) else None


def stood_at(record: Record) -> tuple[str, int] | None:
    """The state and round a record says the run stood at, if it says both."""
    if isinstance(record, kinds.Transition):
        return record.dest, record.round
    if isinstance(record, kinds.Resume | kinds.Stop | kinds.StatusDisagrees):
        return record.state, record.round
    return None


# Resume: where the run is, and the model reply it was in the middle of (how far its calls
# got, and the action a crash interrupted).
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

    reply: kinds.ModelReply
    next_index: int
    intent: kinds.Intent | None  # the action the next call had begun before the crash
    result: kinds.Result | None  # its result, when it finished but its tool_result is missing


def visit_start(records: Records, state: str) -> int:
    """Where the run last entered `state`: the newest transition into it that is not a
    return from a person's answer (an answer since the transition before it), else 0.
    Walked back from the newest record: a long run costs no more than a short one."""
    i = len(records) - 1
    while i >= 0:
        record = records[i]
        if not (isinstance(record, kinds.Transition) and record.dest == state):
            i -= 1
            continue
        j, answered = i - 1, False
        while j >= 0 and not isinstance(records[j], kinds.Transition):
            answered = answered or isinstance(records[j], kinds.Answered)
            j -= 1
        if not answered:
            return i
        i = j  # a return from an answer: the visit began before it
    return 0


def journaled_reply(records: Records, state: str) -> JournaledReply | None:
    """The reply journaled since the run last entered `state`, if any: Ask's, when a crash
    came after it was journaled and before the run moved on."""
    start = visit_start(records, state)
    at = next((i for i in range(start, len(records)) if isinstance(records[i], kinds.ModelReply)),
              None)
    return None if at is None else _progress(records, at)


def reply_to_run(records: Records, state: str) -> JournaledReply | None:
    """The reply the visit of `state` runs: the one journaled just before the run entered
    it (Ask journals it, then Calls runs it; a return from a person's answer continues the
    visit the question interrupted), with how far its calls got."""
    start = visit_start(records, state)
    entered = records[start] if records else None
    if not (isinstance(entered, kinds.Transition) and entered.dest == state):
        return None
    at = start - 1
    while at >= 0 and not isinstance(records[at], kinds.ModelReply | kinds.Transition):
        at -= 1
    return _progress(records, at) if at >= 0 and isinstance(records[at], kinds.ModelReply) \
        else None


def _progress(records: Records, at: int) -> JournaledReply:
    """The reply at `at`, and how far its calls got in the records after it."""
    reply, after = records[at], records[at + 1:]
    assert isinstance(reply, kinds.ModelReply)
    done = [(i, r) for i, r in enumerate(after) if isinstance(r, kinds.ToolResult)]
    next_index = max(r.index for _, r in done) + 1 if done else 0
    since = after[done[-1][0] + 1:] if done else after
    # The newest: a command re-run on an earlier resume has an intent of its own.
    intent = last(since, INTENT)
    if not isinstance(intent, kinds.Intent):
        return JournaledReply(reply, next_index, None, None)
    result = next((r for r in since if isinstance(r, kinds.Result) and r.intent == intent.seq),
                  None)
    return JournaledReply(reply, next_index, intent, result)


def open_intents(records: Records) -> list[kinds.Intent]:
    """Intents among these records that have no result yet."""
    closed = {r.intent for r in records if isinstance(r, kinds.Result)}
    return [r for r in records if isinstance(r, kinds.Intent) and r.seq not in closed]


# A person in the loop: Calls journals an `approval_asked` record (the model reply's seq and
# the call's index in it) before the run moves to Approve; Approve journals one
# `approval_answered` record naming the question. A call therefore has at most one question
# and one answer, whatever crashes.


def run_mode(records: Records) -> kinds.ApprovalMode | None:
    """The approval setting the run was last given (it holds on resume unless given
    again): its mode, and its skips where the record has them."""
    record = last_of(records, kinds.ApprovalMode)
    return record if isinstance(record, kinds.ApprovalMode) else None


def qid_of(records: Records, question: kinds.Question) -> str:
    """A question's id: its own, else (an older ledger) `q<n>` by its place in the run."""
    if question.qid:
        return question.qid
    asked = [r.seq for r in records if isinstance(r, kinds.Question)]
    return f"q{asked.index(question.seq) + 1}" if question.seq in asked else "q?"


def next_qid(records: Records) -> str:
    """The id the run's next question gets: q1, q2, ..."""
    return f"q{sum(isinstance(r, kinds.Question) for r in records) + 1}"


def question_for(records: Records, reply_seq: int, index: int) -> kinds.Question | None:
    """The question about call `index` of the reply journaled as `reply_seq`, if asked."""
    return next((r for r in records if isinstance(r, kinds.Question) and r.reply == reply_seq
                 and r.index == index), None)


def answer_to(records: Records, question_seq: int) -> kinds.Answered | None:
    """The answer a person gave to the question journaled as `question_seq`, if any."""
    return next((r for r in records if isinstance(r, kinds.Answered) and r.asked == question_seq),
                None)


def open_question(records: Records) -> kinds.Question | None:
    """The newest question, if it has no answer yet."""
    question = last_of(records, kinds.Question)
    return question if question is not None and answer_to(records, question.seq) is None \
        else None


@dataclass(frozen=True)
class Tally:
    asked: int
    approved: int
    refused: int

    @classmethod
    def of(cls, records: Records) -> Tally:
        answers = [r.answer for r in records if isinstance(r, kinds.Answered)]
        return cls(sum(isinstance(r, kinds.Question) for r in records),
                   sum(a in (YES, ALWAYS) for a in answers), answers.count(NO))

    def line(self) -> str:
        return f"{self.asked} asked, {self.approved} approved, {self.refused} refused"
