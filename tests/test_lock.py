"""One run per workspace: a live owner refuses a second run, a dead one is taken over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jetbox.lock import WorkspaceBusy, WorkspaceLock
from jetbox.testing import OfflineOllama
from tests.conftest import MATHX_GOAL, jetbox_process, run_cli


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_second_run_on_a_busy_workspace_is_refused(workspace: Path,
                                                   mathx_server: OfflineOllama) -> None:
    holder = jetbox_process("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                            "--sandbox", "none", env={"JETBOX_FAILPOINT": "hold:before:Act"})
    try:
        assert holder.stderr is not None
        for line in holder.stderr:
            if line.startswith("[failpoint]"):
                break
        result = run_cli("run", "-w", str(workspace), "--host", mathx_server.host)
        assert result.code == 1
        assert f"another Jetbox (pid {holder.pid}) is running" in result.err
    finally:
        holder.kill()
        holder.wait()


def test_stale_lock_from_a_dead_process_is_taken_over(workspace: Path,
                                                      mathx_server: OfflineOllama) -> None:
    pid = dead_pid()
    (workspace / ".jetbox.lock").write_text(json.dumps({"pid": pid, "host": os.uname().nodename}))
    result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                     "--sandbox", "none")
    assert result.code == 0, result.err
    assert f"took over a stale lock from pid {pid}" in result.err
    assert not (workspace / ".jetbox.lock").exists()


def test_lock_owned_by_a_live_process_refuses_and_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / ".jetbox.lock"
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        path.write_text(json.dumps({"pid": owner.pid, "host": os.uname().nodename}))
        with pytest.raises(WorkspaceBusy, match=f"pid {owner.pid}"):
            WorkspaceLock(path).acquire()
        assert json.loads(path.read_text())["pid"] == owner.pid
    finally:
        owner.kill()
        owner.wait()


def test_lock_is_released_on_exit(tmp_path: Path) -> None:
    path = tmp_path / ".jetbox.lock"
    with WorkspaceLock(path):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()
