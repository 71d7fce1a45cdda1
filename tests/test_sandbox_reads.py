"""What code under bwrap can read, so docs/safety.md says what holds: the ledger, `.git/config`
and a venv are readable (the host is mounted read-only), the network is not, and writes stop
at the workspace (issue 30, item 11)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

from jetbox.exec.sandbox import bwrap_usable
from tests.attackkit import attack, tool_outputs, turn
from tests.conftest import ROOT

READ = """\
import pathlib, socket
for path in ("agent_ledger.log", ".git/config", ".venv/pyvenv.cfg"):
    print(path, "readable" if pathlib.Path(path).read_bytes() else "empty")
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    print("network reachable")
except OSError:
    print("network blocked")
"""


def test_safety_md_claims_no_read_protection_bwrap_does_not_give() -> None:
    text = " ".join((ROOT / "docs" / "safety.md").read_text(encoding="utf-8").split())
    assert not re.search(r"cannot[^.]*read Jetbox's files", text), \
        "docs/safety.md says code under bwrap cannot read Jetbox's files; it can"
    assert "**can read**" in text and "the repository itself is untrusted" in text


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="bubblewrap is Linux only")
@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_code_under_bwrap_reads_jetbox_files_git_and_venvs_but_reaches_no_network(
        workspace: Path) -> None:
    if not bwrap_usable():
        print("SKIP: bubblewrap is not usable here (CI installs it)")
        pytest.skip("bubblewrap is not usable here")
    subprocess.run([str(shutil.which("git")), "init", "-q", str(workspace)], check=True)
    venv.create(workspace / ".venv", with_pip=False, symlinks=True)
    (workspace / "peek.py").write_text(READ)
    run = attack(workspace, [turn("run_cmd", cmd=["python", "peek.py"])], "--sandbox", "bwrap")
    assert run.code == 3, run.err
    output = tool_outputs(workspace, "run_cmd")[0]
    for path in ("agent_ledger.log", ".git/config", ".venv/pyvenv.cfg"):
        assert f"{path} readable" in output, output
    assert "network blocked" in output, output
