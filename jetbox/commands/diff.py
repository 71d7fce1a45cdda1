"""`jetbox diff`: what the last run changed, one unified diff per file against the file as it
was before the run's first change to it."""

from __future__ import annotations

import argparse
import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from jetbox.commands.undoplan import CannotUndo, NoCopy, conflict_text, plan_one
from jetbox.core.errors import UsageError
from jetbox.core.text import escape_name, for_terminal
from jetbox.store.history import (
    Change,
    left_by_undo,
    run_changes,
    run_records,
    runs,
    undone,
    while_ran,
)
from jetbox.store.kinds import Record
from jetbox.store.ledger import Ledger
from jetbox.store.objects import FileState, ObjectStore, state_of
from jetbox.store.restore import inside
from jetbox.store.root import chosen_workspace
from jetbox.store.workspace import Workspace

HELP = "show what the last run changed (a unified diff per file)"
DESCRIPTION = """\
Prints a unified diff per file the last run wrote, edited, created or deleted: the file as
it was before the run's first change to it (kept in .jetbox/objects) against the file now.
`jetbox undo` puts them all back. With --patch the diff is written byte for byte, as
`git apply` takes it: `jetbox diff --patch > run.patch`."""

NO_NEWLINE = b"\\ No newline at end of file\n"
UNLINKED = ("had a hard link outside the workspace: undo restores its content, as a "
            "separate file, not the link")
HEADER = "diff --jetbox"  # not git's own header: there is no index line (--patch uses git's)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-w", "--workspace", metavar="DIR",
                        help="the run's folder (default: the project the current folder is in)")
    parser.add_argument("--stat", action="store_true", help="only the names of changed files")
    parser.add_argument("--patch", action="store_true",
                        help="the exact bytes, for `git apply` or `patch -p1` (CRs and other "
                             "control characters unescaped, so not on a terminal: redirect it)")
    parser.add_argument("--run", type=int, metavar="N",
                        help="the run to show, as `jetbox log --runs` numbers them "
                             "(default: the newest)")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="only these files")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.patch and args.stat:
        raise UsageError("--patch and --stat: give one")
    if args.patch and out.isatty():
        raise UsageError("--patch writes a file's bytes as they are, control characters "
                         "included: redirect it (jetbox diff --patch > run.patch), or drop "
                         "--patch to read the diff here")
    note = err if args.patch else out  # a patch holds nothing but the patch
    workspace = Workspace.at(chosen_workspace(args.workspace)[0])
    try:
        records = run_records(Ledger(workspace.ledger_path).records(), args.run) \
            if workspace.ledger_path.is_file() else []
    except ValueError as exc:
        raise UsageError(f"{exc} (see `jetbox log --runs`)") from None
    left = left_by_undo(records)
    which = "the last run" if args.run is None else f"run {args.run}"
    if undone(records) and not left:
        note.write(f"{which} was undone: no change of it is left\n")
        return 0
    # A name is matched by its bytes: `jetbox diff caf<E9>.txt` reaches here decoded with
    # surrogateescape, and the ledger keeps the escaped form of the same bytes.
    # A backslash is a separator only on Windows; elsewhere it is part of a name.
    given = [(p.replace("\\", "/") if os.sep == "\\" else p).removeprefix("./")
             for p in args.paths]
    wanted = {escape_name(p) for p in given} | set(given)  # or typed as diff shows it
    changes = [c for c in run_changes(records) if (not wanted or c.path in wanted)
               and (not left or c.path in left)]
    shown = _show(workspace.root, changes, args, out, err)
    if not shown:
        note.write(f"no changes by {which}\n" if records else f"no run in "
                   f"{workspace.root}\n")
    if args.run is None and not shown:
        for line in older_runs(Ledger(workspace.ledger_path).records()
                               if records else []):
            note.write(line + "\n")
    return 0


def older_runs(records: list[Record]) -> list[str]:
    """A line for each earlier run (set aside, ended) with changes not undone, so a change
    that `git status` still shows is never hidden behind "no changes by the last run"."""
    lines = []
    every = runs(records)
    for number in range(len(every) - 1, 0, -1):
        own = run_records(records, number)
        if (undone(own) and not left_by_undo(own)) or not run_changes(own):
            continue
        lines.append(f"run {number} (older) changed {len(run_changes(own))} file(s) and was "
                     f"not undone: `jetbox diff --run {number}`, `jetbox undo --run {number}`")
    return lines


def _show(root: Path, changes: list[Change], args: argparse.Namespace, out: TextIO,
          err: TextIO) -> int:
    """Each path's diff: the run's own change only (as undo would take it out), or, where
    that cannot be told apart from a later change, everything since before the run, said
    so on stderr."""
    store = ObjectStore.of(root)
    shown = 0
    # A folder that holds a changed path says nothing more than that path's own diff.
    holders = {p[:i + 1] for p in (c.path for c in changes) for i, ch in enumerate(p[:-1])
               if ch == "/"}
    for whole in (c for c in changes if c.path not in holders):
        if whole.conflicts:  # never applied: the file is someone else's, not the run's
            err.write(for_terminal(f"{whole.path}: not shown: {conflict_text(whole)}")
                      + "\n")
            continue
        try:
            change = plan_one(root, store, whole, force=False)[0]
        except NoCopy:
            change = whole  # file_diff says so
        except CannotUndo as exc:
            change = whole
            err.write(for_terminal(f"{whole.path}: shown against the file before the run, "
                                   f"later changes included ({exc})") + "\n")
        diff = file_diff(root, store, change, "diff --git" if args.patch else HEADER)
        if diff is None:
            continue
        shown += 1
        if args.stat:
            out.write(for_terminal(change.path) + "\n")
            continue
        if change.unlinked and args.patch:  # beside it: a comment line would break the patch
            err.write(for_terminal(f"{change.path} {UNLINKED}") + "\n")
        if not args.patch:
            if change.unlinked:
                out.write(for_terminal(f"# {change.path} {UNLINKED}") + "\n")
            if change.unsure_labels and not {"write", "edit"} & set(change.labels):
                ran = while_ran(change.unsure_labels)
                out.write(for_terminal(f"# changed while {ran} ran (by it, or by someone "
                                       f"else at the same time)") + "\n")
            out.write(for_terminal(diff.data.decode("utf-8", "surrogateescape"), multiline=True))
        elif diff.binary:  # git apply would refuse the whole patch for want of its bytes
            err.write(f"{for_terminal(change.path)} is {diff.what}: not in the patch"
                      + (" (jetbox undo restores it)\n" if diff.restorable else "\n"))
        else:
            write_bytes(out, diff.data)
    return shown


def write_bytes(out: TextIO, data: bytes) -> None:
    """To the stream's bytes when it has them (no newline translation on Windows)."""
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        out.write(data.decode("utf-8", "surrogateescape"))
        return
    out.flush()
    buffer.write(data)
    buffer.flush()


@dataclass(frozen=True)
class FileDiff:
    data: bytes
    binary: bool = False  # named, not shown: a NUL byte on one side, or no file's content
    what: str = "binary"  # what it is instead, for that note
    restorable: bool = True


def file_diff(root: Path, store: ObjectStore, change: Change,
              header: str = HEADER) -> FileDiff | None:
    """The diff of one path, before the run against now; None when they are the same.
    Lines end at \\n only, so a CR or form feed stays inside its line, as in git."""
    target = inside(root, change.path)
    now = state_of(target)
    before = change.before
    if now == before or (now.sha256 == before.sha256 and before.mode is None):
        return None
    if before.exists and not store.has(str(before.sha256)):  # named, never a crash
        return FileDiff(_bytes(f"{header} {_name('a/', change.real_name)} "
                               f"{_name('b/', change.real_name)}\n# no copy of it as it was "
                               f"before the run was kept: its change cannot be shown, and "
                               f"undo cannot restore it\n"), binary=True,
                        what="without a copy of its state before the run", restorable=False)
    old = store.load(str(before.sha256)) if before.exists else b""
    if not (before.is_file or not before.exists) or not (now.is_file or not now.exists):
        return FileDiff(_bytes(f"{header} {_name('a/', change.real_name)} "
                               f"{_name('b/', change.real_name)}\n{_kind('before', before)}"
                               f"{_kind('now', now)}"), binary=True,
                        what="a link or a folder on one side")
    new = target.read_bytes() if now.is_file else b""
    a, b = _name("a/", change.real_name), _name("b/", change.real_name)  # the disk's bytes
    head = f"{header} {a} {b}\n"
    if not before.exists:
        head += f"new file mode {_mode(now.mode)}\n"
    elif not now.exists:
        head += f"deleted file mode {_mode(before.mode)}\n"
    elif now.mode != before.mode and before.mode is not None:
        head += f"old mode {_mode(before.mode)}\nnew mode {_mode(now.mode)}\n"
    if old == new:
        return FileDiff(_bytes(head))
    if b"\0" in old + new:
        return FileDiff(_bytes(head + f"Binary files {a} and {b} differ\n"), binary=True)
    lines = difflib.diff_bytes(
        difflib.unified_diff, _lines(old), _lines(new),
        fromfile=_bytes(a if before.exists else "/dev/null"),
        tofile=_bytes(b if now.exists else "/dev/null"))
    return FileDiff(_bytes(head) + b"".join(
        line if line.endswith(b"\n") else line + b"\n" + NO_NEWLINE for line in lines))


def _kind(when: str, state: FileState) -> str:
    """A line for what is not a regular file's content: a link, a folder (git's patch
    format has no empty folder, so these are shown, named on stderr, never patched)."""
    link = state.link_target
    what = "nothing" if not state.exists else "a folder" if state.is_folder else \
        f"a link to {link.decode('utf-8', 'surrogateescape')}" if link is not None else \
        "a file" if state.is_file else "not a file, link or folder"
    return f"# {when}: {what}\n"


_QUOTED = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
           "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def _name(prefix: str, path: str) -> str:
    """A path as git writes it in a diff: in double quotes with C escapes when it holds a
    quote, a backslash or a control character (a newline would end the header line)."""
    if not any(c in _QUOTED or ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        return prefix + path
    escaped = "".join(_QUOTED.get(c) or (f"\\{ord(c):03o}" if ord(c) < 0x20 or ord(c) == 0x7F
                                         else c) for c in prefix + path)
    return f'"{escaped}"'


def _lines(data: bytes) -> list[bytes]:
    parts = data.split(b"\n")
    return [part + b"\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")  # a name read from disk, as it was


def _mode(mode: int | None) -> str:
    return f"100{mode:o}" if mode is not None else "100644"
