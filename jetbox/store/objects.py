"""Copies of the person's files as they were before a run changed them, stored by content
(.jetbox/objects/<2 hex>/<sha256>), so `jetbox diff` and `jetbox undo` can show and restore them.
A copy is durable before the change it protects is journaled."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetbox.core.fsutil import fsync_dir, new_file_mode, replace_with_retry
from jetbox.core.text import unescape_name
from jetbox.store.workspace import OBJECTS_DIR, STATE_DIR

CHUNK_BYTES = 1 << 20
ZERO_CHUNK = bytes(CHUNK_BYTES)
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


def read_chunks(path: Path) -> Iterator[bytes | bytearray]:
    """The file's bytes, CHUNK_BYTES at a time, read into one buffer that is reused: each
    piece is valid until the next is read (read() made a new 1 MiB object each time, at a
    tenth of the speed). A hole in a sparse file (a disk image) is not read but given as
    ZERO_CHUNK, where the OS says where data is (SEEK_DATA): the first read of a hole makes
    the OS fill memory with zeros, at 0.4 GB/s."""
    buffer = bytearray(CHUNK_BYTES)
    with open(path, "rb", buffering=0) as handle:
        data_at = 0  # no data before this offset: what lies before it is a hole
        while True:
            at = handle.tell()
            if data_at <= at:
                data_at = _next_data(handle.fileno(), at)
            if data_at - at >= CHUNK_BYTES:
                handle.seek(CHUNK_BYTES, os.SEEK_CUR)
                yield ZERO_CHUNK
                continue
            count = handle.readinto(buffer)
            if not count:
                return
            yield buffer if count == CHUNK_BYTES else bytes(buffer[:count])


def _next_data(fd: int, at: int) -> int:
    """Where the file's next data starts at or after `at` (its end if only a hole is left);
    `at` itself where the OS cannot say (Windows, a file system without holes)."""
    seek_data = getattr(os, "SEEK_DATA", None)
    if seek_data is None:
        return at
    try:
        return os.lseek(fd, at, seek_data)
    except OSError as exc:  # ENXIO: nothing but a hole from `at` to the end
        return os.fstat(fd).st_size if exc.errno == errno.ENXIO else at
    finally:
        os.lseek(fd, at, os.SEEK_SET)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for chunk in read_chunks(path):
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
            self._write(sha, read_chunks(source), sync)
        return FileState(sha, mode)

    def save_bytes(self, data: bytes) -> str:
        """Keep `data` (durably); returns its sha256."""
        sha = hashlib.sha256(data).hexdigest()
        if not self.has(sha):
            self._write(sha, [data], sync=True)
        return sha

    def _write(self, sha: str, chunks: Iterable[bytes | bytearray], sync: bool) -> None:
        """A new copy, whole (and synced, with `sync`) before it takes its name."""
        target = self.path(sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".incoming.", dir=target.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    # A whole chunk of zeros is skipped, not written: a sparse file (a disk
                    # image) is kept as sparse as it is, not as gigabytes of written zeros.
                    if chunk == ZERO_CHUNK:
                        out.seek(len(chunk), os.SEEK_CUR)
                    else:
                        out.write(chunk)
                out.truncate()  # the length a trailing hole gives, where the writes end
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
