"""Copies of the person's files as they were before a run changed them, stored by content
(.jetbox/objects/<sha256>), so `jetbox diff` and `jetbox undo` can show and restore them.
A copy is durable before the change it protects is journaled."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetbox.core.fsutil import fsync_dir, new_file_mode, replace_with_retry
from jetbox.store.workspace import OBJECTS_DIR, STATE_DIR

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class FileState:
    """A path's content and mode at one moment; `sha256` None means no file there."""

    sha256: str | None
    mode: int | None = None

    @property
    def exists(self) -> bool:
        return self.sha256 is not None

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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def state_of(path: Path) -> FileState:
    """What is at `path` now: a regular file's digest and mode, or ABSENT. A folder or a
    link there is reported as a digest no file has, so it never matches a recorded state."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return ABSENT
    if not stat.S_ISREG(info.st_mode):
        return FileState("not-a-file", stat.S_IMODE(info.st_mode))
    return FileState(file_sha256(path), stat.S_IMODE(info.st_mode))


class ObjectStore:
    """Content-addressed copies: written once, never changed, read back verified."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def of(cls, root: Path) -> ObjectStore:
        """The workspace's store: .jetbox/objects, wherever its state files are."""
        return cls(root / STATE_DIR / OBJECTS_DIR)

    def path(self, sha: str) -> Path:
        return self.folder / sha

    def has(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def save(self, source: Path) -> FileState:
        """Copy the file at `source` in (durably) and return its state; ABSENT if none."""
        try:
            info = os.lstat(source)
        except FileNotFoundError:
            return ABSENT
        if not stat.S_ISREG(info.st_mode):
            return FileState("not-a-file", stat.S_IMODE(info.st_mode))
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".incoming.", dir=self.folder)
        tmp = Path(tmp_name)
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as handle:
                while chunk := handle.read(CHUNK_BYTES):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            if self.has(sha):
                tmp.unlink()
            else:
                replace_with_retry(tmp, self.path(sha))
                fsync_dir(self.folder)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return FileState(sha, stat.S_IMODE(info.st_mode))

    def load(self, sha: str) -> bytes:
        """The stored content; OSError if it is missing, ValueError if it is damaged."""
        data = self.path(sha).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha:
            raise ValueError(f"{self.path(sha)} is damaged (its content does not match its name)")
        return data


def missing_dirs(root: Path, relative: str) -> list[str]:
    """The folders a new file at `relative` would need created, outermost first."""
    parts = relative.split("/")[:-1]
    missing = []
    for depth in range(1, len(parts) + 1):
        folder = "/".join(parts[:depth])
        if missing or not (root / folder).is_dir():
            missing.append(folder)
    return missing


def keep_before(store: ObjectStore, root: Path, relative: str) -> dict[str, Any]:
    """The fields a write or edit intent records so the change can be undone: the file's
    state before (its copy saved first), the mode it will have, the folders it needs."""
    before = store.save(root / relative)
    if before.exists:
        return {"before": before.to_record(), "mode": before.mode}
    return {"before": before.to_record(), "mode": new_file_mode(),
            "new_dirs": missing_dirs(root, relative)}
