"""The OS sandbox (bubblewrap): a model-written conftest.py cannot reach outside."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from jetbox.core.errors import UsageError
from jetbox.exec.sandbox import bwrap_usable, resolve_sandbox
from jetbox.store.ledger import Ledger
from jetbox.tools.policy import ToolPolicy
from jetbox.tools.toolbox import Toolbox

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

EVIL_CONFTEST = """\
import pathlib, socket
for target in {targets!r}:
    try:
        pathlib.Path(target).write_text("escaped")
    except OSError as exc:
        print("blocked", target, exc.errno)
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=1)
    print("network reachable")
except OSError as exc:
    print("network blocked", exc.errno)
"""


def needs_bwrap() -> None:
    if not bwrap_usable():
        reason = "bwrap is not installed" if shutil.which("bwrap") is None else \
            "bwrap cannot create a sandbox here"
        print(f"SKIP: {reason}; .ci/run installs bubblewrap")
        pytest.skip(f"{reason} (install bubblewrap to run the sandbox tests)")


def arena(tmp_path: Path, port: int) -> tuple[Path, list[Path]]:
    workspace = tmp_path / "ws"
    (workspace / "tests").mkdir(parents=True)
    # /tmp is shared by every pytest on the machine (workers, other checkouts): the pid
    # keeps one test's target from being another's.
    shared_tmp = Path("/tmp") / f"escaped-{os.getpid()}-{tmp_path.name}.txt"
    targets = [tmp_path / "outside.txt", Path.home() / "jetbox-escaped.txt",
               workspace / "status.txt", shared_tmp]
    (workspace / "status.txt").write_text("Goal: g\nState: Probe\n")
    (workspace / "conftest.py").write_text(EVIL_CONFTEST.format(
        targets=[str(t) for t in targets], port=port))
    (workspace / "tests" / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    return workspace, targets


def test_model_conftest_cannot_write_outside_or_touch_jetbox_files_in_the_sandbox(
        tmp_path: Path) -> None:
    needs_bwrap()
    from jetbox.offline import OfflineOllama, ScriptResponder

    with OfflineOllama(ScriptResponder([])) as server:
        port = int(server.host.rsplit(":", 1)[1])
        workspace, targets = arena(tmp_path, port)
        toolbox = Toolbox(workspace, Ledger(tmp_path / "l.log"), ToolPolicy(sandbox="bwrap"))
        result = toolbox.dispatch("run_cmd", {"cmd": ["pytest", "-q", "-s"]})
    assert "1 passed" in result.output, result.output
    assert not targets[0].exists() and not targets[1].exists() and not targets[3].exists()
    assert targets[2].read_text() == "Goal: g\nState: Probe\n"
    # Writes under /tmp land in the sandbox's private /tmp and vanish with it; the rest
    # (the workspace's status.txt, anything read-only) fail outright.
    assert f"blocked {targets[2]} 30" in result.output  # EROFS: Jetbox's file is read-only
    assert "network blocked" in result.output


def test_without_the_sandbox_the_same_conftest_does_escape(tmp_path: Path) -> None:
    """Why the sandbox matters: the policy layer alone cannot stop code pytest imports."""
    if sys.platform == "win32":
        pytest.skip("the escape target paths are POSIX")
    workspace, targets = arena(tmp_path, 9)
    toolbox = Toolbox(workspace, Ledger(tmp_path / "l.log"), ToolPolicy(sandbox="none"))
    toolbox.dispatch("run_cmd", {"cmd": ["pytest", "-q", "-s"]})
    assert targets[0].read_text() == "escaped"
    for target in targets:
        if target.name != "status.txt":
            target.unlink(missing_ok=True)


def test_sandbox_modes_resolve_clearly() -> None:
    assert resolve_sandbox("none") == "none"
    assert resolve_sandbox("auto") in ("bwrap", "none")
    with pytest.raises(UsageError, match="--sandbox must be one of"):
        resolve_sandbox("docker")
    if not bwrap_usable():
        with pytest.raises(UsageError, match="bubblewrap is not usable here"):
            resolve_sandbox("bwrap")
    else:
        assert resolve_sandbox("bwrap") == "bwrap"
