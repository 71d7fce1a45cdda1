"""A repository that ships `.jetbox` (or a folder in it, or `agent.log`) as a link gets a
clear refusal before anything is written: the ledger, the log, status.txt and copies of the
person's files never land outside the workspace (issue 30, item 6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jetbox.core.errors import EXIT_USAGE
from tests.attackkit import attack, turn

pytestmark = pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
SECRET = "API_KEY = 'sk-live-1234'\n"


def every_file(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.mark.slow
@pytest.mark.parametrize("link", [".jetbox", ".jetbox/objects", "agent.log"])
@pytest.mark.parametrize("state_dir", [".jetbox", None])
def test_a_linked_state_folder_is_refused_before_anything_is_written(
        workspace: Path, tmp_path: Path, link: str, state_dir: str | None) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (workspace / "secret_settings.py").write_text(SECRET)
    (workspace / link).parent.mkdir(parents=True, exist_ok=True)
    (workspace / link).symlink_to(elsewhere if link != "agent.log" else elsewhere / "log",
                                  target_is_directory=link != "agent.log")
    flags = ("--state-dir", state_dir) if state_dir else ()
    turns = [turn("edit_file", path="secret_settings.py", old="sk-live-1234", new="x"),
             turn("write_file", path="notes.txt", content="n\n")]
    run = attack(workspace, turns, "--sandbox", "none", *flags)
    assert every_file(elsewhere) == [], "Jetbox wrote outside the workspace"
    if link == "agent.log" and state_dir:
        assert run.code == 3, run.err  # the log is in .jetbox/: the link is not Jetbox's
        return
    assert run.code == EXIT_USAGE, (run.code, run.err)
    assert f"{link} is a link" in run.err and "not Jetbox's" in run.err, run.err
    assert (workspace / "secret_settings.py").read_text() == SECRET
    if link != "agent.log":  # the log opens after the run's first ledger record, in here
        assert not (workspace / "status.txt").exists()
        assert not (workspace / "agent_ledger.log").exists()
