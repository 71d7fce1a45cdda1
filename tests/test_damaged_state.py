"""Damaged or odd Jetbox files and failing storage: one clear line, exit 2 or 1, nothing lost."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jetbox.core import failpoints
from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.store.ledger import Ledger
from tests.conftest import ROOT, CliResult, run_cli, status_fields

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

GOAL = "survive damaged state"
FINISH = Turn(calls=(Call("finish", {"summary": "ok"}),))


def green_workspace(workspace: Path) -> Path:
    (workspace / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    return workspace


def run(workspace: Path, *extra: str, turns: int = 3, goal: str | None = GOAL) -> CliResult:
    with OfflineOllama(ScriptResponder([FINISH] * turns)) as server:
        return run_cli("run", *([goal] if goal else []), "-w", str(workspace), "--host",
                       server.host, "--sandbox", "none", *extra)


def assert_one_clear_line(result: CliResult, code: int, names: str, fix: str) -> str:
    """The error is exactly one `jetbox:` line naming the file and the fix; no traceback."""
    assert result.code == code, result.err
    assert "Traceback" not in result.err
    errors = [line for line in result.err.splitlines() if line.startswith("jetbox: ")]
    assert len(errors) == 1, result.err
    assert names in errors[0] and fix in errors[0], errors[0]
    return errors[0]


def test_status_txt_being_a_folder_is_exit_2_naming_it(workspace: Path) -> None:
    green_workspace(workspace)
    assert run(workspace, "--max-rounds", "1").code == 3
    before = (workspace / "agent_ledger.log").read_bytes()
    (workspace / "status.txt").unlink()
    (workspace / "status.txt").mkdir()
    result = run(workspace, goal=None)
    assert_one_clear_line(result, 2, f"{workspace / 'status.txt'} is a folder", "move it away")
    assert (workspace / "agent_ledger.log").read_bytes() == before
    (workspace / "status.txt").rmdir()  # the fix the message names: the ledger rebuilds it
    assert run(workspace, goal=None).code == 0
    assert status_fields(workspace)["State"] == "Done"


@pytest.mark.parametrize("odd", ["folder", "/dev/full"])
def test_an_odd_ledger_is_exit_2_naming_it(workspace: Path, odd: str) -> None:
    green_workspace(workspace)
    if odd == "folder":
        (workspace / "agent_ledger.log").mkdir()
        what = "is a folder"
    else:
        if not Path("/dev/full").exists():
            pytest.skip("no /dev/full on this system")
        (workspace / "agent_ledger.log").symlink_to("/dev/full")
        what = "is not a regular file"  # reading /dev/full would never end
    result = run(workspace)
    assert_one_clear_line(result, 2, f"agent_ledger.log {what}", "move it away")
    assert not (workspace / "status.txt").exists()  # nothing ran
    status = run_cli("status", "-w", str(workspace))
    assert_one_clear_line(status, 2, "agent_ledger.log", "move it away")


def test_an_unreadable_ledger_is_exit_2_naming_it(workspace: Path) -> None:
    green_workspace(workspace)
    assert run(workspace, "--max-rounds", "1").code == 3
    ledger = workspace / "agent_ledger.log"
    ledger.chmod(0)
    try:
        if os.name != "nt" and os.geteuid() != 0:
            result = run_cli("status", "-w", str(workspace))
        elif shutil.which("unshare") and _unshare_works():
            # root reads anything; in a user namespace of its own it keeps only the owner's
            # rights over its files, and mode 000 gives the owner none
            child = subprocess.run(["unshare", "-U", sys.executable, "-m", "jetbox", "status",
                                    "-w", str(workspace)], capture_output=True, text=True,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
            result = CliResult(child.returncode, child.stdout, child.stderr)
        else:
            pytest.skip("running as root without user namespaces: mode 000 does not deny")
    finally:
        ledger.chmod(0o644)
    assert_one_clear_line(result, 2, f"cannot read {ledger} (Permission denied)",
                          "give your user read and write access")


def _unshare_works() -> bool:
    probe = subprocess.run(["unshare", "-U", "true"], capture_output=True)
    return probe.returncode == 0


def test_disk_full_mid_run_is_exit_1_and_nothing_journaled_is_lost(
        workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    green_workspace(workspace)
    failpoints.reset()
    # The 12th append fails half-written, as on a full disk, and so does every later one,
    # the error path's own record of the stop included.
    monkeypatch.setenv(failpoints.ENV, "enospc:ledger#12")
    result = run(workspace)
    failpoints.reset()
    monkeypatch.delenv(failpoints.ENV)
    line = assert_one_clear_line(result, 1, f"cannot write {workspace / 'agent_ledger.log'}",
                                 "No space left on device")
    assert "every record written before is kept" in line
    kept = Ledger(workspace / "agent_ledger.log").records()
    assert len(kept) == 11 and [r.seq for r in kept] == list(range(1, 12))
    assert (workspace / "agent_ledger.log").read_bytes().endswith(b"}\n")  # no half line
    assert "could not record the stop" in (workspace / "agent.log").read_text(encoding="utf-8")
    again = run(workspace, goal=None)
    assert again.code == 0, again.err
    assert status_fields(workspace)["State"] == "Done"
    records = Ledger(workspace / "agent_ledger.log").records()
    assert records[:11] == kept


@pytest.mark.slow
def test_a_read_only_workspace_is_exit_1_naming_the_file(workspace: Path) -> None:
    if os.name == "nt" or shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare for a read-only bind mount")
    green_workspace(workspace)
    assert run(workspace, "--max-rounds", "1").code == 3
    before = (workspace / "agent_ledger.log").read_bytes()
    script = (f"mount --bind {workspace} {workspace} && "
              f"mount -o remount,ro,bind {workspace} && exec \"$@\"")
    with OfflineOllama(ScriptResponder([FINISH] * 3)) as server:
        child = subprocess.run(
            ["unshare", "-m", "sh", "-c", script, "sh", sys.executable, "-m", "jetbox", "run",
             "-w", str(workspace), "--host", server.host, "--sandbox", "none"],
            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=120)
    if "mount" in child.stderr and child.returncode != 1:
        pytest.skip(f"cannot make a read-only bind mount here: {child.stderr.strip()}")
    result = CliResult(child.returncode, child.stdout, child.stderr)
    assert_one_clear_line(result, 1, str(workspace), "Read-only file system")
    assert (workspace / "agent_ledger.log").read_bytes() == before
    assert run(workspace, goal=None).code == 0  # writable again: it resumes



@pytest.mark.parametrize("command, folder", [("run", "agent.log"), ("status", "status.txt")])
def test_a_jetbox_file_made_a_folder_is_exit_2_naming_it(workspace: Path, command: str,
                                                         folder: str) -> None:
    green_workspace(workspace)
    if command == "status":
        assert run(workspace, "--max-rounds", "1").code == 3
        (workspace / folder).unlink()
    (workspace / folder).mkdir()
    result = run(workspace) if command == "run" else run_cli("status", "-w", str(workspace))
    assert_one_clear_line(result, 2, f"{workspace / folder} is a folder", "move it away")
