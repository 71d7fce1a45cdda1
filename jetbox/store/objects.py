"""Copies of the person's files as they were before a run changed them, stored by content
(.jetbox/objects/<2 hex>/<sha256>), so `jetbox diff` and `jetbox undo` can show and restore them.
A copy is durable before the change it protects is journaled."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetbox.core.fsutil import fsync_dir, new_file_mode, replace_with_retry
from jetbox.core.text import unescape_name
from jetbox.store.workspace import OBJECTS_DIR, STATE_DIR

CHUNK_BYTES = 1 << 20
FSYNC_EACH_MAX = 64  # up to this many new copies, each is fsynced (sync())
IN_MEMORY_BYTES = 8 << 20  # files up to this size are read once, larger ones streamed twice


@dataclass(frozen=True)
class FileState:
    """A path's content and mode at one moment; `sha256` None means no file there."""

    sha256: str | None
    mode: int | None = None

    @property
    def exists(self) -> bool:
        return self.sha256 is not None

    @property
    def is_file(self) -> bool:
        """A regular file whose content is a copy in the store (or could be)."""
        return self.exists and not str(self.sha256).startswith((LINK, FOLDER, OTHER))

    @property
    def link_target(self) -> bytes | None:
        """A symbolic link's target, as bytes (a link is restored as a link)."""
        sha = str(self.sha256)
        return bytes.fromhex(sha[len(LINK):]) if sha.startswith(LINK) else None

    @property
    def is_folder(self) -> bool:
        return self.sha256 == FOLDER

    def to_record(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "mode": self.mode}

    @classmethod
    def from_record(cls, value: object) -> FileState:
        data = value if isinstance(value, dict) else {}
        sha, mode = data.get("sha256"), data.get("mode")
        return cls(sha if isinstance(sha, str) else None, mode if isinstance(mode, int) else None)

    def describe(self) -> str:
        return "absent" if self.sha256 is None else f"{self.sha256[:12]} mode {self.mode:o}" \
            if self.mode is not None else self.sha256[:12]


ABSENT = FileState(None)
# What stands for something that is not a regular file, in place of a digest: no file's
# digest starts so, so a state of one never matches a state of the other.
LINK = "link:"     # a symbolic link: "link:" and the hex of its target's bytes
FOLDER = "folder"  # a folder; what it holds are paths of their own
OTHER = "not-a-file"  # a FIFO, a socket, a device (or a folder where a file was)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _regular(path: Path) -> os.stat_result | FileState:
    """A regular file's stat, or the state that stands for what is there instead: ABSENT,
    or a digest no file has (a folder, a link), so it never matches a recorded state."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return ABSENT
    if stat.S_ISLNK(info.st_mode):
        return FileState(LINK + os.readlink(os.fsencode(path)).hex())
    if stat.S_ISDIR(info.st_mode):
        return FileState(FOLDER, stat.S_IMODE(info.st_mode))
    if not stat.S_ISREG(info.st_mode):
        return FileState(OTHER, stat.S_IMODE(info.st_mode))
    return info


def state_of(path: Path) -> FileState:
    """What is at `path` now: a regular file's digest and mode, or what stands for it."""
    info = _regular(path)
    return info if isinstance(info, FileState) else \
        FileState(file_sha256(path), stat.S_IMODE(info.st_mode))


class ObjectStore:
    """Content-addressed copies: written once, never changed, read back verified."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._unsynced: list[Path] = []  # copies written with sync=False, not yet durable

    @classmethod
    def of(cls, root: Path) -> ObjectStore:
        """The workspace's store: .jetbox/objects, wherever its state files are."""
        return cls(root / STATE_DIR / OBJECTS_DIR)

    def path(self, sha: str) -> Path:
        """objects/<first two hex digits>/<sha256>: no folder grows past a few hundred
        entries, where creating a file slows down on many file systems."""
        return self.folder / sha[:2] / sha

    def has(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def save(self, source: Path, sync: bool = True) -> FileState:
        """Copy the file at `source` in and return its state; ABSENT if none. A content
        already kept is only read, never written again. With `sync` False the copy is
        durable only after `sync()` (one flush for a whole snapshot, not one per file)."""
        info = _regular(source)
        if isinstance(info, FileState):
            return info
        mode = stat.S_IMODE(info.st_mode)
        # Any size is kept, streamed: a placeholder would hide a change (and lose the file).
        if info.st_size <= IN_MEMORY_BYTES:
            data = source.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            if not self.has(sha):
                self._write(sha, [data], sync)
            return FileState(sha, mode)
        sha = file_sha256(source)
        if not self.has(sha):
            with open(source, "rb") as handle:
                self._write(sha, iter(lambda: handle.read(CHUNK_BYTES), b""), sync)
        return FileState(sha, mode)

    def save_bytes(self, data: bytes) -> str:
        """Keep `data` (durably); returns its sha256."""
        sha = hashlib.sha256(data).hexdigest()
        if not self.has(sha):
            self._write(sha, [data], sync=True)
        return sha

    def _write(self, sha: str, chunks: Iterable[bytes], sync: bool) -> None:
        """A new copy, whole (and synced, with `sync`) before it takes its name."""
        target = self.path(sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".incoming.", dir=target.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                if sync:
                    os.fsync(out.fileno())
            replace_with_retry(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if sync:
            fsync_dir(target.parent)
            fsync_dir(self.folder)
        else:
            self._unsynced.append(target)

    def sync(self) -> None:
        """Make the copies written with sync=False durable: one flush of the file system
        where there is one (os.sync) for many, else each file and its folder."""
        if not self._unsynced:
            return
        # A few copies are flushed one by one: os.sync() would also flush every other
        # file written lately (a command's private copy: thousands), for nothing.
        if hasattr(os, "sync") and len(self._unsynced) > FSYNC_EACH_MAX:
            os.sync()
        else:
            for path in self._unsynced:
                with open(path, "rb+") as handle:
                    os.fsync(handle.fileno())
            for folder in {path.parent for path in self._unsynced}:
                fsync_dir(folder)  # the new names too
        self._unsynced.clear()

    def load(self, sha: str) -> bytes:
        """The stored content; OSError if it is missing, ValueError if it is damaged."""
        data = self.path(sha).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha:
            raise ValueError(f"{self.path(sha)} is damaged (its content does not match its name)")
        return data


def missing_dirs(root: Path, relative: str) -> list[str]:
    """The folders a new file at `relative` would need created, outermost first."""
    parts = relative.split("/")[:-1]
    missing: list[str] = []
    for depth in range(1, len(parts) + 1):
        folder = "/".join(parts[:depth])
        if missing or not (root / unescape_name(folder)).is_dir():
            missing.append(folder)
    return missing


def keep_before(store: ObjectStore, root: Path, relative: str,
                absolute: Path | None = None) -> dict[str, Any]:
    """The fields a write or edit intent records so the change can be undone: the file's
    state before (its copy saved first), the mode it will have, the folders it needs.
    `relative` is the escaped name the ledger keeps; `absolute` the real path (its bytes
    may not be UTF-8, so the escaped name cannot stand for it on the disk)."""
    before = store.save(absolute if absolute is not None else root / relative)
    if before.exists:
        return {"before": before.to_record(), "mode": before.mode}
    return {"before": before.to_record(), "mode": new_file_mode(),
            "new_dirs": missing_dirs(root, relative)}
