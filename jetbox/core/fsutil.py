"""Atomic file replacement that survives crashes on Linux and Windows, and bounded reads."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from jetbox.core.errors import ConfigError

# Antivirus scanners and indexers on Windows briefly hold files open, which makes
# os.replace fail with PermissionError; a few short retries ride that out.
_REPLACE_RETRIES = 10
_REPLACE_DELAY_S = 0.05
MAX_CONFIG_BYTES = 8 << 20  # no configuration file is larger; a sparse 100 GB one is refused
_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask (reading it means setting it; the lock keeps that brief)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def file_mode(path: Path) -> int | None:
    """The permission bits of the file at `path`, or None when there is none."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def _regular_stat(path: Path) -> os.stat_result | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info if stat.S_ISREG(info.st_mode) else None


def _keep_owner(tmp: Path, old: os.stat_result | None) -> None:
    if old is None or (old.st_uid, old.st_gid) == (os.getuid(), os.getgid()):
        return
    try:
        os.chown(tmp, old.st_uid, old.st_gid)
    except OSError:  # not root, and not the owner's group: the OS does not allow it
        return


def new_file_mode() -> int:
    """The mode a person's editor gives a new file: 0666 less the umask."""
    return 0o666 & ~current_umask()


def atomic_write_bytes(path: Path, data: bytes, mode: int | None = None,
                       durable: bool = True) -> None:
    """Replace `path` with `data` so a reader sees either the old or the new file, and with
    `durable`, on disk (fsync) before this returns, so a power cut cannot undo it.

    The file keeps its mode (an executable script stays executable); a new one gets the
    umask's (mkstemp's 0600 would hide it from a person's group); `mode` overrides both.
    It keeps its owner where the OS allows (run as root, a file of another user stays
    theirs). A hard link is never written through (the name gets a file of its own): a
    command could have linked a file outside the workspace to this name; write_in_place
    is for a file whose every link is known."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old = _regular_stat(path)
    wanted = mode if mode is not None else file_mode(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        if os.name != "nt":  # Windows keeps only a read-only flag, which mkstemp leaves off
            _keep_owner(tmp, old)  # first: a chown clears set-id bits the chmod sets
            os.chmod(tmp, new_file_mode() if wanted is None else wanted)
        replace_with_retry(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def write_in_place(path: Path, data: bytes, original: Path, expected: os.stat_result,
                   durable: bool = True) -> None:
    """Write `data` into the file at `path` itself, so every hard link to it sees it (a
    replace would give this name a new file and leave the other names the old one).

    Only for a file whose every name the caller may write (see tools/hardlinks.py). Not
    atomic, so made as safe as it can be: the file opened is checked to be `expected` (the
    file whose links were counted, never a link or a file put there since); the whole new
    content is written before the file is cut to its length, then synced; a failure
    part-way writes `original` (a copy of the old content) back the same way, then raises."""
    flags = os.O_WRONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or \
                (info.st_dev, info.st_ino) != (expected.st_dev, expected.st_ino):
            raise OSError(errno.ESTALE, "the file changed while it was being written", str(path))
        try:
            _fill(fd, [data], durable)
        except OSError as exc:
            try:
                with open(original, "rb") as copy:
                    _fill(fd, iter(lambda: copy.read(1 << 20), b""), durable=True)
            except OSError:
                raise OSError(exc.errno, f"{exc.strerror or exc}; its old content could not "
                              f"be put back either: a copy is in {original}", str(path)) from exc
            raise
    finally:
        os.close(fd)


def _fill(fd: int, chunks: Iterable[bytes], durable: bool) -> None:
    """The open file's whole content becomes `chunks`: written from its start, then cut."""
    os.lseek(fd, 0, os.SEEK_SET)
    size = 0
    for chunk in chunks:
        view = memoryview(chunk)
        while view:  # os.write may write less than it was given
            written = os.write(fd, view)
            view = view[written:]
            size += written
    os.ftruncate(fd, size)
    if durable:
        os.fsync(fd)


def atomic_write_text(path: Path, text: str, durable: bool = True) -> None:
    """Text version of atomic_write_bytes; always UTF-8, newlines kept as given."""
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


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
    """At most `max_bytes` of a regular file, and the size it claims.

    The read is bounded by `max_bytes`, never by the claimed size: a 100 GB sparse file
    or a file that grows while read costs max_bytes of memory. Non-regular files (a FIFO
    would block forever, /dev/zero never ends) raise OSError instead of being read.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):  # never opened: a device may act on open
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        chunks: list[bytes] = []
        remaining = max(max_bytes, 0)
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks), info.st_size
    finally:
        os.close(fd)


def read_config(path: Path, what: str, max_bytes: int = MAX_CONFIG_BYTES) -> bytes | None:
    """A file Jetbox reads before it trusts anything (pyproject.toml, machine.yaml, a venv's
    pyvenv.cfg, .gitignore); None when there is none. What is not a regular file (a FIFO
    would block every start, --fresh included) is a ConfigError naming it, as is a file
    too large or unreadable: never a hang, never silently skipped."""
    try:
        data, size = read_bounded(path, max_bytes)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            raise ConfigError(f"{path} is not a regular file (a folder, a FIFO, a device or a "
                              f"socket); Jetbox reads it as {what}: replace it with a plain "
                              f"file or remove it, then run again") from None
        raise ConfigError(f"cannot read {path} ({exc.strerror or exc}), which Jetbox reads "
                          f"as {what}; fix its permissions, then run again") from None
    if size > max_bytes:
        raise ConfigError(f"{path} is {size} bytes, more than the {max_bytes} Jetbox reads "
                          f"as {what}")
    return data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


SMALL_COPY_BYTES = 1 << 20  # up to this, a copy is one read and one write (copy_new)


def copy_new(source: Path, target: Path, mode: int) -> os.stat_result:
    """A new file at `target` (never an existing one) with `source`'s content and `mode`;
    returns its stat. A small file is read and written whole: copyfile and a chmod cost
    2.5x as much per file, and a scratch tree has thousands."""
    if os.path.getsize(source) > SMALL_COPY_BYTES:
        import shutil

        shutil.copyfile(source, target)
        os.chmod(target, mode)
        return os.stat(target)
    data = source.read_bytes()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                 mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if hasattr(os, "fchmod"):  # the umask took bits off; Windows has no fchmod
            os.fchmod(fd, mode)
        return os.fstat(fd)
    finally:
        os.close(fd)
