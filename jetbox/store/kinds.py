"""One frozen dataclass per kind of ledger record: what each kind holds, in one place
(acts.py: the toolbox's journal and housekeeping; record.py: how any record is written
and read back)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from jetbox.store.record import Record


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
