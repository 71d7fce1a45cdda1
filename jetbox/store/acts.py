"""The ledger record kinds of what was done to the person's folder and who allowed it: the
toolbox's journal (an intent before an action, its result after), what commands changed,
`jetbox undo`, a person's approvals, and housekeeping. The run's own kinds: kinds.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jetbox.store.kinds import Record


@dataclass(frozen=True, kw_only=True)
class Intent(Record):
    """An action about to change the folder: a write, an edit or a command (`action`)."""

    DURABLE = True
    KIND = "intent"
    SOMETIMES = frozenset({"path", "bytes", "sha256_before", "sha256", "content", "old", "new",
                           "argv", "program", "idempotent", "files_before", "before", "mode",
                           "new_dirs", "work_copy"})
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


# A person in the loop (questions.py): the run's mode, a call put to them, their answer.
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
    (questions.qid_of numbers it by its place in the run)."""

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
class Answer(Record):
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
