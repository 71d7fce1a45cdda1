"""Whether a terminal can redraw a line in place (`\\r\\x1b[K`). POSIX terminals can;
a Windows console can once virtual-terminal processing is switched on, which Windows 10
and later allow; where it cannot be switched on, Jetbox prints plain lines instead."""

from __future__ import annotations

import os
import sys
from typing import TextIO

ENABLE_VIRTUAL_TERMINAL_PROCESSING = 0x0004


def can_redraw(stream: TextIO, platform: str = sys.platform) -> bool:
    """True when `stream` is a terminal that understands `\\r\\x1b[K`."""
    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
    if os.environ.get("TERM") == "dumb":  # Emacs shells, some CI logs: plain lines only
        return False
    if platform != "win32":
        return True
    return _enable_windows_vt(stream)


def _enable_windows_vt(stream: TextIO) -> bool:
    """Switch on ENABLE_VIRTUAL_TERMINAL_PROCESSING for the console behind `stream`;
    False when it is not a console or Windows refuses (older than Windows 10)."""
    try:
        import ctypes
        import msvcrt

        # ctypes.windll and msvcrt's Windows API exist only on Windows; mypy elsewhere does
        # not know them.
        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = msvcrt.get_osfhandle(stream.fileno())  # type: ignore[attr-defined]
    except (ImportError, AttributeError, OSError, ValueError):
        return False
    mode = ctypes.c_uint32()
    if not kernel32.GetConsoleMode(handle, ctypes.byref(mode)):
        return False
    if mode.value & ENABLE_VIRTUAL_TERMINAL_PROCESSING:
        return True
    return bool(kernel32.SetConsoleMode(handle, mode.value | ENABLE_VIRTUAL_TERMINAL_PROCESSING))


class ClosedPipeSafe:
    """A text stream whose reader may go away (`jetbox run ... | head`): from the first
    write that finds the pipe closed, output goes nowhere, quietly, and the work goes on,
    as git's does. The file descriptor is pointed at the null device too, so the
    interpreter's last flush at exit neither fails nor prints "Exception ignored"."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                self.stream.write(text)
            except (BrokenPipeError, ValueError):  # ValueError: already closed
                self._went_away()
        return len(text)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                self.stream.flush()
            except (BrokenPipeError, ValueError):
                self._went_away()

    def isatty(self) -> bool:
        return not self.reader_gone and self.stream.isatty()

    def __getattr__(self, name: str) -> object:  # fileno, encoding, ... as the stream's
        return getattr(self.stream, name)

    def _went_away(self) -> None:
        self.reader_gone = True
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self.stream.fileno())
            os.close(null)
        except (OSError, ValueError, AttributeError):  # no descriptor (a StringIO)
            pass
