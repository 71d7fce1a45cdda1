"""`jetbox diff`: what the last run changed, one unified diff per file against the file as it
was before the run's first change to it."""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path
from typing import TextIO

from jetbox.core.text import for_terminal
from jetbox.store.history import Change, run_changes, undone
from jetbox.store.ledger import Ledger
from jetbox.store.objects import ObjectStore, state_of
from jetbox.store.restore import inside
from jetbox.store.workspace import Workspace

HELP = "show what the last run changed (a unified diff per file)"
DESCRIPTION = """\
Prints a unified diff per file the last run wrote, edited, created or deleted: the file as
it was before the run's first change to it (kept in .jetbox/objects) against the file now.
`jetbox undo` puts them all back."""

NO_NEWLINE = "\\ No newline at end of file\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-w", "--workspace", metavar="DIR", help="folder (default: .)")
    parser.add_argument("--stat", action="store_true", help="only the names of changed files")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="only these files")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    workspace = Workspace.at(Path(args.workspace or "."))
    records = Ledger(workspace.ledger_path).current_run() \
        if workspace.ledger_path.is_file() else []
    if undone(records):
        out.write("the last run was undone: no change of it is left\n")
        return 0
    wanted = {p.replace("\\", "/").removeprefix("./") for p in args.paths}
    changes = [c for c in run_changes(records) if not wanted or c.path in wanted]
    store = ObjectStore.of(workspace.root)
    shown = 0
    for change in changes:
        text = file_diff(workspace.root, store, change)
        if text:
            shown += 1
            out.write(for_terminal(change.path) + "\n" if args.stat
                      else for_terminal(text, multiline=True))
    if not shown:
        out.write("no changes by the last run\n" if records else f"no run in "
                  f"{workspace.root}\n")
    return 0


def file_diff(root: Path, store: ObjectStore, change: Change) -> str:
    """The diff of one path, before the run against now; "" when they are the same."""
    target = inside(root, change.path)
    now = state_of(target)
    before = change.before
    if now == before or (now.sha256 == before.sha256 and before.mode is None):
        return ""
    old = store.load(str(before.sha256)) if before.exists else b""
    new = target.read_bytes() if now.exists and now.sha256 != "not-a-file" else b""
    head = f"diff --jetbox a/{change.path} b/{change.path}\n"
    if not before.exists:
        head += f"new file mode {_mode(now.mode)}\n"
    elif not now.exists:
        head += f"deleted file mode {_mode(before.mode)}\n"
    elif now.mode != before.mode and before.mode is not None:
        head += f"old mode {_mode(before.mode)}\nnew mode {_mode(now.mode)}\n"
    if old == new:
        return head
    try:
        old_text, new_text = old.decode("utf-8"), new.decode("utf-8")
    except UnicodeDecodeError:
        old_text = new_text = "\0"
    if "\0" in old_text + new_text:
        return head + f"Binary files a/{change.path} and b/{change.path} differ\n"
    lines = difflib.unified_diff(
        old_text.splitlines(keepends=True), new_text.splitlines(keepends=True),
        fromfile=f"a/{change.path}" if before.exists else "/dev/null",
        tofile=f"b/{change.path}" if now.exists else "/dev/null")
    return head + "".join(line if line.endswith("\n") else line + "\n" + NO_NEWLINE
                          for line in lines)


def _mode(mode: int | None) -> str:
    return f"100{mode:o}" if mode is not None else "100644"
