"""What a person reads after a whole run through the offline server: `jetbox status` in
readable lines, counts that agree with their nouns, a probe line with its count."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jetbox.core.text import counted
from jetbox.offline import OfflineOllama
from tests.conftest import MATHX_GOAL, run_cli


def test_counted_agrees_with_its_noun() -> None:
    assert [counted(n, "call") for n in (0, 1, 2)] == ["0 calls", "1 call", "2 calls"]
    assert counted(1, "file written") == "1 file written"
    assert counted(3, "file written") == "3 files written"


@pytest.mark.slow  # a whole run with real ruff and pytest
def test_a_run_reads_well_in_its_lines_and_in_status(workspace: Path,
                                                     mathx_server: OfflineOllama) -> None:
    result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                     "--sandbox", "none")
    assert result.code == 0, result.err
    # The mathx solver makes one call per reply and runs pytest once.
    assert "1 calls" not in result.err and re.search(r"out, 1 call\)", result.err)
    assert re.search(r"run summary: 5 rounds, 4 model calls .*, 2 files written, "
                     r"1 command, 0 refusals", result.err), result.err
    # Before any test exists the focused pytest probe still says what it found.
    assert "pytest:  (" not in result.err and "(0 run now" not in result.err
    assert "pytest: no tests ran" in result.err

    status = run_cli("status", "-w", str(workspace), "-n", "100")
    assert status.code == 0, status.err
    events = status.out.split("(`jetbox log` shows them all):\n", 1)[1].splitlines()
    assert events and all(line.startswith("  ") for line in events)
    assert f"run started: {MATHX_GOAL}" in status.out  # whole, not cut at 60 characters
    assert "{'" not in status.out and "#1 run_start" not in status.out
    assert any("finish" in line and "-> ok" in line for line in events)
    log = run_cli("log", "-w", str(workspace)).out.splitlines()
    assert [line.strip() for line in log[-len(events):]] == [e.strip() for e in events]
