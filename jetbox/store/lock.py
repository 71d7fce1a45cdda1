"""One run per workspace: a lock file naming its owner, taken over when the owner is dead.

The lock never exists without its owner: the owner is written to a temporary file first,
which is then hard-linked under the lock's name (the link fails if the name exists, so
exactly one of many contenders wins). A stale lock is removed only under a short-lived
`.takeover` guard taken the same way, after checking that the lock is still the very one
judged stale; then the contenders race for the lock again, and again exactly one wins.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
import uuid
from pathlib import Path
from types import TracebackType

from jetbox.core.errors import JetboxError
from jetbox.core.fsutil import read_bounded

MAX_PID = 2**31 - 1
MAX_LOCK_BYTES = 64 << 10  # a lock is a few hundred bytes of JSON
GUARD_STALE_S = 10.0  # a takeover takes milliseconds; a guard this old was left by a crash
START_TOLERANCE_S = 0.01  # create_time is derived from boot time and clock ticks
ATTEMPTS = 200        # each waits a few milliseconds when another process is taking over


class WorkspaceBusy(JetboxError):
    """Another Jetbox is running in this workspace."""


def pid_alive(pid: int) -> bool:
    """Whether a process with this id is running, on every OS (psutil). A zombie has
    ended; a process we may not inspect (AccessDenied) exists, so it counts as alive."""
    import psutil

    if pid <= 0 or pid > MAX_PID:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


def process_start(pid: int) -> float | None:
    """When the process started (seconds since the epoch), which a reused pid changes;
    None where the OS will not say."""
    import psutil

    try:
        return round(psutil.Process(pid).create_time(), 3)
    except (psutil.Error, OSError, ValueError):
        return None


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return None


def new_owner() -> dict[str, object]:
    """This process, described well enough to tell it from a later one with the same pid."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
            "started": process_start(os.getpid()), "boot": _boot_id(),
            "token": uuid.uuid4().hex}


def parse_owner(data: bytes) -> dict[str, object] | None:
    """The owner a lock file names, or None when the file is not a lock Jetbox wrote."""
    try:
        owner = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(owner, dict):
        return None
    pid = owner.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid <= MAX_PID:
        return None
    return owner


def owner_alive(owner: dict[str, object]) -> bool:
    """Whether the process the lock names is still the one that wrote it."""
    pid = owner["pid"]
    assert isinstance(pid, int), "parse_owner admits only an owner with an integer pid"
    if not pid_alive(pid):
        return False
    boot = owner.get("boot")
    if boot and _boot_id() not in (None, boot):
        return False  # the machine restarted since: the pid belongs to someone else
    started = owner.get("started")
    now = process_start(pid)
    if not isinstance(started, int | float) or isinstance(started, bool) or now is None:
        return True  # nothing to compare: the live pid is taken at its word
    return abs(started - now) < START_TOLERANCE_S


def _link_exclusive(content: bytes, target: Path) -> bool:
    """Put `content` at `target` only if nothing is there; True when this call placed it."""
    temp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temp, "xb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, target)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: an exclusive create instead
            return _create_exclusive(content, target)
        return True
    except PermissionError as exc:
        raise WorkspaceBusy(f"cannot create the lock {target}: {exc.strerror}; the workspace "
                            f"must be writable") from None
    finally:
        temp.unlink(missing_ok=True)


def _create_exclusive(content: bytes, target: Path) -> bool:
    try:
        fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    return True


def _read(path: Path) -> bytes | None:
    """The lock's bytes; None when it vanished meanwhile. Only a regular file is read: a
    FIFO put there would block every start."""
    try:
        return read_bounded(path, MAX_LOCK_BYTES)[0]
    except FileNotFoundError:
        return None
    except PermissionError:
        if path.is_dir():  # Windows says "permission denied" for a folder
            raise WorkspaceBusy(f"{path} is a folder, not Jetbox's lock; remove it and run "
                                f"again") from None
        raise WorkspaceBusy(f"cannot read the lock {path}; check its permissions") from None
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        what = "a folder" if path.is_dir() else "not a regular file (a FIFO, a device?)"
        raise WorkspaceBusy(f"{path} is {what}, not Jetbox's lock; remove it and run "
                            f"again") from None


class WorkspaceLock:
    """Held for the whole of `jetbox run`; `with WorkspaceLock(path):`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.guard = path.with_name(path.name + ".takeover")
        self.owner: dict[str, object] = {}
        self.took_over: dict[str, object] | None = None  # the stale owner, if any

    def __enter__(self) -> WorkspaceLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def acquire(self) -> None:
        owner = new_owner()
        content = json.dumps(owner).encode("utf-8")
        for _ in range(ATTEMPTS):
            if _link_exclusive(content, self.path):
                self.owner = owner
                return
            seen = _read(self.path)
            if seen is not None:
                self._check_stale(seen)  # raises WorkspaceBusy when a live Jetbox holds it
                self._remove_stale(seen)
        raise WorkspaceBusy(f"another Jetbox keeps taking the lock {self.path}; wait for it "
                            f"to finish or stop it first")

    def describe_takeover(self) -> str:
        """What was taken over, for the run's event line."""
        owner = self.took_over or {}
        if "damaged" in owner:
            return f"took over a damaged lock ({owner['damaged']})"
        return f"took over a stale lock from pid {owner.get('pid')}"

    def _check_stale(self, seen: bytes) -> None:
        owner = parse_owner(seen)
        if owner is None:
            return  # not a lock Jetbox wrote (Jetbox's own never exist half-written)
        pid, host = owner["pid"], owner.get("host")
        if host not in (None, socket.gethostname()):
            raise WorkspaceBusy(f"{self.path.parent} is locked by a Jetbox on host {host} "
                                f"(pid {pid}); if it is not running, delete {self.path}")
        if pid != os.getpid() and owner_alive(owner):
            raise WorkspaceBusy(f"another Jetbox (pid {pid}) is running in {self.path.parent}; "
                                f"wait for it to finish or stop it first")

    def _remove_stale(self, seen: bytes) -> None:
        """Delete the stale lock, if it is still the one judged stale, under the guard."""
        guard_owner = json.dumps(new_owner()).encode("utf-8")
        if not _link_exclusive(guard_owner, self.guard):
            self._clear_stale_guard()
            time.sleep(0.005)  # another process is taking over: let it finish
            return
        try:
            if _read(self.path) == seen:
                self.path.unlink(missing_ok=True)
                owner = parse_owner(seen)
                self.took_over = owner if owner is not None else \
                    {"damaged": seen[:60].decode("utf-8", "backslashreplace") or "empty"}
        finally:
            self.guard.unlink(missing_ok=True)

    def _clear_stale_guard(self) -> None:
        """A guard left by a process that died mid-takeover; moved aside and re-checked, so a
        fresh guard that replaced it meanwhile is put back, never deleted."""
        data = _read(self.guard)
        if data is None:
            return
        owner = parse_owner(data)
        try:
            age = time.time() - self.guard.stat().st_mtime
        except OSError:
            return
        if age < GUARD_STALE_S and (owner is None or owner_alive(owner)):
            return
        aside = self.guard.with_name(f"{self.guard.name}.{uuid.uuid4().hex}.stale")
        try:
            os.replace(self.guard, aside)
        except OSError:
            return
        if aside.read_bytes() != data:
            try:
                os.link(aside, self.guard)
            except OSError:
                pass
        aside.unlink(missing_ok=True)

    def release(self) -> None:
        try:
            data = _read(self.path)
        except WorkspaceBusy:
            return
        owner = parse_owner(data or b"")
        if owner is not None and self.owner and owner.get("token") == self.owner.get("token"):
            self.path.unlink(missing_ok=True)
