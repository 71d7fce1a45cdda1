"""What a person sees on a terminal while Jetbox waits on the model, through a real
pseudo-terminal: a live line that updates at least once a second, and the lines that must
stay in the scrollback (start, resume, interruption)."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from tests.conftest import MATHX_GOAL, ROOT

if sys.platform == "win32":  # pragma: no cover - the pty module is POSIX only
    print("SKIP: pseudo-terminals (the pty module) are POSIX only")
    pytest.skip("pseudo-terminals (the pty module) are POSIX only", allow_module_level=True)

import pty  # noqa: E402 - after the platform check on purpose

pytestmark = pytest.mark.slow


class Terminal:
    """A child process whose stdin, stdout and stderr are a pseudo-terminal."""

    def __init__(self, argv: list[str], cwd: Path, term: str = "xterm") -> None:
        self.master, slave = pty.openpty()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "TERM": term}
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=slave, stdout=slave,
                                        stderr=slave, close_fds=True)
        os.close(slave)
        self.seen = b""

    def read_until(self, pattern: bytes, timeout_s: float) -> bool:
        ends = time.monotonic() + timeout_s
        while not re.search(pattern, self.seen) and time.monotonic() < ends:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:  # the child closed the terminal
                    break
        return bool(re.search(pattern, self.seen))

    def close(self) -> int:
        self.read_until(rb"(?!)", 20)  # a pattern that never matches: read until EOF
        code = self.process.wait(timeout=30)
        os.close(self.master)
        return code


def test_waiting_on_the_model_updates_live_then_ctrl_c_stays_on_screen(
        workspace: Path) -> None:
    slow = Turn(delay_s=60, calls=(Call("finish", {"summary": "x"}),))
    with OfflineOllama(ScriptResponder([slow])) as server:
        terminal = Terminal([sys.executable, "-m", "jetbox", "run", MATHX_GOAL, "-w",
                             str(workspace), "--host", server.host, "--sandbox", "none"],
                            workspace)
        try:
            assert terminal.read_until(rb"waiting on gpt-oss:20b for 3 s", 60), terminal.seen
            terminal.process.send_signal(signal.SIGINT)
        finally:
            code = terminal.close()
    text = terminal.seen.decode("utf-8", "replace")
    seconds = [int(s) for s in re.findall(r"waiting on gpt-oss:20b for (\d+) s", text)]
    assert {0, 1, 2, 3} <= set(seconds)  # at least once a second
    assert "loading the model or reading the prompt" in text
    assert "\r\x1b[K" in text  # updated in place
    # The start line and the interruption stay: each ends with a newline of its own.
    assert re.search(r"starting at Probe, round 1;[^\r\n]*\r?\n", text)
    assert re.search(r"interrupted \(Ctrl-C\); run the same command again to resume\r?\n", text)
    assert code == 130


def test_resume_line_stays_in_the_scrollback(workspace: Path) -> None:
    turns = [Turn(calls=(Call("write_file", {"path": "a.txt", "content": "a\n"}),))] * 3
    with OfflineOllama(ScriptResponder(turns)) as server:
        argv = [sys.executable, "-m", "jetbox", "run", MATHX_GOAL, "-w", str(workspace),
                "--host", server.host, "--sandbox", "none", "--max-rounds", "1"]
        first = Terminal(argv, workspace)
        assert first.close() == 3
        second = Terminal(argv[:4] + argv[5:], workspace)  # no goal: resume
        assert second.close() == 3
    text = second.seen.decode("utf-8", "replace")
    assert re.search(r"resuming at Probe, round 2;[^\r\n]*\r?\n", text), text
    assert re.search(r"paused: round limit[^\r\n]*run the same command again to resume\r?\n",
                     text), text
