"""Typed ledger records (issue 24): one dataclass per kind, the same JSON lines on disk."""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest

from jetbox.offline import OfflineOllama
from jetbox.offline.solvers import LineFixer
from jetbox.store import kinds
from jetbox.store.kinds import KINDS, Unknown, from_body
from jetbox.store.ledger import Ledger, seal
from jetbox.tools import schemas
from tests.conftest import run_cli
from tests.realprojects import plant_bug, unpack

DATA = Path(__file__).parent / "data"


def old_bodies() -> list[dict]:
    """The bodies (crc removed) of the ledger Jetbox wrote before records were typed."""
    with tarfile.open(DATA / "v1_run.tar.gz") as tar:
        member = tar.extractfile("ws/agent_ledger.log")
        assert member is not None
        lines = member.read().decode("utf-8").splitlines()
    bodies = [json.loads(line) for line in lines]
    for body in bodies:
        body.pop("crc")
    return bodies


def test_an_old_ledger_line_reads_typed_and_writes_back_the_same_line() -> None:
    bodies = old_bodies()
    assert {b["kind"] for b in bodies} >= {"run_start", "intent", "result", "tool_result",
                                           "model_reply", "files_changed", "refusal"}
    for body in bodies:
        record = from_body(body)
        assert type(record) is KINDS[body["kind"]] and not record.extra, body["kind"]
        assert record.to_body() == body  # the same keys and values, none added or lost
        assert list(record.to_body())[:3] == ["seq", "ts", "kind"]
        assert seal(record.to_body()) == seal(body)  # the same line, keys in the same order


def test_a_model_reply_is_the_value_and_its_line_keeps_the_ledger_form() -> None:
    # What a model returns is the record: its line keeps the first 4,000 characters of the
    # thinking and how long it was, the durations in ms, each call as {name, arguments}.
    reply = kinds.ModelReply(round=2, content="ok\ud800", thinking="t" * 4100,
                             calls=(kinds.ToolCall("run_cmd", {"cmd": ("pytest",)}),
                                    kinds.ToolCall("finish", "not an object")),
                             duration_s=1.23456, load_s=0.0004, first_token_s=0.5)
    body = reply.to_body()
    assert list(body) == ["seq", "ts", "kind", "round", "content", "thinking_chars", "thinking",
                          "calls", "prompt_tokens", "output_tokens", "duration_s", "load_s",
                          "first_token_s", "recovered", "problem", "delivery"]
    assert body["content"] == "ok\\ud800" and body["thinking_chars"] == 4100
    assert body["thinking"] == "t" * 4000 and reply.thinking == "t" * 4100
    assert body["calls"] == [{"name": "run_cmd", "arguments": {"cmd": ["pytest"]}},
                             {"name": "finish", "arguments": "not an object"}]
    assert (body["duration_s"], body["load_s"], body["first_token_s"]) == (1.235, 0.0, 0.5)
    read = from_body(json.loads(json.dumps(body)))
    assert isinstance(read, kinds.ModelReply) and read.calls == reply.calls
    assert read.thinking == "t" * 4000 and read.thinking_chars == 4100 and read.to_body() == body
    # An entry that is not a call (a hand-edited or damaged line) reads as `?`.
    odd = from_body({**body, "calls": [5, {"arguments": {"a": 1}}]})
    assert isinstance(odd, kinds.ModelReply)
    assert [(c.name, c.arguments) for c in odd.calls] == [("?", {}), ("?", {"a": 1})]


def test_every_kind_is_a_frozen_dataclass_named_once() -> None:
    assert len(KINDS) == len({c.KIND for c in KINDS.values()}) >= 37
    for kind, cls in KINDS.items():
        record = cls()
        assert not cls.ORDER or set(cls.ORDER) == {f.name for f in fields(cls)} - {
            "seq", "ts", "extra"}, cls.__name__
        assert record.kind == kind and from_body(record.to_body()) == record
        with pytest.raises(FrozenInstanceError):
            record.seq = 9  # type: ignore[misc]
    assert schemas.ToolResult is kinds.ToolResult  # what the model sees is the record


def test_fields_written_only_sometimes_stay_absent_when_unset() -> None:
    cmd = kinds.Intent(action="cmd", argv=["pytest"], program="pytest", idempotent=True)
    assert "path" not in cmd.to_body() and "content" not in cmd.to_body()
    result = kinds.ToolResult("read_file", True, "1| x", round=2)
    assert "declined" not in result.to_body()
    assert kinds.ToolResult("run_cmd", False, "no", declined=True).to_body()["declined"] is True
    assert "config" not in kinds.Baseline().to_body()


def test_an_older_record_missing_fields_takes_the_defaults() -> None:
    probe = from_body({"seq": 4, "ts": 1.0, "kind": "probe", "round": 2})
    assert isinstance(probe, kinds.Probed) and probe.failures is None and probe.checks == []
    baseline = from_body({"seq": 3, "kind": "baseline", "findings": []})
    assert isinstance(baseline, kinds.Baseline) and baseline.config is None


def test_unknown_keys_and_kinds_load_and_are_written_back_unchanged(tmp_path: Path) -> None:
    newer = {"seq": 1, "ts": 2.5, "kind": "probe", "round": 1, "green": True,
             "flakiness": {"t.py::a": 0.1}, "extra": "a key named like the attribute"}
    probe = from_body(newer)
    assert isinstance(probe, kinds.Probed) and probe.green
    assert probe.extra == {"flakiness": {"t.py::a": 0.1}, "extra": "a key named like the "
                                                                   "attribute"}
    assert probe.to_body() == {**newer, "reused": False, "checks": [], "verdict": "",
                               "subprocesses": 0, "changes": ""}
    future = {"seq": 2, "ts": 3.0, "kind": "hologram", "round": 1, "data": [1, 2]}
    record = from_body(future)
    assert isinstance(record, Unknown) and record.kind == "hologram"
    assert record.to_body() == future
    ledger = Ledger(tmp_path / "l.log", fsync=False)
    ledger.append(probe)
    ledger.append(record)
    again = Ledger(tmp_path / "l.log").records()
    assert [r.to_body() | {"ts": 0} for r in again] == [
        {**probe.to_body(), "ts": 0}, {**future, "ts": 0}]


def test_a_hostile_body_loads_without_a_crash() -> None:
    odd = {"seq": 7, "kind": "tool_result", "ok": "yes", "name": ["x"], "index": None,
           "arguments": "not a mapping", "output": 5}
    record = from_body(odd)
    assert isinstance(record, kinds.ToolResult) and record.name == ["x"]
    assert record.to_body()["arguments"] == "not a mapping"


def test_a_kind_jetbox_defines_is_written_as_its_class_and_a_custom_one_by_name(
        tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.log", fsync=False)
    with pytest.raises(TypeError, match="append Plan"):
        ledger.append("plan", items=["x"])
    cheered = ledger.append("celebrate", round=3)
    assert isinstance(cheered, Unknown) and cheered.kind == "celebrate"
    assert cheered.extra == {"round": 3} and cheered.seq == 1
    assert cheered != Unknown(seq=1, ts=cheered.ts, name="celebrate", extra={"round": 4})
    plan = ledger.append(kinds.Planned(round=3, items=["x"]))
    assert plan == kinds.Planned(seq=2, ts=plan.ts, round=3, items=["x"])
    assert Ledger(tmp_path / "l.log").records() == [cheered, plan]


def test_no_record_class_declares_a_field_the_header_owns() -> None:
    for cls in KINDS.values():
        names = {f.name for f in fields(cls)}
        assert "kind" not in names and "crc" not in names, cls.__name__


@pytest.mark.slow
def test_a_fix_on_a_real_project_writes_only_typed_records_that_read_back_exactly(
        tmp_path: Path) -> None:
    root = unpack("a", tmp_path)
    bug = plant_bug("a", root)
    fixer = LineFixer(root, bug.path, bug.pattern, bug.broken.strip(), bug.original.strip())
    with OfflineOllama(fixer) as server:
        result = run_cli("run", "Fix the bug that makes the tests fail", "-w", str(root),
                         "--host", server.host, "--sandbox", "none")
    assert result.code == 0, result.err
    lines = (root / "agent_ledger.log").read_text(encoding="utf-8").splitlines()
    records = Ledger(root / "agent_ledger.log").records()
    assert len(records) == len(lines)
    for line, record in zip(lines, records, strict=True):
        assert type(record) is KINDS[record.kind] and not record.extra, line[:80]
        assert seal(record.to_body()) == line + "\n"  # this version's own lines, exactly
    edits = [r for r in records if isinstance(r, kinds.Intent) and r.action == "edit"]
    assert [r.path for r in edits] == [bug.path]
    log = run_cli("log", "-w", str(root))
    assert f"edit_file {bug.path} -> ok" in log.out and "DONE:" in log.out


RAW_READ = re.compile(r"""\[["'](kind|seq|ts)["']\]|\.get\(["'](kind|seq)["']""")
RAW_WRITE = re.compile(r"""ledger\.append\(\s*(rec\.[A-Z_]+|["'][a-z_]+["'])""")


def test_outside_the_store_records_are_read_and_written_as_types() -> None:
    root = Path(__file__).resolve().parent.parent
    sources = [p for p in [*(root / "jetbox").rglob("*.py"), *(root / "states").rglob("*.py")]
               if "store" not in p.relative_to(root).parts]
    assert len(sources) > 50
    found = [f"{p.relative_to(root)}:{n}: {line.strip()}" for p in sources
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if RAW_READ.search(line) or RAW_WRITE.search(line)]
    assert found == []


def test_a_record_read_without_a_field_gets_the_default_and_its_own_list() -> None:
    """Read records are filled in place (no __init__, for speed): defaults must still hold,
    and a default list is each record's own."""
    from jetbox.store.kinds import RoundEnd, from_body

    one, two = (from_body({"seq": n, "ts": 1.0, "kind": "round"}) for n in (1, 2))
    assert isinstance(one, RoundEnd) and one == RoundEnd(seq=1, ts=1.0)
    assert one.next == [] and one.next is not two.next
    assert one.round == 0 and one.status == "" and one.extra == {}
