"""One frozen dataclass per kind of ledger record: what each kind holds, in one place.

On disk a record is one JSON object: seq, ts, kind, its fields, crc last (ledger.py). A
field declared in `SOMETIMES` is written only when set (not None), as Jetbox always wrote
it. Reading is lenient, because a ledger outlives the code that wrote it: a missing field
takes its default, a key this version does not know is kept in `extra` (and written back
the same), and a kind it does not know loads as an `Unknown` record (registry.py), never
an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, MISSING, dataclass, field, fields
from functools import cache
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class Record:
    """What every record has: its place in the ledger and when it was written."""

    KIND: ClassVar[str] = ""
    SOMETIMES: ClassVar[frozenset[str]] = frozenset()
    ORDER: ClassVar[tuple[str, ...]] = ()  # the fields' order on disk, if not declared order
    seq: int = 0
    ts: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Keys on disk that this version of Jetbox does not know: kept, never lost."""

    @property
    def kind(self) -> str:
        return self.KIND

    def to_body(self) -> dict[str, Any]:
        """The JSON object as written (before the crc): seq, ts, kind, then the fields."""
        body: dict[str, Any] = {"seq": self.seq, "ts": self.ts, "kind": self.kind}
        for name in self.ORDER or _field_names(type(self)):
            value = getattr(self, name)
            if value is None and name in self.SOMETIMES:
                continue
            body[name] = value
        return {**body, **{k: v for k, v in self.extra.items() if k not in body}}

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Record:
        """The record a JSON object holds, whatever version of Jetbox wrote it."""
        known, plain, factories = _layout(cls)
        state = {**plain, **{n: make() for n, make in factories.items() if n not in body}}
        extra = {}
        for key, value in body.items():
            if key in known:
                state[key] = value
            elif key not in _HEADER:
                extra[key] = value
        state.update(seq=body.get("seq", 0), ts=body.get("ts", 0.0), extra=extra)
        # Filled in place, not through __init__: a frozen dataclass's __init__ sets each
        # field through object.__setattr__, and opening a long run reads 20,000 records.
        record = object.__new__(cls)
        record.__dict__.update(state)
        return record


_BASE = frozenset({"seq", "ts", "extra"})
_HEADER = frozenset({"seq", "ts", "kind"})


@cache  # dataclasses.fields() is slow, and a long ledger reads thousands of records
def _field_names(cls: type[Record]) -> tuple[str, ...]:
    """A kind's own fields, in declared order (not seq, ts or extra)."""
    return tuple(f.name for f in fields(cls) if f.name not in _BASE)


@cache
def _layout(cls: type[Record]) -> tuple[frozenset[str], dict[str, Any],
                                        dict[str, Callable[[], Any]]]:
    """A kind's field names, its plain defaults and its default factories (each record
    gets its own list or dict)."""
    own = [f for f in fields(cls) if f.name not in _BASE]
    plain = {f.name: f.default for f in own if f.default is not MISSING}
    factories = {f.name: f.default_factory for f in own if f.default_factory is not MISSING}
    return frozenset(f.name for f in own), plain, factories


# The run: started, resumed, moved, stopped.
@dataclass(frozen=True, kw_only=True)
class RunStart(Record):
    KIND = "run_start"
    goal: str = ""
    machine: str = ""
    machine_sha256: str = ""
    python: str = ""
    status_sha: str = ""


@dataclass(frozen=True, kw_only=True)
class Resume(Record):
    KIND = "resume"
    state: str = ""
    round: int = 0
    python: str = ""
    status_sha: str = ""


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
    SOMETIMES = frozenset({"config"})
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


@dataclass(frozen=True, kw_only=True)
class Probe(Record):
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
class Plan(Record):
    KIND = "plan"
    round: int = 0
    items: list[str] = field(default_factory=list)
    person: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ModelReply(Record):
    """A model's reply, journaled before its calls run: enough to replay it on resume."""

    KIND = "model_reply"
    round: int = 0
    content: str = ""
    thinking_chars: int = 0
    thinking: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    output_tokens: int = 0
    duration_s: float = 0.0
    load_s: float = 0.0
    first_token_s: float = 0.0
    recovered: bool = False
    problem: str = ""
    delivery: str = ""

    def named_calls(self) -> list[tuple[str, Any]]:
        """Each call as (name, arguments), the shape the ledger keeps them in read for the
        caller. The arguments are as the model sent them (not always an object: the tools
        tell the model so); an entry that is not a call reads as ("?", {})."""
        return [(str(c.get("name", "?")), c.get("arguments", {})) if isinstance(c, dict)
                else ("?", {}) for c in self.calls]


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
