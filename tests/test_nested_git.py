"""No `.git` at any depth (any case, the names Windows and macOS take for it, a `.git` file
that points elsewhere) and no folder git takes for a repository is written by a tool or a
command: its config runs a command at the person's next `git status` there (issue 30,
item 1)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path, PureWindowsPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jetbox.exec.sandbox import bwrap_usable
from jetbox.store.workspace import is_git_name
from jetbox.tools.paths import PathRefused, is_protected, jail
from tests.attackkit import attack, tool_outputs, turn

FSMONITOR = "[core]\n\trepositoryformatversion = 0\n\tfsmonitor = touch {marker}\n"
# A command that makes a repository in a new folder (with a `.git`, and a bare one), and
# writes into a `.git` the repository shipped (read-only under bwrap).
PLANT = """\
import pathlib
for folder in ("made/.git", "made/.git/objects", "made/.git/refs"):
    pathlib.Path(folder).mkdir(parents=True, exist_ok=True)
pathlib.Path("made/.git/HEAD").write_text("ref: refs/heads/main\\n")
pathlib.Path("made/.git/config").write_text({config!r})
for folder in ("bare/objects", "bare/refs"):
    pathlib.Path(folder).mkdir(parents=True, exist_ok=True)
pathlib.Path("bare/HEAD").write_text("ref: refs/heads/main\\n")
pathlib.Path("bare/config").write_text({config!r}.replace("[core]", "[core]\\n\\tbare = true"))
try:
    pathlib.Path("vendor/lib/.git/config").write_text({config!r})
    print("shipped .git written")
except OSError as exc:
    print("shipped .git refused", exc.strerror)
"""


def needs_bwrap() -> None:
    if not bwrap_usable():
        print("SKIP: bubblewrap is not usable here (CI installs it)")
        pytest.skip("bubblewrap is not usable here")


@pytest.mark.parametrize("name", [".git", ".GIT", ".Git", ".git.", ".git ", ".git. .",
                                  "GIT~1", ".g\u200cit", "\ufeff.git"])
def test_every_name_git_or_a_file_system_takes_for_dot_git_is_protected(name: str) -> None:
    assert is_git_name(name)
    # Windows path rules: `pkg\.GIT\config` has the parts a POSIX `pkg/.GIT/config` has.
    relative = "/".join(PureWindowsPath(f"pkg\\deep\\{name}\\config").parts)
    assert is_protected(relative), relative
    assert is_protected(f"pkg/{name}")  # a `.git` file (`gitdir: ...`) too


@given(cases=st.lists(st.booleans(), min_size=4, max_size=4),
       ignorable=st.lists(st.tuples(st.integers(0, 4), st.sampled_from("\u200c\u200d\u200e"
                                                                      "\u202a\u206a\ufeff"))),
       tail=st.text(". ", max_size=3))
def test_dot_git_in_any_case_with_ignorable_code_points_and_trailing_dots_is_git(
        cases: list[bool], ignorable: list[tuple[int, str]], tail: str) -> None:
    name = "".join(ch.upper() if up else ch for ch, up in zip(".git", cases, strict=True))
    for where, mark in ignorable:
        name = name[:where] + mark + name[where:]
    assert is_git_name(name + tail) and is_protected(f"deep/{name + tail}/config")


@pytest.mark.parametrize("name", ["git", ".gitignore", ".github", "a.git", ".gitattributes"])
def test_names_that_only_look_like_git_stay_writable(name: str) -> None:
    assert not is_git_name(name) and not is_protected(f"pkg/{name}")


def test_a_folder_git_would_take_for_a_repository_is_not_made_or_written(
        workspace: Path) -> None:
    """A bare repository needs no `.git`: HEAD, objects/ and refs/ make one."""
    (workspace / "bare" / "objects").mkdir(parents=True)
    (workspace / "bare" / "HEAD").write_text("ref: refs/heads/main\n")
    assert jail(workspace, "bare/objects/keep", for_write=True)  # not yet a repository
    with pytest.raises(PathRefused, match="git's file"):
        jail(workspace, "bare/refs/heads/main", for_write=True)
    (workspace / "bare" / "refs").mkdir()
    with pytest.raises(PathRefused, match="git's file"):
        jail(workspace, "bare/config", for_write=True)
    (workspace / "linked").mkdir()
    (workspace / "linked" / "commondir").write_text("../bare\n")  # a worktree's gitdir
    with pytest.raises(PathRefused, match="git's file"):
        jail(workspace, "linked/HEAD", for_write=True)


@pytest.mark.slow
@pytest.mark.parametrize("sandbox", ["bwrap", "none"])
def test_a_nested_git_is_never_written_by_a_tool_or_a_command(
        workspace: Path, tmp_path: Path, sandbox: str) -> None:
    if sandbox == "bwrap":
        needs_bwrap()
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    marker = tmp_path / "fsmonitor-ran-on-the-host"
    config = FSMONITOR.format(marker=marker)
    shipped = workspace / "vendor" / "lib"
    shipped.mkdir(parents=True)
    subprocess.run([git, "init", "-q", str(shipped)], check=True)
    (workspace / "plant.py").write_text(PLANT.format(config=config))
    turns = [turn("write_file", path="pkg/.git/HEAD", content="ref: refs/heads/main\n"),
             turn("write_file", path="pkg/.GIT/config", content=config),
             turn("write_file", path="pkg/.git", content="gitdir: ../evil\n"),
             turn("write_file", path="evil/HEAD", content="ref: refs/heads/main\n"),
             turn("write_file", path="evil/objects/keep", content=""),
             turn("write_file", path="evil/refs/keep", content=""),
             turn("run_cmd", cmd=["python", "plant.py"])]
    run = attack(workspace, turns, "--sandbox", sandbox)
    assert run.code == 3, run.err
    outputs = tool_outputs(workspace)
    for refused in (0, 1, 2, 5):
        assert "refused" in outputs[refused] and "git's" in outputs[refused], outputs
    assert "the command created made/.git, which only a person may create; removed" \
        in outputs[6], outputs[6]
    assert "the command created bare, which only a person may create; removed" in outputs[6]
    assert not (workspace / "pkg").exists() and not (workspace / "made" / ".git").exists()
    assert not (workspace / "bare").exists()
    if sandbox == "bwrap":
        assert "shipped .git refused Read-only file system" in outputs[6], outputs[6]
        assert "fsmonitor" not in (shipped / ".git" / "config").read_text()
    # The person's shell prompt runs `git status` wherever they go.
    for folder in (workspace / "made", workspace / "evil", workspace / "pkg", workspace / "bare"):
        if folder.is_dir():
            subprocess.run([git, "status"], cwd=folder, capture_output=True, check=False,
                           env={**os.environ, "GIT_CEILING_DIRECTORIES": str(workspace)})
    if sandbox == "bwrap":
        subprocess.run([git, "status"], cwd=shipped, capture_output=True, check=False)
    assert not marker.exists(), "a model-written git config ran a command on the host"
