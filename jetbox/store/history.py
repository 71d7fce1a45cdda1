"""What a run changed in the person's files, read from the ledger: each path's state before
the run's first change to it (kept in the object store) and as the run left it; and the
records of `jetbox undo` (a plan journaled before any file is restored, then its end).
Like records.py for the other kinds, this is the one place that reads these kinds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from jetbox.store import records as rec
from jetbox.store.acts import FilesChanged, Intent, Result, RunUndone, UndoStart
from jetbox.store.objects import FileState
from jetbox.store.records import FILE_ACTIONS, Records

FILES_CHANGED = FilesChanged.KIND  # what a command changed: before and after, per path
UNDO_START = UndoStart.KIND        # the undo's plan: every path and the state it gets back
RUN_CLOSED = RunUndone.KIND        # the undo finished; the run cannot be resumed


@dataclass(frozen=True)
class Change:
    """One path the run changed."""

    path: str
    before: FileState
    """As it was before the run's first change to it."""
    after: tuple[FileState, ...]
    """How the run may have left it: one state, or two when a crash hid whether the last
    change landed."""
    new_dirs: tuple[str, ...] = ()
    """Folders the run created for it (outermost first), removed by undo when empty."""

    def to_record(self) -> dict[str, object]:
        return {"path": self.path, "before": self.before.to_record(),
                "new_dirs": list(self.new_dirs)}

    @classmethod
    def from_record(cls, value: Mapping[str, Any]) -> Change:
        return cls(str(value["path"]), FileState.from_record(value.get("before")), (),
                   tuple(str(d) for d in value.get("new_dirs", [])))


def _results(records: Records) -> dict[int, Result]:
    return {r.intent: r for r in records if isinstance(r, Result)}


def _file_events(records: Records) -> Iterable[tuple[str, FileState, tuple[FileState, ...],
                                                     tuple[str, ...]]]:
    """(path, before, possible afters, new folders) for each change, in order."""
    results = _results(records)
    for record in records:
        if isinstance(record, Intent) and record.action in FILE_ACTIONS \
                and record.before is not None:
            result = results.get(record.seq)
            if result is not None and not result.ok:
                continue  # it failed: nothing changed
            before = FileState.from_record(record.before)
            after = FileState(record.sha256, record.mode)
            dirs = tuple(record.new_dirs or ())
            yield str(record.path), before, (after,) if result else (after, before), dirs
        elif isinstance(record, FilesChanged):
            for change in record.changes:
                yield (str(change["path"]), FileState.from_record(change.get("before")),
                       (FileState.from_record(change.get("after")),),
                       tuple(change.get("new_dirs", [])))


def run_changes(records: Records) -> list[Change]:
    """Every path the run changed, in the order of its first change."""
    changes: dict[str, Change] = {}
    for path, before, after, dirs in _file_events(records):
        old = changes.get(path)
        if old is None:
            changes[path] = Change(path, before, after, dirs)
        else:
            possible = after if len(after) == 1 else (after[0], *old.after)
            changes[path] = replace(old, after=possible)
    return list(changes.values())


def pending_undo(records: Records) -> UndoStart | None:
    """An undo that began and did not finish (killed): the next undo completes it."""
    started = rec.last(records, UNDO_START, RUN_CLOSED)
    return started if isinstance(started, UndoStart) else None


def undone(records: Records) -> bool:
    return rec.last(records, RUN_CLOSED) is not None


def changes_recorded(records: Records, intent: int) -> bool:
    """Whether what the command of `intent` changed is journaled already."""
    return any(isinstance(r, FilesChanged) and r.intent == intent for r in records)
