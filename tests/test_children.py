"""Every child process starts in jetbox/exec/ (issue 33): the argv-only, no-shell rules and the
timeouts live in one place. Read with `ast`; and exec's `capture` itself, run for real."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from jetbox.exec.process import capture

ROOT = Path(__file__).resolve().parent.parent
STARTERS = {("subprocess", name) for name in ("run", "Popen", "call", "check_call",
                                                "check_output", "getoutput", "getstatusoutput")}
STARTERS |= {("os", name) for name in ("system", "popen", "spawnv", "spawnve", "spawnl",
                                       "spawnlp", "spawnvp", "execv", "execve", "execvp",
                                       "posix_spawn", "startfile")}
# `jetbox demo` streams a child Jetbox's own output to the terminal line by line as it comes.
ALLOWED = {"jetbox/commands/demo.py"}


def child_starts(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and (node.value.id, node.attr) in STARTERS:
            found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
    return found


def test_no_module_outside_exec_starts_a_child() -> None:
    files = [*ROOT.glob("jetbox/**/*.py"), *ROOT.glob("states/*.py")]
    outside = {p.relative_to(ROOT).as_posix(): child_starts(p) for p in files
               if "exec" not in p.relative_to(ROOT).parts}
    starts = {name: where for name, where in outside.items() if where and name not in ALLOWED}
    assert not starts, f"start these through jetbox/exec/ (process.capture): {starts}"


def test_the_check_sees_a_child_start(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("import subprocess\nsubprocess.run(['git', 'status'])\n")
    assert child_starts(planted) == ["subprocess.run (line 2)"]


def test_capture_keeps_stdout_and_stderr_apart_and_feeds_stdin() -> None:
    code = "import sys; print(sys.stdin.read().upper()); print('note', file=sys.stderr)"
    done = capture([sys.executable, "-c", code], stdin=b"hello", timeout_s=30)
    assert done is not None and done.returncode == 0
    assert done.stdout.strip() == b"HELLO" and done.stderr.strip() == b"note"


def test_capture_past_its_timeout_is_none() -> None:
    assert capture([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=0.5) is None


def test_a_slow_child_runs_the_check_which_may_say_why() -> None:
    """files.py's use: git blocked by a FIFO .gitignore is explained in seconds."""
    seen = []

    def check() -> None:
        seen.append("checked")
        raise RuntimeError("a .gitignore that is not a file")

    with pytest.raises(RuntimeError, match="not a file"):
        capture([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=20,
                on_slow=(0.3, check))
    assert seen == ["checked"]
    fast = capture([sys.executable, "-c", "print(1)"], timeout_s=20, on_slow=(5, check))
    assert fast is not None and fast.stdout.strip() == b"1" and seen == ["checked"]
