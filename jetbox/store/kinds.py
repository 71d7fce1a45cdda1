"""One frozen dataclass per kind of ledger record, what each kind holds in one place, and the
record a ledger line's JSON holds (`from_body`; format.py: how any record is written and read
back). The run's own kinds and the handlers' first; then what was done to the person's folder
and who allowed it: the toolbox's journal (an intent before an action, its result after),
what commands changed, `jetbox undo`, a person's approvals, and housekeeping."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field, replace
from typing import Any

from jetbox.core.text import escape_surrogates, json_safe
from jetbox.store.format import Record


# The run: started, resumed, moved, stopped.
@dataclass(frozen=True, kw_only=True)
class RunStart(Record):
    DURABLE = True
    KIND = "run_start"
    goal: str = ""
    machine: str = ""
    machine_sha256: str = ""
    python: str = ""
    status_sha: str = ""


@dataclass(frozen=True, kw_only=True)
class Resume(Record):
    """A run resumed at `state`; `instead_of`: the state status.txt stood at, when its handler
    reads what only the round's earlier handlers make, so the round is re-entered at its start."""

    KIND = "resume"
    SOMETIMES = frozenset({"instead_of"})
    state: str = ""
    round: int = 0
    python: str = ""
    status_sha: str = ""
    instead_of: str | None = None


@dataclass(frozen=True, kw_only=True)
class RunSuperseded(Record):
    KIND = "run_superseded"
    reason: str = ""
    status: str = ""


@dataclass(frozen=True, kw_only=True)
class Transition(Record):
    KIND = "transition"
    source: str = ""
    dest: str = ""
    outcome: str = ""
    round: int = 0
    status_sha: str = ""


@dataclass(frozen=True, kw_only=True)
class Stop(Record):
    """Where the run stood when it stopped or saved status.txt (the engine's records)."""

    DURABLE = True
    state: str = ""
    round: int = 0
    status_sha: str = ""


@dataclass(frozen=True, kw_only=True)
class Paused(Stop):
    KIND = "paused"
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class Interrupted(Stop):
    KIND = "interrupted"
    SOMETIMES = frozenset({"by"})
    by: str | None = None  # "SIGTERM"; unset for Ctrl-C (and in ledgers from before)


@dataclass(frozen=True, kw_only=True)
class Error(Stop):
    KIND = "error"
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class ModelUnavailable(Stop):
    KIND = "model_unavailable"
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class StatusWritten(Stop):
    KIND = "status_written"


@dataclass(frozen=True, kw_only=True)
class RunEnd(Record):
    DURABLE = True
    KIND = "run_end"
    outcome: str = ""
    round: int = 0
    tests: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)


# status.txt against the ledger.
@dataclass(frozen=True, kw_only=True)
class StatusRebuilt(Record):
    KIND = "status_rebuilt"
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    status_sha: str = ""


@dataclass(frozen=True, kw_only=True)
class StatusDisagrees(Record):
    KIND = "status_disagrees"
    status_state: str = ""
    status_round: int = 0
    state: str = ""
    round: int = 0
    resolution: str = ""


@dataclass(frozen=True, kw_only=True)
class StatusEdited(Record):
    KIND = "status_edited"
    text: str = ""


# What the handlers write.
@dataclass(frozen=True, kw_only=True)
class Baseline(Record):
    """The first probe's outcomes and the test configuration later probes are held to."""

    KIND = "baseline"
    SOMETIMES = frozenset({"config", "tree", "room_findings", "ruff_version"})
    round: int = 0
    findings: list[str] = field(default_factory=list)
    outcomes: Mapping[str, str] = field(default_factory=dict)
    ruff_failed: bool = False
    fingerprint: str = ""
    config: Mapping[str, Any] | None = None  # None: recorded before Jetbox kept it
    plugins: list[str] = field(default_factory=list)
    test_files: Mapping[str, Any] = field(default_factory=dict)
    rule_names: Mapping[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    tree: str | None = None  # the manifest of the files kept for the clean room (room.py)
    room_findings: list[str] | None = None  # ruff as the room lints: ignored files too
    # The ruff that found `findings`: another release finds other things in the same code.
    ruff_version: str | None = None  # None: recorded before Jetbox kept it


@dataclass(frozen=True, kw_only=True)
class Probed(Record):
    KIND = "probe"
    SOMETIMES = frozenset({"failures"})
    round: int = 0
    green: bool = False
    reused: bool = False
    failures: int | None = None
    checks: list[str] = field(default_factory=list)
    verdict: str = ""
    subprocesses: int = 0
    changes: str = ""


@dataclass(frozen=True, kw_only=True)
class FinishRefused(Record):
    KIND = "finish_refused"
    round: int = 0
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Compaction(Record):
    KIND = "compaction"
    round: int = 0
    reason: str = ""
    chars: int = 0


@dataclass(frozen=True, kw_only=True)
class Planned(Record):
    KIND = "plan"
    round: int = 0
    items: list[str] = field(default_factory=list)
    person: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ToolCall:
    """One call the model asked for; arguments may be anything the model sent."""

    name: str
    arguments: Any = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Sanitized here, where replies enter Jetbox: a lone surrogate from the model
        # ("\ud800") is kept as its escape, so nothing downstream can fail to encode it.
        object.__setattr__(self, "name", escape_surrogates(str(self.name)))
        object.__setattr__(self, "arguments", json_safe(self.arguments))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}


# The thinking a `model_reply` line keeps: the whole of it goes back to the model within the
# session, but a long one would swell the ledger for no reader.
THINKING_KEPT = 4000


@dataclass(frozen=True, kw_only=True)
class ModelReply(Record):
    """One model turn with what it cost: what a model returns, journaled as it is before its
    calls run, and read back on resume to run them without asking the model again. The
    ledger line keeps the first THINKING_KEPT characters of `thinking` (`thinking_chars`:
    how long it was), and the durations in milliseconds."""

    KIND = "model_reply"
    round: int = 0
    content: str = ""
    thinking_chars: int = 0  # 0: the length of `thinking`
    thinking: str = ""
    calls: tuple[ToolCall, ...] = ()
    prompt_tokens: int = 0
    output_tokens: int = 0
    duration_s: float = 0.0
    load_s: float = 0.0
    first_token_s: float = 0.0
    recovered: bool = False  # calls were parsed out of text, not native tool calls
    problem: str = ""   # why nothing (or not everything) in the reply could run, for the model
    delivery: str = ""  # how the calls came: native, json protocol, DIALECT in content...

    def __post_init__(self) -> None:
        for name in ("content", "thinking", "problem"):
            object.__setattr__(self, name, escape_surrogates(str(getattr(self, name))))
        if not self.thinking_chars:
            object.__setattr__(self, "thinking_chars", len(self.thinking))

    def to_body(self) -> dict[str, Any]:
        return {**super().to_body(), "thinking": self.thinking[:THINKING_KEPT],
                "calls": [call.to_dict() for call in self.calls],
                "duration_s": round(self.duration_s, 3), "load_s": round(self.load_s, 3),
                "first_token_s": round(self.first_token_s, 3)}

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ModelReply:
        # Made through __init__ (one record a round, not thousands): the text sanitized and
        # the calls made ToolCalls as when the model sent them.
        record = super().from_body(body)
        assert isinstance(record, ModelReply)
        calls = body.get("calls")
        return replace(record, calls=tuple(_read_call(c) for c in
                                           (calls if isinstance(calls, list) else ())))


def _read_call(entry: object) -> ToolCall:
    """A call as the ledger keeps it; the arguments as the model sent them (not always an
    object: the tools tell the model so). An entry that is not a call reads as `?`."""
    if not isinstance(entry, dict):
        return ToolCall("?", {})
    return ToolCall(str(entry.get("name", "?")), entry.get("arguments", {}))


@dataclass(frozen=True)
class ToolResult(Record):
    """What one tool call returned: the text the model sees, and, journaled, the call."""

    KIND = "tool_result"
    SOMETIMES = frozenset({"declined"})
    ORDER = ("round", "index", "name", "arguments", "ok", "refused", "changed", "output",
             "declined")
    name: str = ""
    ok: bool = False
    output: str = ""     # the text the model sees
    refused: bool = False
    changed: bool = False
    _: KW_ONLY
    round: int = 0
    index: int = 0
    arguments: Mapping[str, Any] = field(default_factory=dict)
    declined: bool | None = None  # a person said no (written only then)

    @property
    def outcome(self) -> str:
        """One word for the terminal and the log: ok, declined, refused or failed."""
        return "ok" if self.ok else "declined" if self.declined else \
            "refused" if self.refused else "failed"


@dataclass(frozen=True, kw_only=True)
class Reflection(Record):
    KIND = "reflection"
    round: int = 0
    status: str = ""
    progress: bool = False
    stalled: int = 0
    streak: int = 0
    warning: str = ""
    guard: str = ""


@dataclass(frozen=True, kw_only=True)
class RoundEnd(Record):
    KIND = "round"
    round: int = 0
    status: str = ""
    next: list[str] = field(default_factory=list)


# What was done to the person's folder: the toolbox's journal.
@dataclass(frozen=True, kw_only=True)
class Intent(Record):
    """An action about to change the folder: a write, an edit or a command (`action`)."""

    DURABLE = True
    KIND = "intent"
    SOMETIMES = frozenset({"path", "bytes", "sha256_before", "sha256", "content", "old", "new",
                           "argv", "program", "idempotent", "files_before", "before", "mode",
                           "new_dirs", "links", "links_outside", "work_copy"})
    action: str = ""
    path: str | None = None
    bytes: int | None = None
    sha256_before: str | None = None
    sha256: str | None = None
    content: str | None = None
    old: str | None = None
    new: str | None = None
    argv: list[str] | None = None
    program: str | None = None
    idempotent: bool | None = None
    round: int = 0
    files_before: str | None = None
    before: Mapping[str, Any] | None = None
    """The file's state before a write or edit (objects.FileState.to_record)."""
    mode: int | None = None
    new_dirs: list[str] | None = None
    links: list[str] | None = None
    """The file's other names in the workspace (hard links), written through in place with
    it: they changed too, and undo links them again."""
    links_outside: bool | None = None
    """The file had a hard link outside the workspace: it was replaced, not written
    through, so this name became a separate file (undo cannot link it again)."""
    work_copy: str | None = None
    """The private copy of the workspace a command ran in (tools/cmdcopy.py): a command
    killed with Jetbox changed only that, never the person's files."""


@dataclass(frozen=True, kw_only=True)
class Result(Record):
    """How the action of intent `intent` ended (`recovered`: completed on a resume)."""

    KIND = "result"
    SOMETIMES = frozenset({"changed", "path", "sha256", "exit_code", "timed_out", "duration_s",
                           "output_tail", "error", "recovered"})
    intent: int = 0
    action: str | None = None
    ok: bool = False
    changed: bool | None = None
    path: str | None = None
    sha256: str | None = None
    exit_code: int | None = None
    timed_out: bool | None = None
    duration_s: float | None = None
    output_tail: str | None = None
    error: str | None = None
    recovered: str | None = None


@dataclass(frozen=True, kw_only=True)
class Refused(Record):
    """A call a tool refused (the model sees why; this keeps it)."""

    KIND = "refusal"
    tool: str = ""
    reason: str = ""
    round: int = 0


@dataclass(frozen=True, kw_only=True)
class ToolError(Record):
    KIND = "tool_error"
    tool: str = ""
    error: str = ""
    round: int = 0


@dataclass(frozen=True, kw_only=True)
class ProtectedRemoved(Record):
    KIND = "protected_removed"
    SOMETIMES = frozenset({"by"})
    names: list[str] = field(default_factory=list)
    round: int = 0
    by: str | None = None


@dataclass(frozen=True, kw_only=True)
class FilesChanged(Record):
    """What a command changed: before and after, per path (history.py reads them)."""

    KIND = "files_changed"
    SOMETIMES = frozenset({"truncated", "during", "isolated", "conflicts"})
    intent: int = 0
    changes: list[Mapping[str, Any]] = field(default_factory=list)
    during: str | None = None
    """What ran when it was not a command (intent 0): "the probes (round 4)"."""
    truncated: bool | None = None
    """The snapshot stopped at the watch's limit of paths: changes past it were not seen."""
    isolated: bool | None = None
    """The command ran in a private copy: `changes` are its own, applied to the workspace
    (a change "merged" with a person's edit of the file records it as its "before")."""
    conflicts: list[Mapping[str, Any]] | None = None
    """Its changes to files a person changed too, on the same lines (or not mergeable): not
    applied, the person's kept. {"path", "before", "after" (the person's), "run", "why"}."""


@dataclass(frozen=True, kw_only=True)
class UndoStart(Record):
    """The undo's plan, journaled before any file is restored."""

    DURABLE = True
    KIND = "undo_start"
    SOMETIMES = frozenset({"left", "run"})
    steps: list[Mapping[str, Any]] = field(default_factory=list)
    forced: bool = False
    left: list[Mapping[str, Any]] | None = None
    """Paths it cannot restore, with why: {"path", "why"}."""
    run: int | None = None
    """The seq of the undone run's `run_start`, when it is not the newest run."""


@dataclass(frozen=True, kw_only=True)
class RunUndone(Record):
    DURABLE = True
    KIND = "run_undone"
    SOMETIMES = frozenset({"left", "run"})
    restored: int = 0
    run: int | None = None
    """As in UndoStart."""
    left: list[str] | None = None
    """Paths the undo could not restore (a missing copy, a conflict): named, and tried
    again by the next undo."""


# A person in the loop (queries.py asks of them): the run's mode, a call put to them, their answer.
@dataclass(frozen=True, kw_only=True)
class ApprovalMode(Record):
    """The whole approval setting a run was given: the mode and `approve_skip` (`skip`),
    both held on resume. A record written before `skip` was kept has none (None): the
    resumed run then takes the skips its configuration gives."""

    KIND = "approval_mode"
    SOMETIMES = frozenset({"skip"})
    mode: str = ""
    skip: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class Question(Record):
    """A call put to a person. `qid`: its short id in the run (`q3`), which every place that
    shows it names and an answer must name; a record written before ids existed has none
    (queries.qid_of numbers it by its place in the run)."""

    KIND = "approval_asked"
    SOMETIMES = frozenset({"qid"})
    round: int = 0
    reply: int = 0
    index: int = 0
    name: str = ""
    arguments: Mapping[str, Any] = field(default_factory=dict)
    call_kind: str = ""
    line: str = ""
    qid: str | None = None


@dataclass(frozen=True, kw_only=True)
class Answered(Record):
    """A person's answer to question `asked` (its seq; `qid` its id, when it had one).
    `prefix`: the words a person typed after `always` (the commands it covers start so)."""

    DURABLE = True
    KIND = "approval_answered"
    SOMETIMES = frozenset({"qid", "prefix"})
    round: int = 0
    asked: int = 0
    answer: str = ""
    reason: str = ""
    call_kind: str = ""
    via: str = ""
    qid: str | None = None
    prefix: list[str] | None = None


# Housekeeping.
@dataclass(frozen=True, kw_only=True)
class ConfigTrusted(Record):
    DURABLE = True
    KIND = "config_trusted"
    reason: str = ""
    inputs: Mapping[str, str] = field(default_factory=dict)
    jetbox_table: Any = None


@dataclass(frozen=True, kw_only=True)
class ConfigSeen(Record):
    """The configuration as a session left it (trust.record_seen)."""

    KIND = "config_seen"
    inputs: Mapping[str, str] = field(default_factory=dict)
    jetbox_table: Any = None


@dataclass(frozen=True, kw_only=True)
class LockTakenOver(Record):
    KIND = "lock_taken_over"
    owner: Any = None


@dataclass(frozen=True, kw_only=True)
class StraysKilled(Record):
    KIND = "strays_killed"
    pids: list[int] = field(default_factory=list)


# Reading a line back.
@dataclass(frozen=True, kw_only=True)
class Unknown(Record):
    """A record of a kind this version of Jetbox does not know (a newer one wrote it):
    loaded and kept whole in `extra`, never an error."""

    name: str = ""

    @property
    def kind(self) -> str:
        return self.name

    def to_body(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "kind": self.name, **self.extra}


def _declared(names: Mapping[str, object]) -> dict[str, type[Record]]:
    """The record classes declared above, by kind (Jetbox's own: nothing else)."""
    found = [v for v in names.values()
             if isinstance(v, type) and issubclass(v, Record) and v.KIND]
    return {c.KIND: c for c in found}


# Every kind of ledger record by its name: what a ledger line's `kind` loads as.
KINDS: Mapping[str, type[Record]] = _declared(dict(globals()))


def custom_record(kind: str, fields: Mapping[str, Any]) -> Unknown:
    """A record of a kind Jetbox does not define (a custom handler's), from its fields.
    Jetbox's own kinds are written as their classes, so each field is declared once."""
    if kind in KINDS:
        raise TypeError(f"`{kind}` is a kind of record Jetbox defines: append "
                        f"{KINDS[kind].__name__}(...) instead")
    if not kind:
        raise TypeError("a record needs a kind")
    return Unknown(name=kind, extra={k: v for k, v in fields.items()
                                     if k not in ("seq", "ts", "kind", "crc")})


def from_body(body: Mapping[str, Any]) -> Record:
    """The typed record for one ledger line's body (seq, ts, kind and its fields)."""
    cls = KINDS.get(str(body.get("kind")))
    if cls is None:
        extra = {k: v for k, v in body.items() if k not in ("seq", "ts", "kind")}
        return Unknown(seq=body.get("seq", 0), ts=body.get("ts", 0.0), name=str(body.get("kind")),
                       extra=extra)
    return cls.from_body(body)
