"""A cloned repository's `.git/config` never runs a command through Jetbox's own git calls:
a clean filter on `*.py`, `core.fsmonitor`, hooks, a pager (issue 30, item 2)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from jetbox.exec.gitcmd import safe_git
from jetbox.exec.sandbox import bwrap_usable
from tests.attackkit import attack, turn

GIT = shutil.which("git")
pytestmark = pytest.mark.skipif(GIT is None, reason="git is not installed")


def git(root: Path, *args: str) -> None:
    assert GIT is not None
    subprocess.run([GIT, "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   cwd=root, check=True, capture_output=True)


def hostile_clone(root: Path, marker: Path) -> None:
    """What arrives with `git clone` and one `git config` line in a README's setup step:
    committed files, then configuration that runs `touch MARKER-...` on the host."""
    (root / "app.py").write_text("X = 1\n")
    (root / "notes.txt").write_text("n\n")
    (root / "odd.cfg").write_text("o\n")
    (root / ".gitattributes").write_text("*.py filter=x\n*.txt filter=p.q\n*.cfg filter=a=b\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "clone")
    for key, value in (("filter.x.clean", f"touch {marker}-clean; cat"),
                       ("filter.x.smudge", f"touch {marker}-smudge; cat"),
                       ("filter.x.required", "true"),
                       ("filter.p.q.process", f"touch {marker}-process"),
                       ("filter.a=b.clean", f"touch {marker}-odd; cat"),
                       ("core.fsmonitor", f"touch {marker}-fsmonitor"),
                       ("core.pager", f"touch {marker}-pager; cat"),
                       ("diff.external", f"touch {marker}-diff")):
        git(root, "config", key, value)
    hooks = root / ".git" / "hooks"
    for hook in ("post-index-change", "pre-commit", "post-checkout"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {marker}-hook\n")
        (hooks / hook).chmod(0o755)
    # A changed mtime makes `git status` hash the files again, through the clean filter.
    for name in ("app.py", "notes.txt", "odd.cfg"):
        os.utime(root / name, (2_000_000_000, 2_000_000_000))


def test_the_repository_filters_are_emptied_and_the_persons_own_kept(
        workspace: Path, tmp_path: Path) -> None:
    hostile_clone(workspace, tmp_path / "m")
    home = Path(os.environ["HOME"])
    (home / ".gitconfig").write_text('[filter "lfs"]\n\tclean = git-lfs clean -- %f\n')
    call = safe_git(str(GIT), workspace, "status")
    pairs = {call.argv[i + 1] for i, arg in enumerate(call.argv) if arg == "-c"}
    assert {"filter.x.clean=", "filter.x.smudge=", "filter.x.process=",
            "filter.x.required=false", "filter.p.q.process=", "core.fsmonitor=false",
            "core.sshCommand=", "diff.external=", "core.pager=cat"} <= pairs, pairs
    assert not any(pair.startswith("filter.lfs.") for pair in pairs)  # the person's own
    assert call.env["GIT_CONFIG_KEY_0"] == "filter.a=b.clean"  # -c would cut it at the `=`
    assert call.env["GIT_CONFIG_VALUE_0"] == "" and call.env["GIT_CONFIG_COUNT"] == "4"
    assert "--no-pager" in call.argv and call.env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert call.argv[-1] == "status"


@pytest.mark.slow
@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_a_whole_run_in_a_hostile_clone_runs_none_of_its_git_config(
        workspace: Path, tmp_path: Path, sandbox: str) -> None:
    """Jetbox's git calls run on the host whatever the sandbox: with bwrap too."""
    if sandbox == "bwrap" and not bwrap_usable():
        print("SKIP: bubblewrap is not usable here (CI installs it)")
        pytest.skip("bubblewrap is not usable here")
    marker = tmp_path / "ran"
    hostile_clone(workspace, marker)
    turns = [turn("write_file", path="extra.py", content="Y = 2\n"),
             turn("read_file", path="app.py")]
    run = attack(workspace, turns, "--sandbox", sandbox)
    assert run.code == 3, run.err
    assert (workspace / "extra.py").exists()
    ran = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ran"))
    assert ran == [], f"the repository's git configuration ran on the host: {ran}"
