"""What a run changed in the person's files, read from the ledger: each path's state before
the run's first change to it (kept in the object store) and as the run left it; and the
records of `jetbox undo` (a plan journaled before any file is restored, then its end).
Like queries.py for the other kinds, this is the one place that reads these kinds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from jetbox.core.text import unescape_name
from jetbox.store import queries
from jetbox.store.kinds import FilesChanged, Intent, Record, Result, RunUndone, UndoStart
from jetbox.store.objects import FileState
from jetbox.store.queries import FILE_ACTIONS, Records

FILES_CHANGED = FilesChanged.KIND  # what a command changed: before and after, per path
UNDO_START = UndoStart.KIND        # the undo's plan: every path and the state it gets back
RUN_CLOSED = RunUndone.KIND        # the undo finished; the run cannot be resumed


@dataclass(frozen=True)
class Event:
    """One change the run made to a path: the state just before it and how it left it."""

    before: FileState
    after: tuple[FileState, ...]
    """One state, or two when a crash hid whether the change landed."""
    label: str = ""
    """What made it: "write", "edit", or the command (`python gen.py`)."""
    linked: tuple[str, ...] = ()
    """Every name of the file in the workspace when it was written through its hard links
    (this one included, sorted); empty for a file with one name."""
    unlinked: bool = False
    """It had a hard link outside the workspace: a write made it a separate file (a command
    may have written through the link, or not)."""
    sure: bool = True
    """Whether it is the run's own for certain: a command watched in the workspace (no
    private copy) may have caught someone else's change made while it ran."""
    merged: bool = False
    """A command's change merged with someone's edit of the file (its `before`)."""
    conflict: str | None = None
    """A command's change never applied: someone changed the file too (why it was not
    merged); the file was left as theirs (`after`)."""


@dataclass(frozen=True)
class Change:
    """One path the run changed. `path` is the escaped name (text.escape_name), the form
    the ledger keeps; `real_name` gives back the exact name on the disk."""

    path: str
    before: FileState
    """As it was before the run's first change to it."""
    after: tuple[FileState, ...]
    """How the run may have left it: one state, or two when a crash hid whether the last
    change landed."""
    new_dirs: tuple[str, ...] = ()
    """Folders the run created for it (outermost first), removed by undo when empty."""
    events: tuple[Event, ...] = ()
    """Every change of the run to it, in order: each keeps its own "before", so a person's
    edit between two of them is seen (the chain breaks) and kept by undo."""
    linked: tuple[str, ...] = ()
    """The names that were one file with it (hard links) before the run, all in the
    workspace, itself included: undo links them again."""
    unlinked: bool = False
    """It had a hard link outside the workspace when the run changed it: undo restores its
    content, as a separate file, and names it, as the link cannot be made again."""

    def to_record(self) -> dict[str, object]:
        links: dict[str, object] = {"linked": list(self.linked)} if self.linked else {}
        if self.unlinked:
            links["unlinked"] = True
        return {"path": self.path, "before": self.before.to_record(),
                "new_dirs": list(self.new_dirs), **links}

    @classmethod
    def from_record(cls, value: Mapping[str, Any]) -> Change:
        return cls(str(value["path"]), FileState.from_record(value.get("before")), (),
                   tuple(str(d) for d in value.get("new_dirs", [])),
                   linked=tuple(str(p) for p in value.get("linked", [])),
                   unlinked=value.get("unlinked") is True)

    @property
    def real_name(self) -> str:
        return real_name(self.path)

    @property
    def contiguous(self) -> bool:
        """Whether each change began where the run's previous one left the file: nobody
        else changed it between two of the run's changes."""
        return all(later.before in earlier.after
                   for earlier, later in zip(self.events, self.events[1:], strict=False))

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.label for e in self.events if e.label))

    @property
    def unsure_labels(self) -> tuple[str, ...]:
        """The commands watched in the workspace that changed it: what they changed may be
        someone else's, made while they ran."""
        return tuple(dict.fromkeys(e.label for e in self.events if e.label and not e.sure))

    @property
    def conflicts(self) -> tuple[Event, ...]:
        return tuple(e for e in self.events if e.conflict is not None)


def while_ran(labels: tuple[str, ...]) -> str:
    """What ran, for a line: "`python slow.py`", or "the probes (round 4)"."""
    return " and ".join(label if label.startswith("the probes") else f"`{label}`"
                        for label in labels)


def real_name(escaped: str) -> str:
    """The name on the disk (os.fsencode gives its bytes back) of a name as the ledger keeps
    it. A name an older version recorded unescaped (a lone backslash) is taken as it is."""
    try:
        return unescape_name(escaped)
    except ValueError:
        return escaped


def _results(records: Records) -> dict[int, Result]:
    return {r.intent: r for r in records if isinstance(r, Result)}


def _command_labels(records: Records) -> dict[int, str]:
    return {r.seq: " ".join(str(a).rsplit("/", 1)[-1] if i == 0 else str(a)
                            for i, a in enumerate(r.argv or ()))
            for r in records if isinstance(r, Intent) and r.action == "cmd"}


def _file_events(records: Records) -> Iterable[tuple[str, Event, tuple[str, ...]]]:
    """(path, the change, new folders) for each change, in order."""
    results = _results(records)
    commands = _command_labels(records)
    for record in records:
        if isinstance(record, Intent) and record.action in FILE_ACTIONS \
                and record.before is not None:
            result = results.get(record.seq)
            if result is not None and not result.ok:
                continue  # it failed: nothing changed
            before = FileState.from_record(record.before)
            after = FileState(record.sha256, record.mode)
            dirs = tuple(record.new_dirs or ())
            path = str(record.path)
            # Written in place through its hard links: each other name changed the same way.
            others = () if record.links_outside else tuple(record.links or ())
            linked = tuple(sorted((path, *others))) if others else ()
            for name in (path, *others):
                yield (name, Event(before, (after,) if result else (after, before),
                                   record.action, linked, record.links_outside is True),
                       dirs if name == path else ())
        elif isinstance(record, FilesChanged):
            label = record.during or commands.get(record.intent, "a command")
            sure = bool(record.isolated)
            for change in record.changes:
                yield (str(change["path"]), Event(FileState.from_record(change.get("before")),
                                                  (FileState.from_record(change.get("after")),),
                                                  label,
                                                  tuple(str(n) for n in change.get("linked", [])),
                                                  change.get("links_outside") is True,
                                                  sure=sure, merged=bool(change.get("merged"))),
                       tuple(change.get("new_dirs", [])))
            for conflict in record.conflicts or ():
                yield (str(conflict["path"]),
                       Event(FileState.from_record(conflict.get("before")),
                             (FileState.from_record(conflict.get("after")),), label,
                             conflict=str(conflict.get("why") or "someone changed it too")),
                       ())


def run_changes(records: Records) -> list[Change]:
    """Every path the run changed, in the order of its first change."""
    changes: dict[str, Change] = {}
    for path, event, dirs in _file_events(records):
        old = changes.get(path)
        if old is None:
            changes[path] = Change(path, event.before, event.after, dirs, (event,),
                                   event.linked, event.unlinked)
        else:
            possible = event.after if len(event.after) == 1 else (event.after[0], *old.after)
            # The first word on its links is the nearest to how they were before the run.
            changes[path] = replace(old, after=possible, events=(*old.events, event),
                                    linked=old.linked or event.linked,
                                    unlinked=old.unlinked or event.unlinked)
    return list(changes.values())


def runs(records: Records) -> list[Records]:
    """Every run in the ledger, oldest first (a set-aside one included): the records from
    one `run_start` to the next."""
    starts = [i for i, r in enumerate(records) if r.kind == queries.RUN_START]
    return [records[a:b] for a, b in zip(starts, [*starts[1:], len(records)], strict=False)]


def _undo_records(records: Records) -> list[Record]:
    """The undo records of this run: those in its records that name no run or name it, and
    those appended later (after other runs) that name it."""
    own = records[0].seq if len(records) and records[0].kind == queries.RUN_START else None
    return [r for r in records if isinstance(r, UndoStart | RunUndone)
            and r.run in (None, own)]


def pending_undo(records: Records) -> UndoStart | None:
    """An undo that began and did not finish (killed): the next undo completes it."""
    started = queries.last(_undo_records(records), UNDO_START, RUN_CLOSED)
    return started if isinstance(started, UndoStart) else None


def undone(records: Records) -> bool:
    """Whether an undo of the run ended (the run is closed), even one that left paths it
    could not restore (left_by_undo)."""
    return queries.last(_undo_records(records), RUN_CLOSED) is not None


def left_by_undo(records: Records) -> list[str]:
    """The paths the last undo could not restore (named, exit non-zero): the next undo
    tries those again, and only those."""
    closed = queries.last(_undo_records(records), RUN_CLOSED)
    return list(closed.left or []) if isinstance(closed, RunUndone) else []


def run_records(records: Records, number: int | None) -> list[Record]:
    """Run `number` (1 = the oldest; None = the newest) with the undo records appended for
    it after later runs began. ValueError when there is no such run."""
    every = runs(records)
    if not every:
        return list(records)
    if number is not None and not 1 <= number <= len(every):
        raise ValueError(f"no run {number}: runs 1 to {len(every)} are in the ledger")
    index = len(every) - 1 if number is None else number - 1
    own = list(every[index])
    later = [r for r in records[len(own) + sum(len(r) for r in every[:index]):]
             if isinstance(r, UndoStart | RunUndone) and r.run == own[0].seq]
    return own + later


def unwatched(records: Records) -> list[str]:
    """The commands whose snapshot stopped at the watch's limit of paths: what they changed
    past it was not seen, so it can be neither shown nor undone."""
    commands = _command_labels(records)
    return [r.during or commands.get(r.intent, "a command") for r in records
            if isinstance(r, FilesChanged) and r.truncated]


def changes_recorded(records: Records, intent: int) -> bool:
    """Whether what the command of `intent` changed is journaled already."""
    return any(isinstance(r, FilesChanged) and r.intent == intent for r in records)
