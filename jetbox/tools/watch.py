"""What a command the model ran changed in the project's files, so `jetbox undo` can take
that back too: before the command, a copy of every project file not already kept (a file
unchanged since the last look is not read again); after it, the paths whose content or
mode differ, journaled with both states."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetbox.core.text import escape_name
from jetbox.store.history import changes_recorded
from jetbox.store.kinds import FilesChanged, Intent
from jetbox.store.ledger import Ledger
from jetbox.store.objects import ABSENT, FileState, ObjectStore, file_sha256, state_of
from jetbox.store.workspace import IGNORED_DIRS, PROTECTED_NAMES

# A file larger than this is not copied before a command (a copy of every large file
# before every command would cost its size in disk and time); its change is still seen, by
# a streamed digest, and undo names it as one it cannot restore. Tool writes copy any size.
MAX_KEPT_BYTES = 50_000_000

# Past this many paths (files, links, folders) a snapshot stops, and the command's record
# says so: diff and undo name the changes they may not have seen.
WATCH_MAX_PATHS = 200_000
Stamp = tuple[int, int, int, int, int]  # size, mtime_ns, ctime_ns, inode, mode


Listing = list[tuple[str, os.stat_result]]


def watched_paths(root: Path, skip: frozenset[str] = frozenset(),
                  left_out: Listing | None = None) -> tuple[Listing, bool]:
    """Every path under `root` a command may change, git-ignored ones included (`.env`,
    `build/`), as (relative name, lstat); and whether WATCH_MAX_PATHS cut the list short.
    Left out (and added to `left_out` when given): git's and Jetbox's own files, caches,
    and virtual environments (a folder with a pyvenv.cfg, or one of IGNORED_DIRS); `skip`
    names paths to pass over without a word. Folders end in "/"; links are not followed."""
    found: Listing = []
    stack = [("", str(root))]
    while stack:
        prefix, folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if prefix + entry.name in skip:
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if _left_out(prefix, entry):
                if left_out is not None:
                    left_out.append((prefix + entry.name, info))
                continue
            if stat.S_ISDIR(info.st_mode):
                found.append((prefix + entry.name + "/", info))
                stack.append((prefix + entry.name + "/", entry.path))
            else:
                found.append((prefix + entry.name, info))
            if len(found) >= WATCH_MAX_PATHS:
                return found, True
    return found, False


def stamp_of(info: os.stat_result) -> Stamp:
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_mode)


def _left_out(prefix: str, entry: os.DirEntry[str]) -> bool:
    name = entry.name
    if name in IGNORED_DIRS or name.endswith(".egg-info") or \
            (not prefix and (name in PROTECTED_NAMES or name.startswith(".jetbox"))):
        return True
    return entry.is_dir(follow_symlinks=False) and \
        os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))


@dataclass(frozen=True)
class LinkGroup:
    """The names of one hard-linked file that the watch sees, and whether it has others."""

    names: tuple[str, ...]
    """Every watched name of the file (escaped), sorted."""
    outside: bool
    """Some link is not watched: outside the workspace, in `.git` or a virtual environment."""

    def record(self) -> dict[str, object]:
        """The fields a journaled change of one of the names carries (see history.py)."""
        return {"linked": list(self.names)} if not self.outside else {"links_outside": True}


def hard_links(paths: list[tuple[str, os.stat_result]]) -> dict[str, LinkGroup]:
    """Each watched regular file with more than one link, by name: undo links the names
    again. Windows' scandir leaves link counts unset, so none is seen there."""
    groups: dict[tuple[int, int], list[str]] = {}
    counts: dict[tuple[int, int], int] = {}
    for rel, info in paths:
        if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
            groups.setdefault((info.st_dev, info.st_ino), []).append(rel)
            counts[(info.st_dev, info.st_ino)] = info.st_nlink
    found = {}
    for key, names in groups.items():
        links = LinkGroup(tuple(sorted(escape_name(n) for n in names)), len(names) < counts[key])
        found.update(dict.fromkeys(names, links))
    return found


class FileWatch:
    """The project's files as the last look saw them, by stamp, so only changed ones are
    read again."""

    def __init__(self, root: Path, store: ObjectStore,
                 skip: frozenset[str] = frozenset()) -> None:
        self.root, self.store, self.skip = root, store, skip
        self._seen: dict[str, tuple[Stamp, FileState]] = {}
        self.truncated = False  # the last snapshot stopped at WATCH_MAX_PATHS
        self.links: dict[str, LinkGroup] = {}  # the last snapshot's hard-linked files, by name
        self.left_out: Listing = []  # what the last snapshot left out (watched_paths)
        self.uncopied: frozenset[str] = frozenset()  # its files over MAX_KEPT_BYTES

    def seed(self, rel: str, info: os.stat_result, state: FileState) -> None:
        """Take `state` as what is at `rel` while it keeps the stamp of `info` (a file
        Jetbox itself just wrote, whose content it knows)."""
        self._seen[rel] = (stamp_of(info), state)

    def snapshot(self) -> dict[str, FileState]:
        """Every watched path's state now, each file's content kept in the store."""
        states: dict[str, FileState] = {}
        self.left_out = []
        paths, self.truncated = watched_paths(self.root, self.skip, self.left_out)
        self.uncopied = frozenset(rel for rel, info in paths if stat.S_ISREG(info.st_mode)
                                  and info.st_size > MAX_KEPT_BYTES)
        self.links = hard_links(paths)
        for rel, info in paths:
            stamp = stamp_of(info)
            seen = self._seen.get(rel)
            if seen is not None and seen[0] == stamp:
                states[rel] = seen[1]
                continue
            try:
                state = self._state(self.root / rel, info)
            except OSError:
                continue
            self._seen[rel] = (stamp, state)
            states[rel] = state
        self.store.sync()  # every copy durable before the command can change a file
        return states

    def _state(self, path: Path, info: os.stat_result) -> FileState:
        if not stat.S_ISREG(info.st_mode):
            return state_of(path)  # a folder, a link (its target), or something else
        if info.st_size <= MAX_KEPT_BYTES:
            return self.store.save(path, sync=False)
        return FileState(file_sha256(path), stat.S_IMODE(info.st_mode))

    def manifest(self, states: dict[str, FileState]) -> str:
        """Keep a snapshot itself in the store (its sha256 goes on the command's intent), so
        a command killed with Jetbox is still taken back by undo."""
        data = json.dumps({rel: [s.sha256, s.mode] for rel, s in states.items()},
                          sort_keys=True).encode("utf-8")
        return self.store.save_bytes(data)

    def recover(self, ledger: Ledger, intent: Intent) -> int:
        """On a resume: journal what an interrupted command changed, once."""
        sha = intent.files_before
        if intent.action != "cmd" or not isinstance(sha, str) or \
                changes_recorded(ledger.records(), intent.seq):
            return 0
        try:
            kept = json.loads(self.store.load(sha))
            before = {str(rel): FileState(value[0], value[1]) for rel, value in kept.items()}
        except (OSError, ValueError, TypeError, IndexError, AttributeError):
            return 0  # the snapshot is lost: the command's changes cannot be undone
        self.links = {}  # the kept snapshot has none (this process's last look is not it)
        return self.record(ledger, intent.seq, before)

    def record(self, ledger: Ledger, intent: int, before: dict[str, FileState],
               during: str | None = None) -> int:
        """Journal what changed since `before` (while the command of `intent` ran, or
        `during` something else: the probes); returns how many paths did. Nothing is
        journaled for something else that changed nothing. `before` is the last snapshot
        taken, whose hard links are journaled with the paths that changed."""
        links = self.links
        after = self.snapshot()
        # The escaped name (escape_name) maps back to the exact bytes of a non-UTF-8 name.
        changes: list[Mapping[str, Any]] = [
            {"path": escape_name(rel), "before": before.get(rel, ABSENT).to_record(),
             "after": after.get(rel, ABSENT).to_record(),
             **(links[rel].record() if rel in links else {})}
            for rel in sorted({*before, *after})
            if before.get(rel, ABSENT) != after.get(rel, ABSENT)]
        if during is not None and not changes:
            return 0
        ledger.append(FilesChanged(intent=intent, changes=changes, during=during,
                                   truncated=self.truncated or None))
        return len(changes)
