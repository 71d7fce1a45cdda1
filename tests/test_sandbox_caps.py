"""bubblewrap runs the model's code in a user namespace with no capabilities, as root too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from jetbox.exec.process import run_process
from jetbox.exec.sandbox import bwrap_argv, bwrap_usable, interpreter_paths
from jetbox.store.kinds import Result
from jetbox.store.ledger import Ledger
from tests.test_sandbox import needs_bwrap

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

# Writes a file on the host through a read-write remount of /, which only a process
# holding CAP_SYS_ADMIN can do. /var/tmp, not /tmp: the sandbox's /tmp is private.
REMOUNT_SCRIPT = """\
import pathlib, subprocess
done = subprocess.run(["mount", "-o", "remount,rw", "/"], capture_output=True, text=True)
print("remount exit", done.returncode)
try:
    pathlib.Path({target!r}).write_text("escaped")
    print("wrote outside")
except OSError as exc:
    print("blocked", exc.errno)
"""


def needs_root_and_mount() -> None:
    needs_bwrap()
    if os.name != "posix" or os.geteuid() != 0:
        print("SKIP: the capability attack needs root (CI runs this file as root)")
        pytest.skip("needs root: only root's capabilities can remount / read-write")
    if shutil.which("mount") is None:
        print("SKIP: no `mount` program to attempt the remount with")
        pytest.skip("no `mount` program")


def escape_target() -> Path:
    return Path("/var/tmp") / f"jetbox-escape-{uuid.uuid4().hex}.txt"


def test_sandboxed_child_has_no_effective_capabilities(tmp_path: Path) -> None:
    needs_bwrap()
    result = run_process(["cat", "/proc/self/status"], cwd=tmp_path, timeout_s=30,
                         sandbox="bwrap")
    assert result.returncode == 0, result.output
    assert "CapEff:\t0000000000000000" in result.output, result.output
    assert "CapBnd:\t0000000000000000" in result.output, result.output


def test_root_in_the_sandbox_cannot_remount_and_write_the_host(tmp_path: Path) -> None:
    needs_root_and_mount()
    target = escape_target()
    (tmp_path / "evil.py").write_text(REMOUNT_SCRIPT.format(target=str(target)))
    try:
        result = run_process([sys.executable, "evil.py"], cwd=tmp_path, timeout_s=30,
                             sandbox="bwrap")
        assert not target.exists(), result.output
    finally:
        target.unlink(missing_ok=True)
    assert "remount exit 0" not in result.output, result.output
    assert "blocked 30" in result.output, result.output  # EROFS: / stayed read-only


def test_the_sandbox_works_for_an_unprivileged_user() -> None:
    needs_bwrap()
    if os.name != "posix" or os.geteuid() != 0:
        print("SKIP: switching to uid 65534 needs root; as a normal user the other tests "
              "in this file already run unprivileged")
        pytest.skip("needs root to switch to an unprivileged uid")
    workspace = Path(tempfile.mkdtemp(prefix="jetbox-nobody-"))
    try:
        workspace.chmod(0o755)
        os.chown(workspace, 65534, 65534)
        # sh, not Python: the interpreter may live where uid 65534 cannot reach (/root).
        script = ("echo ok > made.txt; cat /proc/self/status; "
                  "touch /etc/jetbox-escape 2>/dev/null || echo blocked")
        argv = bwrap_argv(["sh", "-c", script], workspace)
        # sh needs no Python: drop the binds of Jetbox's interpreter, which may sit in a
        # folder only root can enter (CI's venv under a 0700 mktemp folder).
        for path in interpreter_paths():
            at = argv.index(str(path)) if str(path) in argv else -1
            if at > 0 and argv[at - 1] == "--ro-bind":
                del argv[at - 1:at + 2]
        done = subprocess.run(argv, cwd=workspace, user=65534, group=65534, extra_groups=[],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert "Uid:\t65534" in done.stdout and "CapEff:\t0000000000000000" in done.stdout
        assert (workspace / "made.txt").read_text() == "ok\n"
        assert "blocked" in done.stdout and not Path("/etc/jetbox-escape").exists()
    finally:
        shutil.rmtree(workspace)


def test_a_whole_run_under_bwrap_cannot_remount_and_write_outside(workspace: Path) -> None:
    from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
    from tests.conftest import run_cli

    needs_root_and_mount()
    assert bwrap_usable()
    target = escape_target()
    script = ScriptResponder([
        Turn(calls=(Call("write_file", {"path": "evil.py",
                                        "content": REMOUNT_SCRIPT.format(target=str(target))}),)),
        Turn(calls=(Call("run_cmd", {"cmd": ["python", "evil.py"]}),))])
    try:
        with OfflineOllama(script) as server:
            result = run_cli("run", "escape", "-w", str(workspace), "--host", server.host,
                             "--sandbox", "bwrap", "--max-rounds", "2")
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)
    assert result.code == 3, result.err
    outputs = [r.output_tail or "" for r in Ledger(workspace / "agent_ledger.log").records()
               if isinstance(r, Result) and r.action == "cmd"]
    assert outputs and "blocked 30" in outputs[0] and "remount exit 0" not in outputs[0]
