"""Atomic file replacement that survives crashes on Linux and Windows."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

# Antivirus scanners and indexers on Windows briefly hold files open, which makes
# os.replace fail with PermissionError; a few short retries ride that out.
_REPLACE_RETRIES = 10
_REPLACE_DELAY_S = 0.05


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so a reader sees either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        replace_with_retry(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """Text version of atomic_write_bytes; always UTF-8, newlines kept as given."""
    atomic_write_bytes(path, text.encode("utf-8"))


def replace_with_retry(src: Path, dst: Path) -> None:
    """os.replace, retried briefly when another process holds the target (Windows)."""
    for attempt in range(_REPLACE_RETRIES):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if os.name != "nt" or attempt == _REPLACE_RETRIES - 1:
                raise
            time.sleep(_REPLACE_DELAY_S * (attempt + 1))


def fsync_dir(folder: Path) -> None:
    """Make a rename durable; Windows cannot open folders, and does not need it."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_bounded(path: Path, max_bytes: int) -> tuple[bytes, int]:
    """At most max_bytes of a file, and its size: a sparse 100 GB file costs max_bytes."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        return handle.read(max_bytes), size


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
