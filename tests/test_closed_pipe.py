"""A reader that closes the pipe (`| head`) ends Jetbox's output quietly, as git's, and
never stops the work: real pipes, real child processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jetbox.offline import OfflineOllama
from jetbox.offline.solvers import MathxSolver
from tests.conftest import ROOT, status_fields
from tests.enginekit import MATHX_DATA_GOAL, data_probes


def child_env() -> dict[str, str]:
    """The environment as the test sees it (tests/conftest.py isolated_env: its own HOME
    and config folder, no installed pytest plugins), not as it was at import."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def jetbox_into_closed_pipe(*argv: str, lines_read: int) -> tuple[int, bytes]:
    """`jetbox ARGV 2>&1 | head -LINES_READ`: the reader reads that many lines, then
    closes its end while Jetbox still writes."""
    child = subprocess.Popen([sys.executable, "-m", "jetbox", *argv], env=child_env(),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    assert child.stdout is not None
    seen = b"".join(child.stdout.readline() for _ in range(lines_read))
    child.stdout.close()  # as head does once it has its lines
    return child.wait(timeout=300), seen


@pytest.mark.slow  # a run in a child process, on a terminal or a pipe
def test_a_run_piped_into_head_finishes_its_work(workspace: Path) -> None:
    with OfflineOllama(MathxSolver(workspace)) as server:
        code, seen = jetbox_into_closed_pipe("run", MATHX_DATA_GOAL, "-w", str(workspace),
                                             "--host", server.host, "--sandbox", "none",
                                             *data_probes(workspace),
                                             lines_read=2)
    assert b"starting at Probe" in seen
    status = status_fields(workspace)
    assert "internal error" not in status["Status"], status
    assert not status["Status"].startswith("red"), status
    assert status["State"] == "Done", status  # the work went on with nobody reading
    assert code == 0
    assert "BrokenPipe" not in (workspace / "agent.log").read_text(encoding="utf-8")


def test_status_into_a_closed_pipe_is_quiet(workspace: Path) -> None:
    (workspace / "status.txt").write_text("Goal: g\nStatus: green\n" + "Notes: x\n" * 5000,
                                          encoding="utf-8")
    read, write = os.pipe()
    os.close(read)  # `| head -0`: nobody reads at all
    err_read, err_write = os.pipe()
    child = subprocess.Popen([sys.executable, "-m", "jetbox", "status", "-w", str(workspace)],
                             env=child_env(), stdin=subprocess.DEVNULL, stdout=write,
                             stderr=err_write)
    os.close(write)
    os.close(err_write)
    with os.fdopen(err_read, "rb") as err:
        said = err.read()
    assert child.wait(timeout=60) == 0
    assert said == b""  # no "cannot use: Broken pipe", no "Exception ignored"
