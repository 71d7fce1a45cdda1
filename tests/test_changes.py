"""Change detection that scales and cannot be faked: content digests without a cap, git's
file list, fresh probes after any action and before Done."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from jetbox.exec.files import project_files
from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.probes.changes import ChangeDetector, fingerprint
from tests.conftest import run_cli

GOOD = "def add(a, b):\n    return a + b\n"
TEST = "from pkg import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
# Same size as GOOD; the script puts the old modification time back.
BREAK = """\
import os
from pathlib import Path

path = Path("pkg/__init__.py")
info = path.stat()
path.write_text(path.read_text().replace("a + b", "a - b"))
os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
"""


def test_an_edit_that_restores_size_and_mtime_changes_the_digest(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(GOOD)
    detector = ChangeDetector(tmp_path)
    before = detector.snapshot()[1]
    info = (tmp_path / "m.py").stat()
    (tmp_path / "m.py").write_text(GOOD.replace("+", "-"))
    os.utime(tmp_path / "m.py", ns=(info.st_atime_ns, info.st_mtime_ns))
    assert detector.snapshot()[1] != before


@pytest.mark.slow
def test_a_flood_of_files_cannot_hide_an_edit(tmp_path: Path) -> None:
    for index in range(6000):
        (tmp_path / f"f{index:05}.txt").write_text("x")
    (tmp_path / "zz_last.py").write_text(GOOD)
    detector = ChangeDetector(tmp_path)
    files, before = detector.snapshot()
    assert len(files) == 6001
    (tmp_path / "zz_last.py").write_text(GOOD.replace("a + b", "b + a"))
    assert detector.snapshot()[1] != before
    hashed = detector.files_hashed
    detector.snapshot()
    assert detector.files_hashed == hashed  # an unchanged tree reads no file again


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_in_a_git_repository_ignored_files_do_not_count(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "out.o").write_text("1")
    (tmp_path / "new.py").write_text(GOOD)  # untracked, not ignored: it counts
    assert project_files(tmp_path) == [".gitignore", "new.py"]
    before = fingerprint(tmp_path)
    (tmp_path / "build" / "out.o").write_text("2")
    assert fingerprint(tmp_path) == before
    (tmp_path / "new.py").write_text(GOOD + "\n")
    assert fingerprint(tmp_path) != before


FLOOD = """\
from pathlib import Path

for index in range(6000):
    Path(f"a{index:05}.txt").write_text("x")
""" + BREAK


@pytest.mark.slow
@pytest.mark.parametrize("attack", [BREAK, FLOOD], ids=["restored-mtime", "file-flood"])
def test_a_command_that_breaks_the_code_and_restores_the_mtime_cannot_fake_done(
        attack: str, workspace: Path) -> None:
    (workspace / "pkg").mkdir()
    (workspace / "pkg" / "__init__.py").write_text(GOOD)
    (workspace / "tests").mkdir()
    (workspace / "tests" / "test_pkg.py").write_text(TEST)
    (workspace / "break_it.py").write_text(attack)
    script = [Turn(calls=(Call("run_cmd", {"cmd": ["python", "break_it.py"]}),)),
              Turn(calls=(Call("finish", {"summary": "all good"}),)),
              Turn(calls=(Call("finish", {"summary": "all good"}),))]
    with OfflineOllama(ScriptResponder(script)) as server:
        result = run_cli("run", "Keep it working", "-w", str(workspace), "--host", server.host,
                         "--sandbox", "none", "--max-rounds", "3")
    assert result.code == 3, result.err
    lines = (workspace / "agent_ledger.log").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    refused = [r for r in records if r["kind"] == "finish_refused"]
    assert refused and "tests/test_pkg.py::test_add" in refused[0]["reasons"][0]
    probes = [r for r in records if r["kind"] == "probe"]
    assert not probes[1]["reused"]  # the round after the command probed afresh
