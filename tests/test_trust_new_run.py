"""Configuration and venvs that appeared during a run are never trusted silently: not by a
resume, and not by `--fresh`, a new goal or `--trust-config` either; the person is shown
what changed and during which run, and accepts it explicitly (issue 18, item 9). A
person's own edit between runs is theirs and needs no flag."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jetbox.exec.sandbox import bwrap_usable
from jetbox.store.ledger import Ledger
from tests.attackkit import attack, tool_outputs, turn

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.name == "nt", reason="POSIX venv layout")]
MAKE_VENV = """\
import pathlib, sys, venv
venv.create(".venv", with_pip=False, symlinks=True)
site = pathlib.Path(".venv/lib/python%d.%d/site-packages" % sys.version_info[:2])
(site / "evil.pth").write_text("import pathlib; pathlib.Path({marker!r}).write_text('ran')\\n")
"""
PASS_ENV = ('[project]\nname = "p"\nversion = "0"\n\n[tool.jetbox]\n'
            'pass_env = "AWS_SECRET_ACCESS_KEY"\n')
PRINT_ENV = "import os\nprint(sorted(os.environ.items()))\n"


def test_a_venv_made_during_a_run_is_not_run_by_fresh_or_a_new_goal(
        workspace: Path, tmp_path: Path) -> None:
    if not bwrap_usable():
        print("SKIP: bubblewrap is not usable here (CI installs it)")
        pytest.skip("bubblewrap is not usable here")
    marker = tmp_path / "venv-python-ran-on-the-host"
    (workspace / "make_venv.py").write_text(MAKE_VENV.format(marker=str(marker)))
    first = attack(workspace, [turn("run_cmd", cmd=["python", "make_venv.py"])],
                   "--sandbox", "bwrap")
    assert first.code == 3 and (workspace / ".venv" / "pyvenv.cfg").is_file(), first.err
    resumed = attack(workspace, [turn("read_file", path="make_venv.py")], "--sandbox", "bwrap")
    assert resumed.code == 2 and "appeared since this run started" in resumed.err
    for flags, goal in ((("--fresh",), "Look around"), (("--fresh",), "Another goal")):
        again = attack(workspace, [turn("read_file", path="make_venv.py")], "--sandbox",
                       "bwrap", *flags, goal=goal)
        assert again.code == 2, again.err
        assert "the workspace's .venv/ (a virtual environment) appeared during run 1 " \
               "('Look around')" in again.err and "--trust-config" in again.err
    assert not marker.exists()
    accepted = attack(workspace, [turn("read_file", path="make_venv.py")], "--sandbox",
                      "bwrap", "--trust-config", "--fresh", goal="Another goal")
    assert accepted.code == 3, accepted.err
    assert "warning: configuration accepted with --trust-config: the workspace's .venv/" \
        in accepted.err
    assert not marker.exists()  # accepted, and still only ever run inside the sandbox


def test_a_pass_env_the_model_wrote_is_not_obeyed_by_the_next_goal(
        workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-9913")
    (workspace / "env.py").write_text(PRINT_ENV)
    first = attack(workspace, [turn("write_file", path="pyproject.toml", content=PASS_ENV)],
                   "--sandbox", "none")
    assert first.code == 3, first.err
    second = attack(workspace, [turn("run_cmd", cmd=["python", "env.py"])], "--sandbox",
                    "none", "--fresh", goal="Print the environment")
    assert second.code == 2, second.err
    assert "pyproject.toml [tool.jetbox] changed during run 1 ('Look around') (now sets " \
           "pass_env = 'AWS_SECRET_ACCESS_KEY')" in second.err
    assert "aws-secret-9913" not in (workspace / "agent_ledger.log").read_text()


def test_a_persons_edit_between_runs_needs_no_flag(workspace: Path) -> None:
    first = attack(workspace, [turn("read_file", path="notes.txt")], "--sandbox", "none")
    assert first.code == 3, first.err
    (workspace / "pyproject.toml").write_text('[tool.jetbox]\nstall_limit = 9\n')
    second = attack(workspace, [turn("read_file", path="pyproject.toml")], "--sandbox",
                    "none", "--fresh", goal="Another goal")
    assert second.code == 3, second.err
    assert "stall_limit" in tool_outputs(workspace)[-1]
    seen = Ledger(workspace / "agent_ledger.log").records()
    assert [r.kind for r in seen].count("config_seen") == 2  # one per session
