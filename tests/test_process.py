"""Child processes: timeouts kill the whole tree, output is capped and decoded safely."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jetbox.exec.process import run_process, scrubbed_env
from jetbox.store.kinds import Intent, Result
from jetbox.store.ledger import Ledger
from jetbox.tools.policy import ToolPolicy
from jetbox.tools.toolbox import Toolbox

posix_only = pytest.mark.skipif(os.name == "nt", reason="uses POSIX signals and /proc")


def gone(pid: int) -> bool:
    """Dead or a zombie waiting to be reaped: either way it runs no more."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[1].startswith("Z")


def wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return False


SPAWNER = """\
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
open("grandchild.pid", "w").write(str(child.pid))
time.sleep(60)
"""


@pytest.mark.slow
@posix_only
def test_timeout_kills_a_sleeping_grandchild(tmp_path: Path) -> None:
    (tmp_path / "spawn.py").write_text(SPAWNER)
    toolbox = Toolbox(tmp_path, Ledger(tmp_path / "l.log"), ToolPolicy(cmd_timeout_s=3))
    result = toolbox.dispatch("run_cmd", {"cmd": ["python", "spawn.py"]})
    assert not result.ok and "timed out after 3 s; the process tree was killed" in result.output
    pid = int((tmp_path / "grandchild.pid").read_text())
    assert wait_gone(pid)


def kill_jetbox_running(folder: Path, argv: str, pid_file: Path) -> int:
    """A process that runs `argv` through run_process, killed with SIGKILL once the pid it
    waits for is written; returns that pid."""
    parent = f"""
import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from pathlib import Path
from jetbox.exec.process import run_process
run_process([sys.executable, {argv}], Path({str(folder)!r}), timeout_s=60)
"""
    jetbox_like = subprocess.Popen([sys.executable, "-c", parent], cwd=folder)
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, f"{pid_file.name} was never written"
        time.sleep(0.05)
    os.kill(jetbox_like.pid, signal.SIGKILL)
    jetbox_like.wait()
    return int(pid_file.read_text())


@posix_only
def test_the_command_dies_when_jetbox_is_killed(tmp_path: Path) -> None:
    child = kill_jetbox_running(
        tmp_path, "'-c', 'import os, time; open(\"child.pid\", \"w\").write(str(os.getpid()));"
        " time.sleep(60)'", tmp_path / "child.pid")
    assert wait_gone(child)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_grandchildren_left_by_a_killed_jetbox_are_reaped_at_the_next_start(
        tmp_path: Path) -> None:
    from jetbox.exec.process import reap_strays

    (tmp_path / "spawn.py").write_text(SPAWNER)
    grandchild = kill_jetbox_running(tmp_path, "'spawn.py'", tmp_path / "grandchild.pid")
    assert not gone(grandchild), "without a sandbox the grandchild outlives Jetbox..."
    assert grandchild in reap_strays(tmp_path)
    assert wait_gone(grandchild), "...until the next Jetbox in that workspace reaps it"


def test_huge_output_is_capped_head_and_tail_without_holding_it_all(tmp_path: Path) -> None:
    code = "import sys\nsys.stdout.write('HEAD' + 'x' * 5_000_000 + 'TAIL')\n"
    result = run_process([sys.executable, "-c", code], tmp_path, 30, max_output_chars=2000)
    assert result.returncode == 0
    assert result.output.startswith("HEAD") and result.output.endswith("TAIL")
    assert "bytes elided" in result.output and len(result.output) < 2200


def test_binary_and_non_utf8_output_is_decoded_with_replacement(tmp_path: Path) -> None:
    code = "import sys\nsys.stdout.buffer.write(b'ok \\xff\\xfe\\x00\\x80 end')\n"
    result = run_process([sys.executable, "-c", code], tmp_path, 30)
    assert result.output.startswith("ok ") and result.output.endswith(" end")
    assert "\ufffd" in result.output


def test_only_allow_listed_variables_reach_children(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOO_TOKEN", "t0k3n")
    monkeypatch.setenv("HARMLESS", "visible")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    (tmp_path / "env.py").write_text("import os\nprint(sorted(os.environ))\n")
    toolbox = Toolbox(tmp_path, Ledger(tmp_path / "l.log"))
    output = toolbox.dispatch("run_cmd", {"cmd": ["python", "env.py"]}).output
    assert "'PATH'" in output and "'HOME'" in output and "'LC_ALL'" in output
    assert "'PYTEST_DISABLE_PLUGIN_AUTOLOAD'" in output  # the person's pytest choice holds
    for name in ("FOO_TOKEN", "HARMLESS", "PYTHONPATH"):
        assert f"'{name}'" not in output
    named = Toolbox(tmp_path, Ledger(tmp_path / "l.log"), pass_env=("HARMLESS",))
    assert "'HARMLESS'" in named.dispatch("run_cmd", {"cmd": ["python", "env.py"]}).output
    assert scrubbed_env({"Path": "x", "harmless": "y"}, ["HARMLESS"]) == {"Path": "x",
                                                                          "harmless": "y"}


HOLDER = """
import subprocess, sys, time
env = {} if sys.argv[2:] == ["clean-env"] else None  # {}: not even Jetbox's marker
holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                          start_new_session=True, env=env)  # leaves the group, keeps stdout
open("holder.pid", "w").write(str(holder.pid))
print("spawned", flush=True)
time.sleep(float(sys.argv[1]))
"""


@posix_only
@pytest.mark.parametrize("child_s, timeout_s, timed_out, env", [
    (0, 5, False, "marked"), (60, 3, True, "marked"), (0, 5, False, "clean-env"),
    (60, 3, True, "clean-env")],
    ids=["child-exits", "child-times-out", "unmarked-holder-child-exits",
         "unmarked-holder-child-times-out"])
@pytest.mark.slow
def test_a_descendant_holding_the_pipe_does_not_hold_the_command(
        tmp_path: Path, child_s: float, timeout_s: float, timed_out: bool, env: str) -> None:
    (tmp_path / "holder.py").write_text(HOLDER)
    started = time.monotonic()
    result = run_process([sys.executable, "holder.py", str(child_s), env], tmp_path, timeout_s)
    elapsed = time.monotonic() - started
    print(f"detached pipe holder ({env}), timeout {timeout_s} s: returned after "
          f"{elapsed:.1f} s")
    holder = int((tmp_path / "holder.pid").read_text())
    try:
        assert result.timed_out is timed_out
        assert result.returncode == (None if timed_out else 0)
        assert "spawned" in result.output
        assert elapsed < (timeout_s if timed_out else child_s) + 2.5
        if env == "marked":  # found by its command's id and ended with it
            assert wait_gone(holder)
    finally:
        if not gone(holder):
            os.kill(holder, signal.SIGKILL)


def test_stdin_is_closed(tmp_path: Path) -> None:
    code = "import sys\nprint(repr(sys.stdin.read()))\n"
    result = run_process([sys.executable, "-c", code], tmp_path, 10)
    assert result.output.strip() == "''"


def test_read_file_says_binary_and_caps_text(tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x89PNG\x00" + bytes(range(256)) * 10)
    (tmp_path / "big.txt").write_text("START" + "y" * 50_000 + "END")
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    toolbox = Toolbox(tmp_path, Ledger(tmp_path / "l.log"), ToolPolicy(max_read_chars=1000))
    assert "is a binary file (2565 bytes); not shown" in \
        toolbox.dispatch("read_file", {"path": "blob.bin"}).output
    big = toolbox.dispatch("read_file", {"path": "big.txt"}).output
    assert big.startswith("big.txt: lines 1-1 of 1\n1| START")
    assert "[49008 more characters on this line not shown]" in big
    latin = toolbox.dispatch("read_file", {"path": "latin1.txt"}).output
    assert "not valid UTF-8" in latin and "caf\ufffd" in latin


def test_write_file_is_atomic_idempotent_and_journaled(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path.parent / f"{tmp_path.name}.log")
    toolbox = Toolbox(tmp_path, ledger)
    first = toolbox.dispatch("write_file", {"path": "pkg/deep/mod.py", "content": "x = 1\n"})
    again = toolbox.dispatch("write_file", {"path": "pkg/deep/mod.py", "content": "x = 1\n"})
    assert first.changed and first.output == "wrote pkg/deep/mod.py (6 bytes)"
    assert not again.changed and "nothing changed" in again.output
    intent, result = [r for r in ledger.records() if isinstance(r, Intent | Result)]
    assert isinstance(intent, Intent) and isinstance(result, Result)
    assert intent.sha256 == result.sha256 and intent.bytes == 6
    assert result.intent == intent.seq
    assert sorted(p.name for p in (tmp_path / "pkg" / "deep").iterdir()) == ["mod.py"]


def test_arguments_sent_as_a_json_string_are_accepted(tmp_path: Path) -> None:
    toolbox = Toolbox(tmp_path, Ledger(tmp_path / "l.log"))
    result = toolbox.dispatch("write_file", '{"path": "a.txt", "content": "hi"}')
    assert result.ok and (tmp_path / "a.txt").read_text() == "hi"
