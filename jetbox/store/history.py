"""What a run changed in the person's files, read from the ledger: each path's state before
the run's first change to it (kept in the object store) and as the run left it; and the
records of `jetbox undo` (a plan journaled before any file is restored, then its end).
Like records.py for the other kinds, this is the one place that reads these kinds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from jetbox.store import records as rec
from jetbox.store.objects import FileState
from jetbox.store.records import FILE_ACTIONS, Record, Records

FILES_CHANGED = "files_changed"  # what a command changed: before and after, per path
UNDO_START = "undo_start"        # the undo's plan: every path and the state it gets back
RUN_CLOSED = "run_undone"        # the undo finished; the run cannot be resumed


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
    def from_record(cls, value: Record) -> Change:
        return cls(str(value["path"]), FileState.from_record(value.get("before")), (),
                   tuple(str(d) for d in value.get("new_dirs", [])))


def _results(records: Records) -> dict[int, Record]:
    return {r["intent"]: r for r in records if r["kind"] == rec.RESULT and "intent" in r}


def _file_events(records: Records) -> Iterable[tuple[str, FileState, tuple[FileState, ...],
                                                     tuple[str, ...]]]:
    """(path, before, possible afters, new folders) for each change, in order."""
    results = _results(records)
    for record in records:
        if record["kind"] == rec.INTENT and record.get("action") in FILE_ACTIONS \
                and "before" in record:
            result = results.get(record["seq"])
            if result is not None and not result.get("ok"):
                continue  # it failed: nothing changed
            before = FileState.from_record(record["before"])
            after = FileState(record.get("sha256"), record.get("mode"))
            dirs = tuple(record.get("new_dirs", []))
            yield str(record["path"]), before, (after,) if result else (after, before), dirs
        elif record["kind"] == FILES_CHANGED:
            for change in record.get("changes", []):
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


def pending_undo(records: Records) -> Record | None:
    """An undo that began and did not finish (killed): the next undo completes it."""
    started = rec.last(records, UNDO_START, RUN_CLOSED)
    return started if started is not None and started["kind"] == UNDO_START else None


def undone(records: Records) -> bool:
    return rec.last(records, RUN_CLOSED) is not None


def changes_recorded(records: Records, intent: int) -> bool:
    """Whether what the command of `intent` changed is journaled already."""
    return any(r["kind"] == FILES_CHANGED and r.get("intent") == intent for r in records)
