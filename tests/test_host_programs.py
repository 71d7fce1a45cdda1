"""The programs Jetbox itself runs (git, bwrap) are found once on the absolute entries of
PATH outside the workspace: with `.` or an empty entry in PATH, a model-planted `./git` or
`./bwrap` never runs (issue 18, item 11)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from jetbox.core.programs import find_program, searched_entries
from jetbox.exec.sandbox import bwrap_usable
from tests.attackkit import attack, turn

PLANT = """\
import os, sys
for name in ("git", "bwrap"):
    with open(name, "w") as f:
        f.write("#!/bin/sh\\necho planted > {marker}-" + name + "\\nexit 1\\n")
    os.chmod(name, 0o755)
"""


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="POSIX scripts with an executable bit")
@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_a_planted_git_or_bwrap_never_runs_with_dot_in_path(
        workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: str) -> None:
    if sandbox == "bwrap" and not bwrap_usable():
        print("SKIP: bubblewrap is not usable here (CI installs it)")
        pytest.skip("bubblewrap is not usable here")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    marker = tmp_path / "ran"
    (workspace / "plant.py").write_text(PLANT.format(marker=marker))
    # A person's PATH with the current folder in it, twice: `.` and an empty entry.
    monkeypatch.setenv("PATH", f".{os.pathsep}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(workspace)  # `jetbox run` started in the project, as people do
    turns = [turn("run_cmd", cmd=["python", "plant.py"]),
             turn("write_file", path="a.txt", content="probes run git"),
             turn("run_cmd", cmd=["python", "plant.py"])]  # bwrap starts it
    result = attack(workspace, turns, "--sandbox", sandbox)
    assert (workspace / "git").is_file() and (workspace / "bwrap").is_file(), result.err
    assert not Path(f"{marker}-git").exists(), "the workspace's git ran"
    assert not Path(f"{marker}-bwrap").exists(), "the workspace's bwrap ran"


def test_relative_empty_and_workspace_entries_of_path_are_never_searched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace, outside = tmp_path / "ws", tmp_path / "bin"
    for folder in (workspace / "bin", outside):
        folder.mkdir(parents=True)
        tool = folder / "jbtool.exe" if os.name == "nt" else folder / "jbtool"
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
    monkeypatch.chdir(workspace)
    path = os.pathsep.join([".", "", "bin", str(workspace / "bin"), str(outside)])
    monkeypatch.setenv("PATH", path)
    found = find_program("jbtool", workspace)
    assert found is not None and Path(found).parent == outside
    monkeypatch.setenv("PATH", os.pathsep.join([".", "bin", str(workspace / "bin")]))
    assert find_program("jbtool", workspace) is None


def test_only_absolute_path_entries_are_searched_on_windows_and_posix() -> None:
    windows = "C:\\Tools;.;;bin;C:bin;\\rooted;\\\\server\\share\\bin;D:\\Git\\cmd"
    assert searched_entries(windows, ";", PureWindowsPath) == [
        "C:\\Tools", "\\\\server\\share\\bin", "D:\\Git\\cmd"]
    assert searched_entries("/usr/bin:.::bin:/opt/x", ":", PurePosixPath) == [
        "/usr/bin", "/opt/x"]
