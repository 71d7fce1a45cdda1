"""A command's private copy of the workspace, under bwrap: the command runs against a copy
bound at the workspace's own path, and afterwards exactly what it changed there is applied
to the workspace, path by path, around what someone else changed meanwhile.

- A path nobody else changed since the command began takes the command's version (content,
  mode, link, folder, or no file).
- A file someone changed too is merged three-way (`git merge-file`: ours = the file now,
  base = as the command found it, theirs = as the command left it); the journal records the
  merge with the person's version as its "before", so undo takes out only the command's
  lines.
- A file with hard links is a file of its own per name in the copy: a name the command
  changed is replaced in the workspace (its other names keep the old content, as after a
  command that writes a new file over it); journaled with its links, undo links them again.
- Where the two overlap (or cannot be merged: a link, a folder, a deletion, binary), the
  person's version stays, the command's change is not applied, and the conflict is named
  in the tool result and journaled (undo names it too).

So a file a person saves while a command runs is never the command's: the journal (what
diff and undo read) holds only the command's own changes. What is not the project's or is
read-only anyway is not copied but bound from the real tree as without the copy: `.git`,
virtual environments and Jetbox's files read-only, caches writable; `__pycache__` is left
out (bytecode is rebuilt at need). A file over MAX_KEPT_BYTES (data, not copied before a
command) is bound read-only: a command cannot change or delete it, and is told so."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import weakref
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jetbox.core.fsutil import copy_new
from jetbox.core.prompts import say
from jetbox.core.text import escape_name
from jetbox.exec.merge import CannotMerge, merge_file
from jetbox.exec.sandbox import WorkCopy
from jetbox.store.history import Change, changes_recorded
from jetbox.store.kinds import FilesChanged, Intent
from jetbox.store.ledger import Ledger
from jetbox.store.objects import ABSENT, FileState, ObjectStore, state_of
from jetbox.store.restore import restore
from jetbox.store.workspace import PROTECTED_NAMES, is_git_name, is_venv
from jetbox.tools.watch import MAX_KEPT_BYTES, FileWatch, LinkGroup, Listing

COPY_PREFIX = "jetbox-cmd-"  # the temporary folder a copy is built in
BYTECODE = "__pycache__"     # left out of the copy, not bound: rebuilt at need, never applied
_WORKERS = 4  # copying is system calls: a few threads overlap them (5,000 files)


@dataclass(frozen=True)
class Built:
    """A copy ready for the command, and what is needed to read back its changes."""

    copy: WorkCopy
    watch: FileWatch
    """The copy's watch, seeded with the files written: only what the command touched is
    read again afterwards."""
    placed: frozenset[str]
    """Paths that are not the copy's own (bound from the real tree, or left-out links)."""
    read_only: tuple[str, ...] = ()
    """Files over MAX_KEPT_BYTES, bound read-only."""


class SessionCopy:
    """The private copy of a session's commands: built at the first command, then before
    each later one brought in step with the workspace (only the paths that differ are
    written again: copying and deleting thousands of files per command would cost seconds),
    and removed when the session ends."""

    def __init__(self, root: Path, store: ObjectStore) -> None:
        self.root, self.store = root, store
        self.folder: Path | None = None
        self.watch: FileWatch | None = None
        self.placed: frozenset[str] = frozenset()

    def prepare(self, before: dict[str, FileState], left_out: Listing,
                uncopied: frozenset[str]) -> Built:
        """The copy exactly as `before` records the workspace, files from their copies in
        the store (so it is the very state the command's changes are measured from).
        `uncopied`: the files too large for the store, bound read-only instead."""
        if self.folder is None or self.watch is None:
            self.folder = Path(tempfile.mkdtemp(prefix=COPY_PREFIX))
            weakref.finalize(self, remove, self.folder)
            self.watch = FileWatch(self.folder, self.store)
        folder, watch = self.folder, self.watch
        folder.mkdir(exist_ok=True)  # a temporary-folder cleaner may have taken it
        for rel in sorted(self.placed, reverse=True):  # the last command's placeholders
            _delete(folder / rel)
        placed: set[str] = set()
        binds: list[tuple[str, bool]] = []
        large = sorted(uncopied)
        placed.update(large)
        placed.update(r for r, s in before.items()
                      if s.exists and not (s.is_file or s.is_folder or s.link_target))
        watch.skip = frozenset(placed | {rel for rel, _ in left_out})
        have = watch.snapshot()
        want = {r: s for r, s in before.items() if r not in placed}
        differ = sorted(r for r in {*have, *want} if have.get(r, ABSENT) != want.get(r, ABSENT))
        for rel in differ:  # first what is in the way: nothing is written through a link
            if have.get(rel, ABSENT).exists and (not want.get(rel, ABSENT).is_folder or
                                                 not have[rel].is_folder):
                _delete(folder / rel)
        for rel in differ:
            if want.get(rel, ABSENT).is_folder:
                os.makedirs(folder / rel, exist_ok=True)
        writes: list[tuple[str, Path, FileState]] = []
        for rel in differ:
            state = want.get(rel, ABSENT)
            if state.link_target is not None:
                os.symlink(state.link_target, os.fsencode(folder / rel))
            elif state.is_file:  # from the store; a copy gone from it: the file as it is
                source = self.store.path(str(state.sha256))
                writes.append((rel, source if source.is_file() else self.root / rel, state))

        def write(item: tuple[str, Path, FileState]) -> None:
            rel, source, state = item
            info = copy_new(source, folder / rel,
                            state.mode if state.mode is not None else 0o644)
            watch.seed(rel, info, state)

        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            list(pool.map(write, writes))
        for rel in large:
            (folder / rel).touch()
            binds.append((rel, False))  # the real file bound over it, read-only
        for rel, info in left_out:
            _place(self.root, folder, rel, info, placed, binds)
        for rel in sorted((r for r in differ if want.get(r, ABSENT).is_folder), reverse=True):
            mode = want[rel].mode
            if mode is not None:  # last: a read-only folder would refuse the files above
                os.chmod(folder / rel, mode)
        self.placed = frozenset(placed)
        watch.skip = self.placed
        return Built(WorkCopy(folder, tuple(binds)), watch, self.placed, tuple(large))

    def discard(self) -> None:
        """Forget the copy (it could not be brought in step): the next command builds one."""
        if self.folder is not None:
            remove(self.folder)
        self.folder, self.watch, self.placed = None, None, frozenset()


def _delete(path: Path) -> None:
    """Whatever is at `path` in the copy, never following a link."""
    try:
        info = os.lstat(path)
    except OSError:
        return
    if stat.S_ISDIR(info.st_mode):
        remove(path)
    else:
        path.unlink()


def _place(root: Path, folder: Path, rel: str, info: os.stat_result, placed: set[str],
           binds: list[tuple[str, bool]]) -> None:
    """A left-out entry: a link as it is, a folder or file as a placeholder the real one
    is bound over (read-only where it is git's, a venv or Jetbox's), bytecode not at all."""
    name = rel.rsplit("/", 1)[-1]
    target = folder / rel
    if name == BYTECODE:
        return
    _delete(target)  # one a command made in the copy: the real one is what counts
    placed.add(rel)
    if stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(os.fsencode(root / rel)), os.fsencode(target))
        return
    if stat.S_ISDIR(info.st_mode):
        os.makedirs(target, exist_ok=True)
    else:
        target.touch()
    ours = "/" not in rel and (name in PROTECTED_NAMES or name.startswith(".jetbox"))
    read_only = ours or is_git_name(name) or (stat.S_ISDIR(info.st_mode)
                                              and is_venv(root / rel))
    binds.append((rel, not read_only))


@dataclass(frozen=True)
class Outcome:
    """What applying the command's changes did, for the tool result."""

    applied: int = 0
    merged: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class _Step:
    rel: str
    base: FileState   # as the command found it
    run: FileState    # as the command left it
    now: FileState    # as it is in the workspace now
    result: FileState  # what the workspace gets
    merged: bool = False


def finish(ledger: Ledger, intent: int, built: Built, before: dict[str, FileState],
           root: Path, store: ObjectStore,
           links: Mapping[str, LinkGroup] | None = None) -> Outcome:
    """Journal the command's changes (with the merges and conflicts), then apply them.
    `links`: the workspace's hard-linked files when `before` was taken (FileWatch.links).
    The copy holds each name as a file of its own, so a changed name is applied by
    replacing it (its links keep the old content); journaled with its links, so undo
    links the names again, or names a link outside the workspace it cannot make again."""
    links = links or {}
    after = built.watch.snapshot()
    differ = [(rel, before.get(rel, ABSENT), after.get(rel, ABSENT))
              for rel in sorted({*before, *after} - built.placed)
              if before.get(rel, ABSENT) != after.get(rel, ABSENT)]
    steps: list[_Step] = []
    conflicts: list[Mapping[str, Any]] = []
    notes: list[str] = []
    for rel, base, run in differ:
        now = _state(root / rel, store)
        if _same(now, base):
            steps.append(_Step(rel, base, run, now, run))
        elif now == run:
            continue  # someone made the same change: theirs, nothing to apply
        else:
            try:
                steps.append(_merge(rel, base, run, now, store))
            except CannotMerge as exc:
                conflicts.append({"path": escape_name(rel), "before": base.to_record(),
                                  "after": now.to_record(), "run": run.to_record(),
                                  "why": str(exc)})
                notes.append(_conflict_note(root, store, rel, run, str(exc)))
    steps = _in_order(steps)
    store.sync()  # every copy durable before the change it records is journaled
    ledger.append(FilesChanged(
        intent=intent, isolated=True, conflicts=conflicts or None,
        changes=[{"path": escape_name(s.rel), "before": s.now.to_record(),
                  "after": s.result.to_record(), **({"merged": True} if s.merged else {}),
                  **(links[s.rel].record() if s.rel in links else {})}
                 for s in steps]))
    applied = 0
    for step in steps:
        try:
            _apply(root, store, built.copy.folder, step)
            applied += 1
        except (OSError, ValueError) as exc:
            notes.append(say("result.copy_not_applied", path=escape_name(step.rel),
                             reason=str(exc)))
    _carry_over(root, built)
    return Outcome(applied, tuple(escape_name(s.rel) for s in steps if s.merged),
                   tuple(str(c["path"]) for c in conflicts), tuple(notes))


def _state(path: Path, store: ObjectStore) -> FileState:
    """What is at `path`, a file's content kept in the store (a merge's "before")."""
    now = state_of(path)
    if now.is_file and os.path.getsize(path) <= MAX_KEPT_BYTES:
        return store.save(path, sync=False)
    return now


def _same(now: FileState, recorded: FileState) -> bool:
    return now.sha256 == recorded.sha256 and (not now.exists or now.mode == recorded.mode)


def _merge(rel: str, base: FileState, run: FileState, now: FileState,
           store: ObjectStore) -> _Step:
    """The command's change made in the person's version of the file; CannotMerge when
    the two overlap or cannot be merged line by line."""
    if not (base.is_file and run.is_file and now.is_file):
        raise CannotMerge(say("merge.not_two_files"))
    if not all(store.has(str(s.sha256)) for s in (base, run, now)):
        raise CannotMerge(say("merge.too_big", megabytes=MAX_KEPT_BYTES // 1_000_000))
    mode = run.mode if now.mode == base.mode else now.mode
    if run.sha256 == base.sha256:
        sha = str(now.sha256)  # the command changed only the mode
    elif now.sha256 == base.sha256:
        sha = str(run.sha256)  # the person changed only the mode
    else:
        data = merge_file(*(store.load(str(s.sha256)) for s in (now, base, run)))
        sha = store.save_bytes(data)
    result = FileState(sha, mode)
    return _Step(rel, base, run, now, result, merged=True)


def _in_order(steps: list[_Step]) -> list[_Step]:
    """Folders made first (outermost first), folders removed last (deepest first)."""
    def key(step: _Step) -> tuple[int, int]:
        depth = step.rel.rstrip("/").count("/")
        if not step.rel.endswith("/"):
            return (1, 0)
        return (0, depth) if step.result.exists else (2, -depth)
    return sorted(steps, key=key)


def _apply(root: Path, store: ObjectStore, folder: Path, step: _Step) -> None:
    """The workspace's path as the step says, unless it changed again since it was read."""
    target = root / step.rel
    if not _same(state_of(target), step.now):
        raise OSError("someone changed it again while Jetbox applied it; theirs is kept")
    if step.result.is_file and not store.has(str(step.result.sha256)):
        _place_large(folder / step.rel, target, step.result)
        return
    if step.rel.endswith("/") and not step.result.exists:
        shutil.rmtree(target / BYTECODE, ignore_errors=True)  # never in the copy
    change = Change(escape_name(step.rel), step.result, ())
    if restore(root, store, change) == "kept (not empty)":
        raise OSError("it holds files someone else added while the command ran; kept")


def _place_large(source: Path, target: Path, state: FileState) -> None:
    """A file too large for the store, copied from the copy into its place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.jetbox-{os.getpid()}.tmp")
    try:
        shutil.copyfile(source, scratch)
        os.chmod(scratch, state.mode if state.mode is not None else 0o644)
        os.replace(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)


def _conflict_note(root: Path, store: ObjectStore, rel: str, run: FileState, why: str) -> str:
    note = say("result.copy_conflict", path=escape_name(rel), why=why)
    if run.is_file and store.has(str(run.sha256)):
        copy = store.path(str(run.sha256))
        shown = copy.relative_to(root) if copy.is_relative_to(root) else copy
        note += say("result.copy_conflict_kept", where=shown.as_posix())
    return note


def _carry_over(root: Path, built: Built) -> None:
    """What the command made that is not watched (a new cache, a new virtual environment)
    goes to the workspace as it would have without the copy, where nothing is there yet."""
    for rel, _info in built.watch.left_out:
        name = rel.rsplit("/", 1)[-1]
        if rel in built.placed or name == BYTECODE or is_git_name(name) or \
                ("/" not in rel and (name in PROTECTED_NAMES or name.startswith(".jetbox"))):
            continue
        target = root / rel
        if os.path.lexists(target) or not target.parent.is_dir():
            continue
        try:
            shutil.move(built.copy.folder / rel, target)
        except OSError:
            continue


def remove(folder: Path) -> None:
    """The copy (or a folder of it), whatever modes the command left on its folders."""
    try:
        os.chmod(folder, 0o700)
    except OSError:
        return  # gone already
    for path, dirs, _files in os.walk(folder):
        for name in dirs:
            try:
                os.chmod(os.path.join(path, name), 0o700, follow_symlinks=False)
            except (OSError, NotImplementedError):
                continue
    shutil.rmtree(folder, ignore_errors=True)


def recover(ledger: Ledger, intent: Intent) -> None:
    """On a resume, for a command that ran in a copy when Jetbox was killed: its changes
    never reached the workspace (unless they were journaled, then applied), so nothing of
    the workspace is its; the copy it left behind is removed."""
    if intent.action != "cmd" or not intent.work_copy:
        return
    path = Path(intent.work_copy)
    if path.name.startswith(COPY_PREFIX) and path.parent == Path(tempfile.gettempdir()):
        remove(path)
    if not changes_recorded(ledger.records(), intent.seq):
        ledger.append(FilesChanged(intent=intent.seq, changes=[], isolated=True))
