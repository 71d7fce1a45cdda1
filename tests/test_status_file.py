"""status.txt: lenient to read (CRLF, BOM, edits), atomic to write, rebuilt when garbled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetbox.errors import StatusError
from jetbox.status import Status, StatusFile, parse
from jetbox.testing import OfflineOllama
from tests.conftest import MATHX_GOAL, run_cli, status_fields


def test_render_and_parse_round_trip_with_crlf_and_bom() -> None:
    status = Status("g", "green - ok", ("a",), ("x", "y"), ("n",), "Act", 4, (("Owner", "me"),))
    text = "\ufeff" + status.render().replace("\n", "\r\n")
    assert parse(text) == status


def test_parse_needs_a_goal() -> None:
    with pytest.raises(StatusError, match="no `Goal:` line"):
        parse("State: Probe\n")


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    status_file = StatusFile(tmp_path / "status.txt")
    status_file.write(Status("g", state="Probe"))
    status_file.write(Status("g", state="Compact"))
    assert [p.name for p in tmp_path.iterdir()] == ["status.txt"]
    assert status_file.read().state == "Compact"


@pytest.mark.parametrize("damage", ["missing", "empty", "garbage"])
def test_status_is_rebuilt_from_the_ledger(damage: str, workspace: Path,
                                           mathx_server: OfflineOllama) -> None:
    run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
            "--max-rounds", "1", "--sandbox", "none")
    path = workspace / "status.txt"
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(b"" if damage == "empty" else b"\x00\xff<<garbage>>\n")
    result = run_cli("run", "-w", str(workspace), "--host", mathx_server.host,
                     "--sandbox", "none")
    assert result.code == 0, result.err
    records = [json.loads(x) for x in (workspace / "agent_ledger.log").read_text().splitlines()]
    rebuilt = [r for r in records if r["kind"] == "status_rebuilt"]
    assert len(rebuilt) == 1 and damage in rebuilt[0]["reason"] or "unreadable" in \
        rebuilt[0]["reason"]
    resume = next(r for r in records if r["kind"] == "resume")
    assert (resume["state"], resume["round"]) == ("Probe", 2)


def test_ledger_wins_when_status_disagrees(workspace: Path, mathx_server: OfflineOllama) -> None:
    run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
            "--max-rounds", "1", "--sandbox", "none")
    path = workspace / "status.txt"
    path.write_text(path.read_text().replace("State: Probe", "State: Reflect"))
    run_cli("run", "-w", str(workspace), "--host", mathx_server.host, "--max-rounds", "1",
            "--sandbox", "none")
    records = [json.loads(x) for x in (workspace / "agent_ledger.log").read_text().splitlines()]
    disagree = next(r for r in records if r["kind"] == "status_disagrees")
    assert (disagree["status_state"], disagree["state"]) == ("Reflect", "Probe")
    assert status_fields(workspace)["Round"] == "3"
