"""What undo does to each path the run changed, decided before any file is touched: the state
it gets back, or why it cannot (named, and undo exits non-zero).

- Nobody else changed the file (each of the run's changes began where the previous one left
  it, and it is still as the run left it): back to its state before the run, byte for byte.
- Someone did (between two of the run's changes, or after the last): each of the run's
  changes is taken out of the file as it is now, newest first, by a three-way merge
  (`git merge-file`: ours = now, base = as the change left it, theirs = as it found it), so
  the person's lines stay. No git, a binary file, a file the run created or deleted, or a
  conflict: the file is left as it is and named; `--force` restores the run's "before".
- A command's change that met someone's change of the same file while it ran (in its
  private copy, tools/cmdcopy.py) and could not be merged was never applied: named, and
  left as it is; `--force` restores the run's "before".
- No copy of a state it needs (a file over the watch's size limit changed by a command, a
  copy deleted from .jetbox/objects): named, never blocking the rest.
- Hard links: names that were one file before the run, all in the workspace, are restored
  and linked again (restore.relink); a file the run changed that had a link outside the
  workspace gets its content back and is named, as that link cannot be made again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from jetbox.exec.merge import CannotMerge, merge_file
from jetbox.store.history import Change, Event, while_ran
from jetbox.store.objects import FileState, ObjectStore, state_of
from jetbox.store.restore import inside
from jetbox.tools.watch import MAX_KEPT_BYTES

UNLINKED = ("it had a hard link outside the workspace, so the run's write made it a "
            "separate file: its content is restored, the link is not")


@dataclass(frozen=True)
class Left:
    """A path undo leaves as it is, and why."""

    path: str
    why: str


@dataclass(frozen=True)
class UndoPlan:
    steps: tuple[Change, ...]
    """What to restore: each change's `before` is the state it gets back."""
    left: tuple[Left, ...]
    merged: frozenset[str]
    """Paths whose steps keep someone else's changes (the run's lines taken out)."""


class CannotUndo(Exception):
    """Why one path cannot be put back."""


class NoCopy(CannotUndo):
    """A state undo needs was never copied (or its copy is gone)."""


def plan(root: Path, store: ObjectStore, changes: list[Change], force: bool) -> UndoPlan:
    changes = in_order(changes)
    steps: list[Change] = []
    left: list[Left] = []
    merged: set[str] = set()
    for change in changes:
        try:
            step, was_merged = plan_one(root, store, change, force)
        except CannotUndo as exc:
            left.append(Left(change.path, str(exc)))
            continue
        steps.append(step)
        if was_merged:
            merged.add(change.path)
        if change.unlinked:
            left.append(Left(change.path, _unlinked(change)))
    return UndoPlan(tuple(steps), tuple(left), frozenset(merged))


def _unlinked(change: Change) -> str:
    """Why a file that had a hard link outside the workspace is named: the link cannot be
    made again (and what a command did through it there cannot be taken back)."""
    commands = tuple(e.label for e in change.events
                     if e.unlinked and e.label not in ("write", "edit"))
    if not commands:
        return UNLINKED
    return (f"it had a hard link outside the workspace when {while_ran(commands)} ran: its "
            f"content is restored, as a separate file; the link is not, nor what was done "
            f"through it to the file outside")


def in_order(changes: list[Change]) -> list[Change]:
    """Folders to create first (outermost first), folders to remove last (deepest first),
    so every path has its folder when it is restored and a folder is empty when removed."""
    def key(change: Change) -> tuple[int, int]:
        depth = change.path.rstrip("/").count("/")
        if not change.path.endswith("/"):
            return (1, 0)
        return (0, depth) if change.before.exists else (2, -depth)
    return sorted(changes, key=key)  # stable: the run's order within each group


def plan_one(root: Path, store: ObjectStore, change: Change, force: bool) -> tuple[Change, bool]:
    """The step for one path, and whether it keeps someone else's changes."""
    if change.conflicts:  # a command's change never applied: the file is someone else's
        if not force:
            raise CannotUndo(conflict_text(change) + "; --force restores it as it was "
                             "before the run, losing those changes")
        return _restore_to(store, change, change.before), False
    now = state_of(inside(root, change.path))
    if change.contiguous and any(_same(now, s) for s in (*change.after, change.before)):
        return _restore_to(store, change, change.before), False
    try:
        return replace(change, before=_take_out(root, store, change, now)), True
    except NoCopy:
        raise
    except CannotUndo as exc:
        if not force:
            raise CannotUndo(f"{exc}; changed since the run changed it (--force restores "
                             f"it as it was before the run, losing those changes)") from None
    return _restore_to(store, change, change.before), False


def conflict_text(change: Change) -> str:
    """Why a command's change to the path was never applied."""
    event = change.conflicts[0]
    return (f"`{event.label}` changed it while someone else did ({event.conflict}): theirs "
            f"was kept and the command's change was never applied")


def _same(now: FileState, recorded: FileState) -> bool:
    return now.sha256 == recorded.sha256 and \
        (recorded.mode is None or not now.exists or now.mode == recorded.mode)


def _restore_to(store: ObjectStore, change: Change, state: FileState) -> Change:
    if state.exists and not (state.is_file or state.is_folder or state.link_target is not None):
        raise CannotUndo("it was not a regular file, a link or a folder before the run")
    if state.is_file and not store.has(str(state.sha256)):
        raise NoCopy(f"no copy of it as it was before the run (files over "
                     f"{MAX_KEPT_BYTES // 1_000_000} MB are not copied before a command)")
    return replace(change, before=state)


def _take_out(root: Path, store: ObjectStore, change: Change, now: FileState) -> FileState:
    """The file as it is now without the run's changes, newest first."""
    content = store.save(inside(root, change.path), sync=False) if now.is_file else now
    for event in reversed(change.events):
        content = _take_out_one(root, store, event, content)
    return content


def _take_out_one(root: Path, store: ObjectStore, event: Event, content: FileState) -> FileState:
    after = next((a for a in event.after if a.sha256 == content.sha256), None)
    if after is not None:  # this change is still whole: what it found comes back
        mode = event.before.mode if after.mode in (None, content.mode) else content.mode
        return FileState(event.before.sha256, mode) if event.before.exists else event.before
    if len(event.after) != 1 or not (event.before.is_file and event.after[0].is_file
                                     and content.is_file):
        raise CannotUndo(f"the run created or deleted it ({event.label or 'a change'})")
    needed = [str(s.sha256) for s in (content, event.after[0], event.before)]
    if not all(store.has(sha) for sha in needed):
        raise CannotUndo("a copy needed to take out only the run's lines is missing")
    ours, base, theirs = (store.load(sha) for sha in needed)
    try:
        merged = merge_file(ours, base, theirs)
    except CannotMerge as exc:
        reason = "the run's lines and later changes overlap" if str(exc) == "the lines overlap" \
            else str(exc).replace("the lines cannot", "the run's lines cannot")
        raise CannotUndo(reason) from None
    mode = event.before.mode if event.after[0].mode == content.mode else content.mode
    return FileState(store.save_bytes(merged), mode)
