"""A ledger written before records were typed still reads and resumes the same.

tests/data/v1_run.tar.gz is a real workspace that Jetbox (commit 5ccfb11, dict records)
paused with --max-rounds 3 after a write, an edit, a refused read and a command;
tests/data/v1_run.json is what that code printed for it (`jetbox log`) and how it resumed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.store.ledger import Ledger
from tests.conftest import run_cli
from tests.realprojects import _extract

DATA = Path(__file__).parent / "data"
EXPECTED = json.loads((DATA / "v1_run.json").read_text(encoding="utf-8"))


@pytest.fixture
def old_workspace(tmp_path: Path) -> Path:
    return _extract(DATA / "v1_run.tar.gz", tmp_path)  # the folder is named ws


def test_jetbox_log_reads_an_old_ledger_as_before(old_workspace: Path) -> None:
    result = run_cli("log", "-w", str(old_workspace))
    assert result.code == 0, result.err
    # The first 8 characters are the local time of day: they depend on the time zone.
    assert [line[8:] for line in result.out.splitlines()] == EXPECTED["log_without_times"]


def test_an_old_ledger_loads_every_line(old_workspace: Path) -> None:
    lines = (old_workspace / "agent_ledger.log").read_text(encoding="utf-8").splitlines()
    records = Ledger(old_workspace / "agent_ledger.log").records()
    assert len(records) == len(lines) == 50
    assert [r.seq for r in records] == list(range(1, 51))


@pytest.mark.slow
def test_jetbox_run_resumes_an_old_ledger_to_the_same_end(old_workspace: Path) -> None:
    ledger = old_workspace / "agent_ledger.log"
    before = ledger.read_text(encoding="utf-8")
    script = [Turn(calls=(Call("finish", {"summary": "sub added"}),))]
    with OfflineOllama(ScriptResponder(script)) as server:
        # --trust-config: the machine file the old run used lived in another checkout.
        result = run_cli("run", "-w", str(old_workspace), "--host", server.host,
                         "--sandbox", "none", "--max-rounds", "3", "--trust-config")
    assert result.code == 0, result.err
    text = ledger.read_text(encoding="utf-8")
    assert text.startswith(before)  # appended to, never rewritten
    resumed = [json.loads(line)["kind"] for line in text[len(before):].splitlines()]
    assert [k for k in resumed if k != "config_trusted"] == EXPECTED["resumed_kinds"]
    status = (old_workspace / "status.txt").read_text(encoding="utf-8")
    assert status == EXPECTED["status_after_resume"]
    assert "return a - b" in (old_workspace / "calc" / "sub.py").read_text(encoding="utf-8")
