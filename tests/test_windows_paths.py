"""The Windows code paths that can run on any OS: how a child is spawned (suspended, then
put in its job), and when a console may redraw a line in place. What needs a real Windows
is listed in docs/windows.md."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys

from jetbox.core.console import can_redraw
from jetbox.core.display import Display
from jetbox.exec import process, winjob


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_windows_child_starts_suspended_in_a_new_process_group() -> None:
    options = process._spawn_options("win32")
    flags = options["creationflags"]
    assert flags & winjob.CREATE_SUSPENDED and flags & winjob.CREATE_NEW_PROCESS_GROUP
    assert (winjob.CREATE_SUSPENDED, winjob.CREATE_NEW_PROCESS_GROUP) == (0x4, 0x200)
    # POSIX-only options would make Popen fail on Windows.
    assert "preexec_fn" not in options and "start_new_session" not in options


def test_a_posix_child_gets_a_session_of_its_own() -> None:
    options = process._spawn_options("linux")
    assert options["start_new_session"] is True and callable(options["preexec_fn"])


def test_no_job_is_made_off_windows() -> None:
    if os.name == "nt":
        return  # on Windows the job is real; tests/test_process.py runs children there
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        assert process._windows_job(child) is None
    finally:
        child.wait()


def test_a_console_that_cannot_switch_on_vt_mode_gets_plain_lines() -> None:
    """Here there is no Windows console API: the switch fails, so no `\\r\\x1b[K`."""
    assert can_redraw(FakeTerminal(), platform="win32") is False
    assert can_redraw(FakeTerminal(), platform="linux") is True
    assert can_redraw(io.StringIO(), platform="linux") is False


def test_a_real_pseudo_terminal_redraws_and_a_closed_stream_does_not() -> None:
    if os.name == "nt":
        return  # no pty on Windows; the VT switch above is what applies there
    import pty

    master, slave = pty.openpty()
    with open(slave, "w", closefd=True) as stream:
        assert can_redraw(stream)
    os.close(master)
    closed = io.StringIO()
    closed.close()
    assert can_redraw(closed) is False


def test_display_without_redraw_prints_each_event_on_its_own_line() -> None:
    stream = io.StringIO()
    display = Display(logging.getLogger("test.windows"), stream)
    display.event("one", 1, "Probe")
    display.progress("waiting on the model")
    display.event("two", 1, "Act")
    assert "\x1b" not in stream.getvalue() and len(stream.getvalue().splitlines()) == 2
