"""`jetbox undo`: every file the last run wrote, edited, created or deleted, back as it was
before the run (content and mode), from the copies Jetbox kept in .jetbox/objects."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from jetbox.core import failpoints
from jetbox.core.errors import JetboxError, StatusError, StorageError, UsageError
from jetbox.core.text import for_terminal
from jetbox.store import records as rec
from jetbox.store.acts import RunUndone, UndoStart
from jetbox.store.gitrepo import exclude_own_files
from jetbox.store.history import Change, pending_undo, run_changes, undone
from jetbox.store.ledger import Ledger
from jetbox.store.lock import WorkspaceLock
from jetbox.store.objects import ObjectStore
from jetbox.store.restore import conflicts, missing_copies, remove_new_dirs, restore
from jetbox.store.status import StatusFile
from jetbox.store.workspace import Workspace

HELP = "put back every file the last run changed, exactly as it was before the run"
DESCRIPTION = """\
Restores every file the last run wrote, edited, created or deleted to its state before the
run (content and mode; a file the run created is removed), from the copies Jetbox keeps in
.jetbox/objects. Files someone changed after the run did are named and left alone unless
--force. An undo that was interrupted is finished by running `jetbox undo` again. The undone
run cannot be resumed; `jetbox diff` shows what would be undone."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-w", "--workspace", metavar="DIR", help="folder (default: .)")
    parser.add_argument("--force", action="store_true",
                        help="also restore files someone changed after the run did "
                             "(their changes are lost)")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    workspace = Workspace.at(Path(args.workspace or "."))
    if not workspace.ledger_path.is_file():
        out.write(f"no run in {workspace.root}: nothing to undo\n")
        return 0
    with WorkspaceLock(workspace.lock_path):
        exclude_own_files(workspace.root, workspace.own_paths())  # its lock, its copies
        return undo(workspace, args.force, out)


def undo(workspace: Workspace, force: bool, out: TextIO) -> int:
    """Plan (journaled before the first file is touched), restore, close the run."""
    ledger = Ledger(workspace.ledger_path)
    records = ledger.current_run()
    store = ObjectStore.of(workspace.root)
    pending = pending_undo(records)
    if pending is not None:
        steps = [Change.from_record(step) for step in pending.steps]
        out.write("finishing an undo that was interrupted\n")
    else:
        if rec.run_goal(records) is None or undone(records):
            out.write("nothing to undo: " + ("the last run was undone already\n"
                                             if undone(records) else "no run yet\n"))
            return 0
        steps = _plan(workspace.root, store, run_changes(records), force)
        if not steps:
            out.write("nothing to undo: the run changed no file\n")
            return 0
        ledger.append(UndoStart(steps=[s.to_record() for s in steps], forced=force))
    done = []
    for step in steps:
        failpoints.hit("undo:step")
        try:
            done.append((step.path, restore(workspace.root, store, step)))
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot restore {step.path}: {exc}; fix that, then run "
                               f"`jetbox undo` again to finish") from None
    remove_new_dirs(workspace.root, steps)
    ledger.append(RunUndone(restored=len(steps)))
    _mark_status(workspace)
    for path, what in done:
        out.write(for_terminal(f"  {what:<14} {path}") + "\n")
    out.write(f"undone: {len(steps)} file(s) as they were before the run\n")
    return 0


def _plan(root: Path, store: ObjectStore, changes: list[Change], force: bool) -> list[Change]:
    """The run's changes, if every copy is there and nobody changed a file since."""
    missing = missing_copies(store, changes)
    if missing:
        raise JetboxError(f"the copies of {', '.join(missing)} are missing from "
                          f"{store.folder}; nothing was changed")
    clashes = conflicts(root, changes)
    if clashes and not force:
        raise UsageError(f"changed after the run did: {', '.join(clashes)}; nothing was "
                         f"undone (see `jetbox diff`; --force restores them too, losing those "
                         f"changes)")
    return changes


def _mark_status(workspace: Workspace) -> None:
    """status.txt says the run was undone (best effort: the ledger already does)."""
    status_file = StatusFile(workspace.status_path)
    try:
        if status_file.exists():
            status_file.write(status_file.read().with_(
                status="yellow - undone by `jetbox undo`; start a new run with a goal"))
    except (StatusError, StorageError, OSError):
        return
