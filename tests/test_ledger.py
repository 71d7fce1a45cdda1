"""The ledger: sealed lines, torn tails trimmed, damage in the middle reported by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetbox.core.errors import LedgerCorrupt
from jetbox.store.kinds import RunStart
from jetbox.store.ledger import Ledger
from tests.conftest import MATHX_GOAL, run_cli


def filled(path: Path, count: int = 3) -> Ledger:
    ledger = Ledger(path)
    for index in range(count):
        ledger.append("note", index=index, text="é ünïcode")
    return ledger


def test_each_line_is_json_with_seq_and_checksum(tmp_path: Path) -> None:
    filled(tmp_path / "l.log")
    records = [json.loads(line) for line in (tmp_path / "l.log").read_text("utf-8").splitlines()]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert all(len(r["crc"]) == 8 for r in records)


@pytest.mark.parametrize("tail", [
    b'{"seq": 4, "ts": 1, "kind": "no',            # half a record
    b'{"seq": 4, "kind": "x", "text": "\xc3',       # half a UTF-8 character
    b"\x00" * 64,                                   # zeros after a power cut
    b'{"seq": 4, "kind": "x"}\n\x00\x00\x00',       # a record with no checksum, then NULs
])
def test_torn_tail_is_trimmed_before_the_next_append(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "l.log"
    filled(path)
    with open(path, "ab") as handle:
        handle.write(tail)
    ledger = Ledger(path)
    assert len(ledger.records()) == 3
    ledger.append("after", ok=True)
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 5
    assert [r.seq for r in Ledger(path).records()] == [1, 2, 3, 4]


def test_damage_in_the_middle_names_the_line_and_how_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "l.log"
    filled(path, 5)
    lines = path.read_text("utf-8").splitlines()
    lines[2] = lines[2].replace('"index": 2', '"index": 9')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(LedgerCorrupt, match=r"line 3 is damaged.*move the file away"):
        Ledger(path).records()


def test_resume_refuses_a_damaged_ledger_with_exit_2(workspace: Path) -> None:
    path = workspace / "agent_ledger.log"
    filled(path, 4)
    text = path.read_text("utf-8").splitlines()
    text[1] = "garbage"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", "http://127.0.0.1:9")
    assert result.code == 2 and "line 2 is damaged" in result.err
    assert not (workspace / "status.txt").exists()


def test_current_run_starts_at_the_last_run_start(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.log")
    ledger.append(RunStart(goal="a"))
    ledger.append("note")
    ledger.append(RunStart(goal="b"))
    ledger.append("note")
    assert [r.seq for r in ledger.current_run()] == [3, 4]
