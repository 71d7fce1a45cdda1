"""What reaches the disk when: a record that comes before a change outside the ledger is on
disk (fsync) before that change; the rest reach it with the round's sync, so a round costs
one fsync, not one per record and two per status.txt write. A kill loses nothing either way
(test_crash.py); these tests watch the real fsync and replace calls, they change neither."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.store.kinds import KINDS
from tests.conftest import run_cli, status_fields

pytestmark = pytest.mark.slow  # a whole run with its probes

READS = 6


def ledger_line_end(ledger: Path, path: str) -> int:
    """The byte offset just after the newest write or edit intent naming `path`."""
    end, found = 0, 0
    for line in ledger.read_bytes().splitlines(keepends=True):
        end += len(line)
        record = json.loads(line)
        if record["kind"] == "intent" and record.get("path") == path:
            found = end
    assert found, f"no intent for {path} in the ledger"
    return found


def test_each_intent_is_on_disk_before_its_file_changes_and_a_round_syncs_once(
        workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = workspace / "agent_ledger.log"
    synced = {"bytes": 0, "ledger": 0, "status": 0}
    checked: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        real_fsync(fd)
        info = os.fstat(fd)
        if ledger.exists() and os.path.samestat(info, ledger.stat()):
            synced["bytes"], synced["ledger"] = info.st_size, synced["ledger"] + 1
        elif (workspace / "status.txt").exists() and \
                os.path.samestat(info, (workspace / "status.txt").stat()):
            synced["status"] += 1

    def replace(src: str | Path, dst: str | Path) -> None:
        name = Path(dst).name
        if Path(dst).parent == workspace and name.startswith("mod"):
            assert ledger_line_end(ledger, name) <= synced["bytes"], \
                f"{name} changed before its intent was on disk"
            checked.append(name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    turns = [Turn(calls=(Call("write_file", {"path": "mod.py", "content": "X = 1\n"}),)),
             Turn(calls=(Call("edit_file", {"path": "mod.py", "old": "X = 1", "new": "X = 2"}),)),
             *[Turn(calls=(Call("search", {"pattern": f"X|{i}"}),)) for i in range(READS)],
             Turn(calls=(Call("finish", {"summary": "X is 2"}),))]
    with OfflineOllama(ScriptResponder(turns)) as server:
        result = run_cli("run", "set X in mod.py to 2", "-w", str(workspace), "--host",
                         server.host, "--sandbox", "none", "--quiet")
    assert result.code == 0, result.err
    assert status_fields(workspace)["State"] == "Done"
    assert checked == ["mod.py", "mod.py"]  # the write and the edit, each after its intent
    records = [json.loads(line) for line in ledger.read_text(encoding="utf-8").splitlines()]
    rounds = sum(r["kind"] == "transition" and r["dest"] == "Probe" for r in records) + 1
    durable = sum(KINDS[r["kind"]].DURABLE for r in records if r["kind"] in KINDS)
    assert synced["ledger"] <= rounds + durable < len(records) // 3
    assert synced["bytes"] == ledger.stat().st_size  # the run's end is on disk
    assert synced["status"] == 0  # status.txt is a view of the ledger: never synced
