"""Nothing in the workspace can wedge Jetbox: a FIFO where it reads configuration is a clear
error naming the file, at every start (--fresh too), and a link to an endless /proc file
costs change detection nothing (issue 18, item 12)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from tests.conftest import jetbox_process

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")]
WEDGE_S = 15.0  # far above a normal start, below git's 20 s timeout, far below "forever"


def start(workspace: Path, *flags: str, host: str = "http://127.0.0.1:9") -> tuple[int, str]:
    child = jetbox_process("run", "Look around", "-w", str(workspace), "--host", host,
                           "--sandbox", "none", "--max-rounds", "1", *flags)
    try:
        _, err = child.communicate(timeout=WEDGE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise AssertionError(f"jetbox {' '.join(flags)} hung for {WEDGE_S:g} s") from None
    return child.returncode, err


@pytest.mark.parametrize("name", ["pyproject.toml", ".venv/pyvenv.cfg", ".gitignore",
                                  "sub/.gitignore"])
@pytest.mark.parametrize("git", [False, True])
def test_a_fifo_where_jetbox_reads_is_a_clear_error_not_a_hang(workspace: Path, name: str,
                                                                git: bool) -> None:
    if git:
        subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    elif name == "sub/.gitignore":
        pytest.skip("without git only the top-level .gitignore is read")
    fifo = workspace / name
    fifo.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(fifo)
    # A server that answers: a run checks it first, and .gitignore is read by the probe.
    with OfflineOllama(ScriptResponder([])) as server:
        for flags in ((), ("--fresh",)):
            code, err = start(workspace, *flags, host=server.host)
            assert code == 2, err
            assert str(fifo) in err and "not a regular file" in err, err


@pytest.mark.parametrize("name", ["agent.log", ".jetbox.lock"])
def test_a_fifo_where_jetbox_keeps_its_own_files_is_a_clear_error(workspace: Path,
                                                                   name: str) -> None:
    os.mkfifo(workspace / name)  # a command without bwrap can put one there
    code, err = start(workspace, "--fresh")
    assert code in (1, 2), err  # the lock's error is "workspace busy" (1), the log's usage
    assert str(workspace / name) in err and "not a regular file" in err, err


MAKE_LINKS = ("import os\nos.symlink('/proc/self/pagemap', 'pagemap.bin')\n"
              "os.symlink('/proc/self/mem', 'mem.bin')\n")


@pytest.mark.skipif(not Path("/proc/self/pagemap").exists(), reason="Linux /proc")
def test_links_to_endless_proc_files_do_not_stall_change_detection(workspace: Path) -> None:
    (workspace / "links.py").write_text(MAKE_LINKS)
    turns = [Turn(calls=(Call("run_cmd", {"cmd": ["python", "links.py"]}),)),
             Turn(calls=(Call("read_file", {"path": "links.py"}),))]
    with OfflineOllama(ScriptResponder(turns)) as server:
        began = time.monotonic()
        code, err = start(workspace, "--max-rounds", "2", host=server.host)
    assert (workspace / "pagemap.bin").is_symlink()
    assert code == 3, err  # the round limit: both rounds ran, each probed the tree
    assert time.monotonic() - began < WEDGE_S
