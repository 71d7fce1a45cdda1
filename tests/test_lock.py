"""One run per workspace: a live owner refuses a second run, a dead one is taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from jetbox.offline import OfflineOllama, ScriptResponder
from jetbox.store.ledger import Ledger
from jetbox.store.lock import WorkspaceBusy, WorkspaceLock, parse_owner
from tests.conftest import MATHX_GOAL, ROOT, jetbox_process, run_cli
from tests.enginekit import machine_file


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_second_run_on_a_busy_workspace_is_refused(workspace: Path, tmp_path: Path,
                                                   mathx_server: OfflineOllama) -> None:
    machine = machine_file(tmp_path / "machine")  # data probes: the holder is there sooner
    holder = jetbox_process("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                            "--sandbox", "none", "--machine", str(machine),
                            env={"JETBOX_FAILPOINT": "hold:before:Ask"})
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


@pytest.mark.slow
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


@pytest.mark.parametrize("content", [b"[1, 2]", b"garbage \xff\xfe", b'{"pid": 1e20}', b"",
                                     b'{"pid": true}', b'{"pid": -5}', b'{"pid": "12"}',
                                     b"[" * 100_000])
def test_damaged_lock_is_taken_over_without_a_traceback(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / ".jetbox.lock"
    path.write_bytes(content)
    lock = WorkspaceLock(path)
    with lock:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert lock.describe_takeover().startswith("took over a damaged lock")
    assert not path.exists()


@pytest.mark.slow
def test_run_with_a_damaged_lock_works_and_says_so(workspace: Path,
                                                   mathx_server: OfflineOllama) -> None:
    (workspace / ".jetbox.lock").write_text("[1, 2]")
    result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                     "--sandbox", "none")
    assert result.code == 0, result.err
    assert "took over a damaged lock ([1, 2])" in result.err
    assert "Traceback" not in result.err


def test_lock_that_is_a_folder_is_a_one_line_error(workspace: Path) -> None:
    (workspace / ".jetbox.lock").mkdir()
    result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", "http://127.0.0.1:9",
                     "--sandbox", "none")
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        f"jetbox: {workspace / '.jetbox.lock'} is a folder, not Jetbox's lock; remove it and "
        f"run again"]


def test_lock_of_a_reused_pid_is_stale(tmp_path: Path) -> None:
    """A live process with the recorded pid but another start time is not the owner."""
    path = tmp_path / ".jetbox.lock"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        path.write_text(json.dumps({"pid": other.pid, "host": socket.gethostname(),
                                    "started": 1.5, "boot": None}))
        lock = WorkspaceLock(path)
        with lock:
            assert lock.took_over is not None and lock.took_over["pid"] == other.pid
    finally:
        other.kill()
        other.wait()


def test_the_lock_file_never_exists_without_its_owner(tmp_path: Path) -> None:
    """Linked into place whole: a reader polling the name sees nothing or the full owner.
    Each hold lasts until the reader has seen the file, so the reader sees it every time
    however the threads are scheduled."""
    path = tmp_path / ".jetbox.lock"
    seen: list[bytes] = []
    saw, done = threading.Event(), threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                seen.append(path.read_bytes())
                saw.set()
            except FileNotFoundError:
                pass

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(50):
            saw.clear()
            with WorkspaceLock(path):
                assert saw.wait(10), "the watcher never saw the lock while it was held"
    finally:
        done.set()
        watcher.join()
    assert len(seen) >= 50
    assert all(json.loads(data)["pid"] == os.getpid() for data in seen)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


CONTENDER = """
import sys, time
from pathlib import Path
from jetbox.cli import main
go = Path(sys.argv[1])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.0005)
sys.exit(main(sys.argv[2:]))
"""


def _start_pair(workspace: Path, go: Path, host: str) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JETBOX_FAILPOINT": "hold:before:Probe"}
    argv = [sys.executable, "-c", CONTENDER, str(go), "run", MATHX_GOAL, "-w", str(workspace),
            "--host", host, "--sandbox", "none"]
    pair = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    for process in pair:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    go.touch()  # both are waiting on this file: they start within a millisecond
    return pair


def _one_pair(workspace: Path, go: Path, host: str) -> tuple[bool, str]:
    """(exactly one ran and the other was refused clearly, what happened)."""
    pair = _start_pair(workspace, go, host)
    try:
        deadline = time.monotonic() + 30
        while all(p.poll() is None for p in pair) and time.monotonic() < deadline:
            time.sleep(0.01)
        finished = [p for p in pair if p.poll() is not None]
        if len(finished) != 1:
            return False, f"{len(finished)} of 2 exited"
        loser, winner = finished[0], next(p for p in pair if p is not finished[0])
        error = loser.stderr.read() if loser.stderr else ""
        assert winner.stderr is not None
        marker = "[none]"
        for marker in winner.stderr:  # its failpoint: the winner holds the lock and works
            if marker.startswith("[failpoint]"):
                break
        holder = parse_owner(Path(workspace / ".jetbox.lock").read_bytes()) or {}
        ok = (loser.returncode == 1 and "another Jetbox" in error and "Traceback" not in error
              and marker.startswith("[failpoint]") and holder.get("pid") == winner.pid)
        return ok, f"loser exit {loser.returncode}: {error.strip()}; winner said {marker!r}"
    finally:
        for process in pair:
            process.kill()
            process.wait()
        go.unlink()


@pytest.mark.slow
def test_two_runs_started_at_the_same_instant_exactly_one_works(workspace: Path,
                                                                tmp_path: Path) -> None:
    """40 pairs: even pairs race for a free lock, odd ones for the stale lock the killed
    winner of the pair before left behind (the takeover race)."""
    pairs, good, failures = 40, 0, []
    # A server that answers (a run checks it before its first probe), never asked a thing.
    with OfflineOllama(ScriptResponder([])) as server:
        for number in range(pairs):
            if number % 2 == 0:
                (workspace / ".jetbox.lock").unlink(missing_ok=True)
            ok, what = _one_pair(workspace, tmp_path / "go", server.host)
            good += ok
            if not ok:
                failures.append(f"pair {number}: {what}")
    records = Ledger(workspace / "agent_ledger.log").records()
    opened = [r for r in records if r.kind in ("run_start", "resume")]
    print(f"lock race: {good}/{pairs} pairs had exactly one run working")
    assert good == pairs, failures[:5]
    assert len(opened) == pairs  # the refused runs wrote nothing
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    # Either contender may remove a stale lock; it is recorded when the winner did.
    assert 0 < len([r for r in records if r.kind == "lock_taken_over"]) <= pairs // 2
    leftovers = [p.name for p in workspace.iterdir() if p.name.startswith(".jetbox.lock.")]
    assert leftovers == []


def test_liveness_comes_from_the_process_table() -> None:
    """psutil on every OS: this process is alive with its own start time; an ended child
    is not; a start time that differs means a reused pid."""
    from jetbox.store.lock import owner_alive, pid_alive, process_start

    me = os.getpid()
    assert pid_alive(me) and not pid_alive(dead_pid()) and not pid_alive(0)
    started = process_start(me)
    assert started is not None and abs(started - time.time()) < 24 * 3600 * 365
    assert owner_alive({"pid": me, "started": started})
    assert not owner_alive({"pid": me, "started": started - 5})
    assert owner_alive({"pid": me, "started": None})  # an owner that could not say


def test_a_zombie_owner_is_not_alive() -> None:
    """A Jetbox killed while its parent has not yet reaped it holds nothing."""
    from jetbox.store.lock import pid_alive

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 20
    while pid_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # it exits; not reaped, it stays a zombie
    try:
        assert not pid_alive(child.pid)
    finally:
        child.wait()
