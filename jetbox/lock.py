"""One run per workspace: a lock file naming its owner, taken over when the owner is dead."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from jetbox.errors import JetboxError


class WorkspaceBusy(JetboxError):
    """Another Jetbox is running in this workspace."""


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (POSIX: signal 0; Windows: OpenProcess)."""
    if pid <= 0:
        return False
    if os.name == "nt":
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is just not ours
    return True


def _windows_pid_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


class WorkspaceLock:
    """Held for the whole of `jetbox run`; `with WorkspaceLock(path):`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.took_over: dict[str, object] | None = None  # the stale owner, if any

    def __enter__(self) -> WorkspaceLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def acquire(self) -> None:
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._break_if_stale()
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(owner, handle)
            return
        raise WorkspaceBusy(f"{self.path.parent} is locked by another Jetbox ({self.path})")

    def _break_if_stale(self) -> None:
        try:
            owner = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            owner = {}
        pid, host = int(owner.get("pid", 0) or 0), owner.get("host")
        if host not in (None, socket.gethostname()):
            raise WorkspaceBusy(f"{self.path.parent} is locked by a Jetbox on host {host} "
                                f"(pid {pid}); if it is not running, delete {self.path}")
        if pid and pid_alive(pid) and pid != os.getpid():
            raise WorkspaceBusy(f"another Jetbox (pid {pid}) is running in {self.path.parent}; "
                                f"wait for it to finish or stop it first")
        self.took_over = owner
        self.path.unlink(missing_ok=True)

    def release(self) -> None:
        try:
            owner = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if owner.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)
