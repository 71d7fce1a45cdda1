"""`search` goes through the same jail as read_file: a symlink out of the workspace, shipped
by the repository or made by a command, never returns the host file's text (issue 18, 7)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jetbox.exec.sandbox import bwrap_usable
from tests.attackkit import attack, tool_outputs, turn

SECRET = "aws_secret_access_key = HOSTSECRET1234"
MAKE_LINK = "import os\nos.symlink({target!r}, 'docs/made.txt')\n"


@pytest.fixture
def host_secret(tmp_path: Path) -> Path:
    """A credentials file on the host, outside the workspace."""
    secret = tmp_path / "home" / ".aws" / "credentials"
    secret.parent.mkdir(parents=True)
    secret.write_text(f"[default]\n{SECRET}\n")
    return secret


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_search_never_follows_a_link_out_of_the_workspace(workspace: Path, host_secret: Path,
                                                          sandbox: str) -> None:
    if sandbox == "bwrap" and not bwrap_usable():
        pytest.skip("bubblewrap is not usable here (CI installs it)")
    (workspace / "docs").mkdir()
    (workspace / "docs" / "notes.txt").symlink_to(host_secret)  # shipped by the repository
    (workspace / "make_link.py").write_text(MAKE_LINK.format(target=str(host_secret)))
    turns = [turn("search", pattern="HOSTSECRET"),
             turn("run_cmd", cmd=["python", "make_link.py"]),
             turn("search", pattern="HOSTSECRET", path="docs"),
             turn("read_file", path="docs/made.txt"),
             turn("list_dir", path="docs")]
    attack(workspace, turns, "--sandbox", sandbox)
    outputs = tool_outputs(workspace)
    assert (workspace / "docs" / "made.txt").is_symlink()  # the command did make its link
    assert len(outputs) == 5
    assert f"({host_secret.stat().st_size} bytes)" not in outputs[4]  # not even its size
    assert "notes.txt (a link out of the workspace" in outputs[4]
    for output in outputs:
        assert "HOSTSECRET" not in output.replace("'HOSTSECRET'", "")
    assert outputs[0].startswith("no match") and outputs[2].startswith("no match")
    assert "resolves outside" in outputs[3]  # read_file refuses the same path


@pytest.mark.slow
def test_a_match_on_the_first_line_shows_no_line_zero(workspace: Path) -> None:
    (workspace / "app.py").write_text("TARGET = 1\nmiddle = 2\nLAST_LINE = 3\n")
    attack(workspace, [turn("search", pattern="TARGET")], "--sandbox", "none")
    output = tool_outputs(workspace, "search")[0]
    assert "app.py\n1: TARGET = 1\n2- middle = 2" in output
    assert "\n0- " not in output and "\n0: " not in output and "LAST_LINE" not in output
