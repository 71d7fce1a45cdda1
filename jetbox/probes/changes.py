"""Has the project changed? A digest of every project file's content, kept cheap by a cache
keyed on each file's stat. ctime is in the key because no command can set it back (os.utime
sets only mtime and atime), so an edit that restores the mtime is still seen."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from jetbox.exec.files import project_files

_CHUNK = 1 << 20
# A larger file (data, a sparse file the model made) is known by its stat, not its content:
# reading 100 GB each round would stall every probe.
MAX_HASHED_BYTES = 64 << 20


def _stat_key(path: str) -> tuple[int, ...] | None:
    """None for what is neither a regular file nor a symlink (deleted, a folder, a
    submodule, a FIFO). A symlink is never followed: its target may be outside the
    project, or endless (/proc/self/pagemap claims 0 bytes and never ends)."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev,
            int(stat.S_ISLNK(info.st_mode)))


def file_digest(path: str) -> str:
    """A link's target text, or at most MAX_HASHED_BYTES of a regular file, whatever its
    size claims; anything else is never opened (O_NONBLOCK: a FIFO swapped in after the
    stat fails the check below instead of blocking)."""
    if os.path.islink(path):
        try:
            return "link:" + os.readlink(path)
        except OSError as exc:
            return f"unreadable:{exc.errno}"
    digest = hashlib.sha256()
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0) \
        | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
        with open(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return "not a regular file"
            left = MAX_HASHED_BYTES
            while left > 0 and (chunk := handle.read(min(_CHUNK, left))):
                digest.update(chunk)
                left -= len(chunk)
    except OSError as exc:
        return f"unreadable:{exc.errno}"
    return digest.hexdigest()


@dataclass
class ChangeDetector:
    """Digests of the project's files; a file is read again only when its stat changed."""

    root: Path
    _cache: dict[str, tuple[tuple[int, ...], str]] = field(default_factory=dict)
    files_hashed: int = 0  # files read since creation: what a no-change round avoids

    def snapshot(self) -> tuple[list[str], str]:
        """The project's files and one digest of all their names and contents."""
        base = os.path.join(str(self.root), "")
        total = hashlib.sha256()
        cache: dict[str, tuple[tuple[int, ...], str]] = {}
        files = []
        for rel in project_files(self.root):
            key = _stat_key(base + rel)
            if key is None:
                continue
            known = self._cache.get(rel)
            if known is not None and known[0] == key:
                digest = known[1]
            elif key[0] > MAX_HASHED_BYTES:  # its stat stands in: ctime cannot be set back
                digest = f"stat:{key}"
            else:
                digest = file_digest(base + rel)
                self.files_hashed += 1
            cache[rel] = (key, digest)
            files.append(rel)
            total.update(f"{rel}\0{digest}\n".encode("utf-8", "surrogateescape"))
        self._cache = cache
        return files, total.hexdigest()[:32]

    def digests(self) -> dict[str, str]:
        """Each file's digest as of the last snapshot."""
        return {rel: digest for rel, (_, digest) in self._cache.items()}


def fingerprint(root: Path) -> str:
    """One-off digest of the project (no cache)."""
    return ChangeDetector(root).snapshot()[1]

