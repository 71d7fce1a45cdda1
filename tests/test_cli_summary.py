"""`jetbox --version`, and a summary whose counts say what they count."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from jetbox.offline import OfflineOllama
from tests.conftest import MATHX_GOAL, ROOT, run_cli

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_the_package_version(flag: str) -> None:
    result = run_cli(flag)
    assert result.code == 0, result.err
    assert result.out == f"jetbox {metadata.version('jetbox')}\n"


def test_version_works_as_a_command() -> None:
    done = subprocess.run([sys.executable, "-m", "jetbox", "--version"], cwd=ROOT,
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0 and re.fullmatch(r"jetbox \d+\.\d+\.\d+\S*\n", done.stdout)


def row(err: str, name: str) -> str:
    match = re.search(rf"^  {name}\s+(.*)$", err, re.M)
    assert match, f"no `{name}` row in:\n{err}"
    return match.group(1)


def test_summary_counts_completed_rounds_and_names_where_it_stopped(
        workspace: Path, mathx_server: OfflineOllama) -> None:
    """The mathx script needs four rounds; the fifth only verifies (Probe, then Done)."""
    paused = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                     "--sandbox", "none", "--max-rounds", "3")
    assert paused.code == 3, paused.err
    assert row(paused.out, "rounds completed") == "3 this session, 3 in the run"
    assert row(paused.out, "stopped in") == "round 4, state Probe"
    done = run_cli("run", "-w", str(workspace), "--host", mathx_server.host,
                   "--sandbox", "none")
    assert done.code == 0, done.err
    assert row(done.out, "rounds completed") == "1 this session, 4 in the run"
    assert row(done.out, "stopped in") == "round 5, state Done"
