"""`jetbox undo`: every file the last run wrote, edited, created or deleted, back as it was
before the run (content and mode), from the copies Jetbox kept in .jetbox/objects."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from jetbox.commands.undoplan import Left, UndoPlan, plan
from jetbox.core import failpoints
from jetbox.core.errors import StatusError, StorageError, UsageError
from jetbox.core.prompts import say
from jetbox.core.text import for_terminal
from jetbox.exec.gitrepo import exclude_own_files
from jetbox.store import queries
from jetbox.store.history import (
    Change,
    left_by_undo,
    pending_undo,
    run_changes,
    run_records,
    undone,
    unwatched,
    while_ran,
)
from jetbox.store.kinds import Record, RunStart, RunUndone, UndoStart
from jetbox.store.ledger import Ledger
from jetbox.store.lock import WorkspaceLock
from jetbox.store.objects import FileState, ObjectStore
from jetbox.store.restore import inside, relink, remove_new_dirs, restore
from jetbox.store.root import chosen_workspace
from jetbox.store.status import StatusFile
from jetbox.store.workspace import Workspace

HELP = "put back every file the last run changed, exactly as it was before the run"
DESCRIPTION = """\
Restores every file the run wrote, edited, created or deleted to its state before the run
(content and mode; a file the run created is removed; hard links in the workspace linked
again), from the copies Jetbox keeps in .jetbox/objects. Where someone else changed a
file too (between rounds or after the run), only the run's lines are taken out (git
merge-file) and theirs stay; where that cannot be done the file is named and left as it
is, unless --force. A path it cannot restore never blocks the others: undo restores the
rest, names it and exits 1. An undo that was interrupted is finished by running `jetbox
undo` again. `jetbox log --runs` numbers the runs; --run N undoes an older one (a set-aside
run). `jetbox diff` shows what would be undone."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-w", "--workspace", metavar="DIR",
                        help="the run's folder (default: the project the current folder is in)")
    parser.add_argument("--force", action="store_true",
                        help="restore files whose run's lines cannot be taken out alone "
                             "(someone's later changes to them are lost)")
    parser.add_argument("--run", type=int, metavar="N",
                        help="the run to undo, as `jetbox log --runs` numbers them "
                             "(default: the newest)")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    workspace = Workspace.at(chosen_workspace(args.workspace)[0])
    if not workspace.ledger_path.is_file():
        out.write(f"no run in {workspace.root}: nothing to undo\n")
        return 0
    with WorkspaceLock(workspace.lock_path):
        exclude_own_files(workspace.root, workspace.own_paths())  # its lock, its copies
        return undo(workspace, args.force, out, getattr(args, "run", None), err)


def undo(workspace: Workspace, force: bool, out: TextIO, number: int | None = None,
         err: TextIO | None = None) -> int:
    """Plan (journaled before the first file is touched), restore, close the run. Exit 0
    when everything is back, 1 when something is named that could not be."""
    ledger = Ledger(workspace.ledger_path)
    try:
        records = run_records(ledger.records(), number)
    except ValueError as exc:
        raise UsageError(f"{exc} (see `jetbox log --runs`)") from None
    own = records[0].seq if records and isinstance(records[0], RunStart) else None
    store = ObjectStore.of(workspace.root)
    pending = pending_undo(records)
    if pending is not None:
        steps = [Change.from_record(step) for step in pending.steps]
        left = [Left(str(x["path"]), str(x["why"])) for x in pending.left or []]
        merged: frozenset[str] = frozenset()
        out.write("finishing an undo that was interrupted\n")
    else:
        planned = _plan(workspace.root, store, records, force, out,
                        "the last run" if number is None else f"run {number}")
        if planned is None:
            return 0
        steps, left, merged = list(planned.steps), list(planned.left), planned.merged
        ledger.append(UndoStart(steps=[s.to_record() for s in steps], forced=force, run=own,
                                left=[{"path": x.path, "why": x.why} for x in left] or None))
    notes = _command_notes(workspace.root, store, steps)
    done = _restore_all(workspace.root, store, steps, left)
    remove_new_dirs(workspace.root, steps)
    linked, unlinked = relink(workspace.root, steps, {x.path for x in left})
    left += [Left(path, why) for path, why in unlinked]
    ledger.append(RunUndone(restored=len(done), run=own, left=[x.path for x in left] or None))
    _mark_status(workspace)
    kept_theirs = {s.path for s in steps if any(e.merged for e in s.events)}
    for path, what in done:
        note = " (your changes kept: only the run's lines taken out)" \
            if path in merged or (path in kept_theirs and what != "unchanged") \
            else notes.get(path, "") if what != "unchanged" else ""
        out.write(for_terminal(f"  {what:<14} {path}{note}") + "\n")
    for path, first in linked:
        out.write(for_terminal(f"  {'linked again':<14} {path} (a hard link of {first}, as "
                               f"before the run)") + "\n")
    for label in unwatched(records):
        left.append(Left(f"(`{label}`)", "the tree had more paths than the watch's limit "
                                          "(WATCH_MAX_PATHS): changes past it were not seen"))
    return _report(out, err or out, done, left)


def _plan(root: Path, store: ObjectStore, records: list[Record], force: bool,
          out: TextIO, which: str) -> UndoPlan | None:
    """What to do, or None (said why) when there is nothing to undo."""
    retry = left_by_undo(records)
    if queries.run_goal(records) is None or (undone(records) and not retry):
        out.write("nothing to undo: " + (f"{which} was undone already\n"
                                         if undone(records) else "no run yet\n"))
        return None
    changes = [c for c in run_changes(records) if not retry or c.path in retry]
    planned = plan(root, store, changes, force)
    if not planned.steps and not planned.left:
        out.write("nothing to undo: the run changed no file\n")
        return None
    return planned


def _command_notes(root: Path, store: ObjectStore, steps: list[Change]) -> dict[str, str]:
    """For each path only commands changed: which command, and where the version undo
    replaces is kept. A file someone saved while the command ran looks exactly like one the
    command wrote (Jetbox sees only the two snapshots around it), so it is named, and its
    content kept, never lost without a word."""
    notes = {}
    for step in steps:
        labels = step.unsure_labels  # a command in a private copy changed only its own
        if not labels or {"write", "edit"} & set(step.labels):
            continue
        ran = while_ran(labels)
        note = f" (changed while {ran} ran: by it, or by someone else at the same time"
        try:
            kept = store.save(inside(root, step.path))
        except OSError:
            kept = FileState(None)
        if kept.is_file:
            copy = store.path(str(kept.sha256))
            shown = copy.relative_to(root) if copy.is_relative_to(root) else copy
            note += f"; the version replaced is kept in {shown.as_posix()}"
        notes[step.path] = note + ")"
    return notes


def _restore_all(root: Path, store: ObjectStore, steps: list[Change],
                 left: list[Left]) -> list[tuple[str, str]]:
    """Every step that can be done; one that fails is named, never blocking the rest."""
    done = []
    for step in steps:
        failpoints.hit("undo:step")
        try:
            done.append((step.path, restore(root, store, step)))
        except (OSError, ValueError) as exc:
            left.append(Left(step.path, f"cannot restore it: {exc}"))
    return done


def _report(out: TextIO, err: TextIO, done: list[tuple[str, str]], left: list[Left]) -> int:
    if not left:
        out.write(f"undone: {len(done)} file(s) as they were before the run\n")
        return 0
    for item in left:
        err.write(for_terminal(f"  not restored   {item.path}: {item.why}") + "\n")
    err.write(f"not undone entirely: {len(done)} path(s) restored, {len(left)} left as they "
              f"are (named above); `jetbox undo` tries those again\n")
    return 1


def _mark_status(workspace: Workspace) -> None:
    """status.txt says the run was undone (best effort: the ledger already does)."""
    status_file = StatusFile(workspace.status_path)
    try:
        if status_file.exists():
            status_file.write(status_file.read().with_(
                status=say("status.undone")))
    except (StatusError, StorageError, OSError):
        return
