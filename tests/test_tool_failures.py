"""A call that fails is a result, not a crash: whole runs that hit OS errors in every tool."""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path
from typing import TypeVar

import pytest

from jetbox.core import failpoints
from jetbox.core.fsutil import read_bounded
from jetbox.offline import Call, FakeModel, OfflineOllama, ScriptResponder, Turn
from jetbox.store.kinds import Intent, Record, Result, ToolError, ToolResult
from jetbox.store.ledger import Ledger
from tests.conftest import run_cli, status_fields

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

PASSING_TEST = "def test_ok():\n    assert True\n"
ALL_CALLS = (FakeModel(tool_style="midstream"),)  # every call of a turn, not just the first
OK = Call("list_dir", {"path": "."})  # a call that works, so refusals never reach the guard


def prepared(workspace: Path) -> Path:
    """A workspace whose probes are green, with a symlink loop and a file in the way."""
    (workspace / "test_ok.py").write_text(PASSING_TEST)
    (workspace / "loop_b").symlink_to("loop_a")
    (workspace / "loop_a").symlink_to("loop_b")
    (workspace / "a.py").write_text("X = 1\n")
    return workspace


def run_script(workspace: Path, turns: list[Turn], *extra: str) -> tuple[int, str, list[str]]:
    """Run the scripted turns; the exit code, stderr, and the tool messages the model saw."""
    with OfflineOllama(ScriptResponder(turns), models=ALL_CALLS) as server:
        result = run_cli("run", "survive bad calls", "-w", str(workspace), "--host",
                         server.host, "--sandbox", "none", *extra)
        seen = [m.get("content", "") for request in server.requests
                for m in request.messages if m.get("role") == "tool"]
    return result.code, result.err, seen


R = TypeVar("R", bound=Record)


def records(workspace: Path, kind: type[R]) -> list[R]:
    return [r for r in Ledger(workspace / "agent_ledger.log").records() if isinstance(r, kind)]


def test_os_errors_in_every_tool_are_results_and_the_run_reaches_done(workspace: Path) -> None:
    prepared(workspace)
    bad = [Call("read_file", {"path": "loop_a"}), OK,
           Call("write_file", {"path": "loop_b", "content": "x"}), OK,
           Call("list_dir", {"path": "loop_a"}), OK,
           Call("write_file", {"path": "a.py/b.py", "content": "x"}),
           Call("read_file", {"path": "n" * 300}),               # ENAMETOOLONG
           Call("write_file", {"path": f"d/{'n' * 300}/x.py", "content": "x"}),
           Call("read_file", {"path": "a.py/../a.py/.."}),       # the workspace: listed
           Call("list_dir", {"path": "a.py/.."})]                # lists past the loop
    code, err, seen = run_script(workspace, [Turn(calls=tuple(bad)),
                                             Turn(calls=(Call("finish", {"summary": "ok"}),))])
    assert code == 0, err
    assert "Traceback" not in err
    assert status_fields(workspace)["State"] == "Done"
    results = records(workspace, ToolResult)[:len(bad)]
    assert [r.ok for r in results] == [False, True] * 3 + [False] * 3 + [True, True]
    text = "\n".join(seen)
    assert text.count("cannot be resolved (a symlink loop)") == 3
    assert "error: Not a directory: a.py/b.py" in text and "File name too long" in text
    assert "loop_a (unreadable link: Too many levels of symbolic links)" in text
    assert ". is a folder; its entries:\n" in text
    assert (workspace / "a.py").read_text() == "X = 1\n"
    # the failed write leaves no open intent (it fails before the copy Jetbox keeps, or its
    # intent is closed as failed): a resume never replays it
    intents = [r for r in records(workspace, Intent) if r.path == "a.py/b.py"]
    closing = {r.intent: r for r in records(workspace, Result)}
    assert all(i.seq in closing and closing[i.seq].ok is False for i in intents)
    assert len(records(workspace, ToolError)) == 3


SPARSE_SIZE = 4 * 2**30


def test_a_sparse_file_four_times_the_memory_bound_is_read_and_written_without_reading_it_whole(
        workspace: Path) -> None:
    """4 GiB (offsets past 32 bits): read whole, it would pass the 1 GiB the test allows. Every
    byte is hashed twice (the watch, and the copy undo keeps), so a bigger file only costs time."""
    prepared(workspace)
    try:
        with open(workspace / "huge.bin", "wb") as handle:
            handle.truncate(SPARSE_SIZE)
    except OSError as exc:
        pytest.skip(f"this file system refuses a 4 GiB sparse file: {exc}")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    calls = (Call("read_file", {"path": "huge.bin"}),
             Call("write_file", {"path": "huge.bin", "content": "small now"}))
    code, err, seen = run_script(workspace, [Turn(calls=calls),
                                             Turn(calls=(Call("finish", {"summary": "ok"}),))])
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert code == 0, err
    assert "Traceback" not in err
    assert grown_mb < 1024, f"memory grew by {grown_mb:.0f} MB"
    assert len(seen) == 2 and all(len(text) < 200_000 for text in seen)
    assert f"huge.bin is a binary file ({SPARSE_SIZE} bytes); not shown" in seen[0]
    # Replaced, never read whole; or, where the disk cannot hold the copy undo keeps of the
    # person's file before it changes (issue 31), refused with the file left as it was.
    if (workspace / "huge.bin").stat().st_size == 9:
        assert read_bounded(workspace / "huge.bin", 4096) == (b"small now", 9)
        # The copy undo keeps is as sparse as the file was: no 4 GiB of written zeros.
        kept = [p for p in (workspace / ".jetbox" / "objects").rglob("*")
                if p.is_file() and p.stat().st_size == SPARSE_SIZE]
        assert len(kept) == 1 and kept[0].stat().st_blocks * 512 < 64 << 20
    else:
        assert "write_file huge.bin -> failed" in err
        assert (workspace / "huge.bin").stat().st_size == SPARSE_SIZE


def test_read_bounded_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="not a regular file"):
        read_bounded(tmp_path, 10)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo")  # opening it for reading would block without O_NONBLOCK
        with pytest.raises(OSError, match="not a regular file"):
            read_bounded(tmp_path / "fifo", 10)
    (tmp_path / "small.txt").write_bytes(b"abc")
    assert read_bounded(tmp_path / "small.txt", 10) == (b"abc", 3)
    assert read_bounded(tmp_path / "small.txt", 2) == (b"ab", 3)


def test_an_unexpected_exception_in_a_tool_is_an_internal_error_result_with_a_traceback_log(
        workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prepared(workspace)
    failpoints.reset()
    monkeypatch.setenv(failpoints.ENV, "raise:tool:read_file")
    code, err, seen = run_script(workspace, [
        Turn(calls=(Call("read_file", {"path": "a.py"}),)),
        Turn(calls=(Call("finish", {"summary": "ok"}),))])
    failpoints.reset()
    assert code == 0, err
    assert "internal error in read_file: RuntimeError: failpoint raise:tool:read_file" in seen[0]
    assert "Traceback" not in err
    log = (workspace / "agent.log").read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in log and "failpoint raise:tool:read_file" in log
    assert records(workspace, ToolError)[0].tool == "read_file"


def test_permission_denied_is_a_failed_result(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    from tests.conftest import ROOT

    if os.name == "nt":
        pytest.skip("chmod 000 does not deny access on Windows")
    workspace = tmp_path / "ws"
    (workspace / "locked").mkdir(parents=True)
    (workspace / "locked" / "f.txt").write_text("x")
    (workspace / "locked").chmod(0)
    snippet = ("import sys; from pathlib import Path; from jetbox.store.ledger import Ledger; "
               "from jetbox.tools.toolbox import Toolbox; ws = Path(sys.argv[1]); "
               "print(Toolbox(ws, Ledger(ws.parent / 'l.log')).dispatch("
               "'read_file', {'path': 'locked/f.txt'}))")
    argv = [sys.executable, "-c", snippet, str(workspace)]
    if os.geteuid() == 0:  # root reads anything, except as the owner in a user namespace
        if not shutil.which("unshare") or subprocess.run(["unshare", "-U", "true"]).returncode:
            pytest.skip("running as root without user namespaces: mode 000 does not deny")
        argv = ["unshare", "-U", *argv]
    try:
        child = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        (workspace / "locked").chmod(0o755)
    assert child.returncode == 0, child.stderr
    assert "ok=False" in child.stdout and "error: Permission denied: locked/f.txt" in child.stdout


def crash_after_write_intent(workspace: Path, path: str) -> None:
    """Leave the workspace as a kill right after a write's intent would: one round writes
    `path`, then the ledger is cut back to end at that intent (what a crash leaves)."""
    script = ScriptResponder([Turn(calls=(Call("write_file", {"path": path,
                                                               "content": "print(1)\n"}),))])
    with OfflineOllama(script) as server:
        run_cli("run", "survive bad calls", "-w", str(workspace), "--host", server.host,
                "--sandbox", "none", "--max-rounds", "1")
    ledger = workspace / "agent_ledger.log"
    lines = ledger.read_bytes().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if json.loads(line)["kind"] == "intent")
    ledger.write_bytes(b"".join(lines[:at + 1]))
    (workspace / path).unlink()


@pytest.mark.parametrize("obstacle", ["folder", "symlink loop", "file as parent"])
def test_a_journaled_write_whose_target_went_bad_fails_clearly_on_every_resume(
        workspace: Path, obstacle: str) -> None:
    prepared(workspace)
    target = "sub/new.txt" if obstacle == "file as parent" else "new.txt"
    crash_after_write_intent(workspace, target)
    if obstacle == "folder":
        (workspace / "new.txt").mkdir()
    elif obstacle == "symlink loop":
        (workspace / "new.txt").symlink_to("new.txt")
    else:
        (workspace / "sub").rmdir()
        (workspace / "sub").write_text("in the way\n")
    finish = ScriptResponder([Turn(calls=(Call("finish", {"summary": "ok"}),))] * 3)
    with OfflineOllama(finish) as server:
        first = run_cli("run", "-w", str(workspace), "--host", server.host, "--sandbox", "none")
        again = run_cli("run", "-w", str(workspace), "--host", server.host, "--sandbox", "none")
        seen = json.dumps(server.requests[0].messages)
    assert first.code == 0, first.err
    assert "Traceback" not in first.err and again.code == 0
    assert "cannot be completed now" in seen
    failed = [r for r in records(workspace, Result) if r.recovered == "failed on resume"]
    assert len(failed) == 1 and failed[0].ok is False
