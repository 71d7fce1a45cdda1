"""Windows only: a job object that kills a child's whole tree when Jetbox lets go of it.

The child is created suspended (CREATE_SUSPENDED), assigned to the job, then resumed, so
not even its first instruction runs outside the job and nothing it starts can escape.
Untested on this project's Linux CI; kept tiny so it can be read against the Win32 docs
(CreateJobObjectW, SetInformationJobObject with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
AssignProcessToJobObject; psutil resumes the process with NtResumeProcess). If Jetbox
dies, Windows closes the handle and kills the job.
"""

from __future__ import annotations

import ctypes
from ctypes import wintypes
from typing import Any

_KILL_ON_JOB_CLOSE = 0x2000
_EXTENDED_LIMIT_INFORMATION = 9
_PROCESS_ALL = 0x1F0FFF
CREATE_SUSPENDED = 0x00000004
CREATE_NEW_PROCESS_GROUP = 0x00000200
SPAWN_FLAGS = CREATE_SUSPENDED | CREATE_NEW_PROCESS_GROUP  # then assign, then resume


class _BasicLimits(ctypes.Structure):
    _fields_ = [("PerProcessUserTimeLimit", ctypes.c_int64),
                ("PerJobUserTimeLimit", ctypes.c_int64), ("LimitFlags", wintypes.DWORD),
                ("MinimumWorkingSetSize", ctypes.c_size_t),
                ("MaximumWorkingSetSize", ctypes.c_size_t), ("ActiveProcessLimit", wintypes.DWORD),
                ("Affinity", ctypes.c_size_t), ("PriorityClass", wintypes.DWORD),
                ("SchedulingClass", wintypes.DWORD)]


class _IoCounters(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
        "ReadTransferCount", "WriteTransferCount", "OtherTransferCount")]


class _ExtendedLimits(ctypes.Structure):
    _fields_ = [("BasicLimitInformation", _BasicLimits), ("IoInfo", _IoCounters),
                ("ProcessMemoryLimit", ctypes.c_size_t), ("JobMemoryLimit", ctypes.c_size_t),
                ("PeakProcessMemoryUsed", ctypes.c_size_t),
                ("PeakJobMemoryUsed", ctypes.c_size_t)]


class KillOnCloseJob:
    """Holds the job handle; close() (or Jetbox's death) kills every process in it."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    @classmethod
    def attach(cls, pid: int) -> KillOnCloseJob | None:
        """Put the (suspended) process in a new kill-on-close job; None if Windows refuses,
        and then taskkill /T is what ends the tree."""
        # ctypes.windll exists only on Windows, and mypy elsewhere does not know it.
        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        job = kernel32.CreateJobObjectW(None, None)
        if not job:
            return None
        limits = _ExtendedLimits()
        limits.BasicLimitInformation.LimitFlags = _KILL_ON_JOB_CLOSE
        kernel32.SetInformationJobObject(job, _EXTENDED_LIMIT_INFORMATION,
                                         ctypes.byref(limits), ctypes.sizeof(limits))
        process = kernel32.OpenProcess(_PROCESS_ALL, False, pid)
        assigned = bool(process) and bool(kernel32.AssignProcessToJobObject(job, process))
        if process:
            kernel32.CloseHandle(process)
        if not assigned:
            kernel32.CloseHandle(job)
            return None
        return cls(job)

    @staticmethod
    def resume(pid: int) -> None:
        """Let the suspended child run (CREATE_SUSPENDED left its first thread waiting)."""
        import psutil

        psutil.Process(pid).resume()

    def close(self) -> None:
        ctypes.windll.kernel32.CloseHandle(self.handle)  # type: ignore[attr-defined]  # as above
