"""At a real pseudo-terminal: every action and notice stays on screen as a line of its own,
and the live line, only for what is in progress, keeps counting while the probes run."""

from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

import pytest

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.offline.solvers import MathxSolver
from tests.conftest import MATHX_GOAL
from tests.enginekit import MATHX_DATA_GOAL, data_probes

if sys.platform == "win32":  # pragma: no cover - the pty module is POSIX only
    pytest.skip("pseudo-terminals (the pty module) are POSIX only", allow_module_level=True)

from tests.test_live_progress import Terminal  # noqa: E402 - imports pty


def run_argv(workspace: Path, host: str, goal: str = MATHX_GOAL, *extra: str) -> list[str]:
    return [sys.executable, "-m", "jetbox", "run", goal, "-w", str(workspace),
            "--host", host, "--sandbox", "none", *extra]


@pytest.mark.slow  # a run in a child process, on a terminal or a pipe
def test_every_action_and_notice_stays_on_screen(workspace: Path) -> None:
    (workspace / "status.txt").write_text("my own notes, not Jetbox's\n", encoding="utf-8")
    with OfflineOllama(MathxSolver(workspace)) as server:
        # What is shown is the subject: ruff and pytest are data (tests/enginekit.py).
        terminal = Terminal(run_argv(workspace, server.host, MATHX_DATA_GOAL,
                                     *data_probes(workspace)), workspace)
        code = terminal.close()
    text = terminal.seen.decode("utf-8", "replace")
    assert code == 0, text
    for kept in ("status.txt here is the project's: Jetbox keeps its files in .jetbox/",
                 "write_file mathx/__init__.py -> ok", "write_file tests/test_mathx.py -> ok",
                 "run pytest -q -> ok", "finish {", "done in round 5"):
        # Its own line: nothing after it but the line's end (a live line would be
        # overwritten by the next one's \r\x1b[K).
        assert re.search(re.escape(kept) + r"[^\r\n\x1b]*\r?\n", text), (kept, text)


@pytest.mark.slow  # a run in a child process, on a terminal or a pipe
def test_the_live_line_counts_the_seconds_of_a_slow_probe(workspace: Path) -> None:
    (workspace / "tests").mkdir()
    (workspace / "tests" / "test_slow.py").write_text(
        "import time\n\n\ndef test_slow():\n    time.sleep(4)\n", encoding="utf-8")
    slow = Turn(delay_s=60, calls=(Call("finish", {"summary": "x"}),))
    with OfflineOllama(ScriptResponder([slow])) as server:
        terminal = Terminal(run_argv(workspace, server.host), workspace)
        try:
            assert terminal.read_until(rb"waiting on gpt-oss:20b", 90), terminal.seen
            terminal.process.send_signal(signal.SIGINT)
        finally:
            terminal.close()
    text = terminal.seen.decode("utf-8", "replace")
    seconds = {int(s) for s in re.findall(r"r1 Probe: running ruff, pytest for (\d+) s", text)}
    assert {0, 1, 2, 3} <= seconds, text  # redrawn at least once a second
    assert "\r\x1b[K" in text
