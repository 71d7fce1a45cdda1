"""Jetbox writes its names into `.git/info/exclude` only when that is a plain file in the
workspace repository's own `.git` folder: never through a `.git` file (`gitdir:`), a
`commondir`, a linked `info/` or a linked `info/exclude` (issue 30, item 5)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from jetbox.exec.gitrepo import exclude_own_files
from tests.attackkit import attack, turn

GIT = shutil.which("git")
pytestmark = [pytest.mark.skipif(GIT is None, reason="git is not installed"),
              pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")]


def init(folder: Path) -> Path:
    assert GIT is not None
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([GIT, "init", "-q", str(folder)], check=True)
    return folder / ".git"


def arrange(kind: str, workspace: Path, elsewhere: Path) -> Path:
    """The repository as it arrives; returns the file Jetbox must not write."""
    if kind == "gitdir file":
        other = init(elsewhere / "other")
        (workspace / ".git").write_text(f"gitdir: {other}\n")
        return other / "info" / "exclude"
    own = init(workspace)
    if kind == "commondir":
        other = init(elsewhere / "other")
        (own / "commondir").write_text(f"{other}\n")
        return other / "info" / "exclude"
    shutil.rmtree(own / "info")
    if kind == "linked info":
        (elsewhere / "info").mkdir(parents=True)
        (own / "info").symlink_to(elsewhere / "info", target_is_directory=True)
        return elsewhere / "info" / "exclude"
    (own / "info").mkdir()
    elsewhere.mkdir(parents=True, exist_ok=True)
    (elsewhere / "exclude").write_text("# the person's\n")
    (own / "info" / "exclude").symlink_to(elsewhere / "exclude")
    return elsewhere / "exclude"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gitdir file", "commondir", "linked info", "linked exclude"])
def test_jetbox_never_writes_an_exclude_file_outside_the_workspace(
        workspace: Path, tmp_path: Path, kind: str) -> None:
    target = arrange(kind, workspace, tmp_path / "elsewhere")
    before = target.read_bytes() if target.exists() else None
    run = attack(workspace, [turn("write_file", path="a.py", content="A = 1\n")],
                 "--sandbox", "none")
    assert run.code == 3, run.err
    after = target.read_bytes() if target.exists() else None
    assert after == before, f"Jetbox wrote {target} outside the workspace"
    assert "will show in `git status`" in run.out + run.err, run.out + run.err
    if kind == "linked exclude":
        assert (workspace / ".git" / "info" / "exclude").is_symlink()


def test_a_plain_exclude_in_the_workspace_repository_is_written(workspace: Path) -> None:
    own = init(workspace)
    said: list[str] = []
    assert exclude_own_files(workspace, ["status.txt"], said.append) == ["/status.txt"]
    assert "/status.txt" in (own / "info" / "exclude").read_text() and said == []
    shutil.rmtree(own / "info")  # a real .git without info/: git init's own shape, less one
    assert exclude_own_files(workspace, ["status.txt"], said.append) == ["/status.txt"]
    assert (own / "info" / "exclude").is_file() and said == []
