"""One rule for text crossing a boundary: names that are not UTF-8, lone surrogates and
terminal escapes never crash Jetbox and never reach the person's terminal raw."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from jetbox.core.text import escape_name, escape_surrogates, for_terminal, unescape_name
from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.store.kinds import ModelReply, StatusEdited
from jetbox.store.ledger import Ledger
from jetbox.tools.paths import PathRefused, jail
from tests.conftest import run_cli

PASSING_TEST = "def test_ok():\n    assert 1 + 1 == 2\n"
CONTROL = [*map(chr, range(0x20)), "\x7f", *map(chr, range(0x80, 0xA0))]
NAMES = ["caf\udce9.txt", "a\\b", "\\", "\\\\x41", "x\x1by", "\x9b", "é", "\ud800", "a\udcc3(",
         "sub/caf\udce9/\udcff\udcfe.py", "plain.py", "tab\there", "new\nline"]


@pytest.mark.parametrize("name", NAMES)
def test_a_name_escapes_to_printable_utf8_and_maps_back_to_the_same_bytes(name: str) -> None:
    shown = escape_name(name)
    shown.encode("utf-8")  # never raises
    assert not any(char in shown for char in CONTROL)
    back = unescape_name(shown)
    assert back == name or os.fsencode(back) == os.fsencode(name)
    assert escape_name(back) == shown


@pytest.mark.slow  # many generated examples: the whole suite runs them
def test_names_and_terminal_text_hold_the_rule_for_arbitrary_text() -> None:
    hypothesis = pytest.importorskip("hypothesis", reason="hypothesis (dev extra) not installed")
    strategies = hypothesis.strategies
    text = strategies.text(alphabet=strategies.characters(exclude_categories=()))  # surrogates

    @hypothesis.settings(max_examples=400, deadline=None)
    @hypothesis.given(text)
    def check(value: str) -> None:
        shown = escape_name(value)
        shown.encode("utf-8")
        back = unescape_name(shown)
        assert escape_name(back) == shown  # the escaped form names exactly one thing
        if not any(0xD800 <= ord(c) < 0xDC80 or 0xDD00 <= ord(c) <= 0xDFFF for c in value):
            assert os.fsencode(back) == os.fsencode(value)
        for multiline in (False, True):
            safe = for_terminal(value, multiline)
            safe.encode("utf-8")
            assert not set(safe) & (set(CONTROL) - ({"\n", "\t"} if multiline else set()))

    check()


def test_the_escape_forms_are_the_documented_ones() -> None:
    assert escape_name("caf\udce9.txt") == "caf\\xe9.txt"
    assert escape_name("a\\xe9") == "a\\\\xe9"  # a literal backslash stays unambiguous
    assert unescape_name("a\\\\xe9") == "a\\xe9"
    assert escape_surrogates("x\ud800y\udce9") == "x\\ud800y\\xe9"
    with pytest.raises(ValueError, match="backslash must start"):
        unescape_name("dir\\file")


def test_for_terminal_lets_no_control_character_through() -> None:
    hostile = ("\x1b]52;c;ZWNobyBoaQ==\x07\x1b]0;title\x07\x1b[2J\x1b[H\x9b31m\r\x08"
               "\u202egnp.exe\ud800\udce9")
    for text in (for_terminal(hostile), for_terminal(hostile + "\n\t", multiline=True)):
        assert not any(char in text.replace("\n", "").replace("\t", "") for char in CONTROL)
        assert "\u202e" not in text
        text.encode("utf-8")
    assert for_terminal("a\x1b[2Jb\nc") == "a\\x1b[2Jb\\x0ac"
    assert for_terminal("a\nb\tc", multiline=True) == "a\nb\tc"


def test_jail_takes_an_escaped_name_back_and_refuses_what_no_file_can_be_named(
        tmp_path: Path) -> None:
    with open(os.fsencode(tmp_path) + b"/caf\xe9.txt", "wb") as handle:
        handle.write(b"latin\n")
    found = jail(tmp_path, "caf\\xe9.txt")
    assert found.relative == "caf\\xe9.txt" and found.absolute.read_bytes() == b"latin\n"
    with pytest.raises(PathRefused, match="not a valid file name"):
        jail(tmp_path, "a\\ud800.txt")
    with pytest.raises(PathRefused, match="control characters"):
        jail(tmp_path, "evil\\x1b.txt", for_write=True)
    with pytest.raises(PathRefused, match="use / to separate"):
        jail(tmp_path, "dir\\evil.txt")


def test_the_ledger_records_a_lone_surrogate_escaped_instead_of_crashing(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.log")
    ledger.append("note", text="x\ud800", names=["caf\udce9.txt"], nested={"k\udcff": 1})
    record = Ledger(tmp_path / "ledger.log").records()[0]
    assert (record.kind, record.extra) == ("note", {
        "text": "x\\ud800", "names": ["caf\\xe9.txt"], "nested": {"k\\xff": 1}})
    ledger.append(StatusEdited(text="y\udcff"))  # a kind Jetbox defines: the same rule
    assert Ledger(tmp_path / "ledger.log").records()[1] == StatusEdited(seq=2, text="y\\xff",
                                                                       ts=ledger.records()[1].ts)


def test_a_latin1_name_is_written_and_an_interrupted_write_resumes_on_the_same_file(
        tmp_path: Path) -> None:
    from jetbox.tools.recovery import resolve_write
    from jetbox.tools.toolbox import Toolbox

    raw = os.fsencode(tmp_path) + b"/caf\xe9.txt"
    with open(raw, "wb") as handle:
        handle.write(b"old\n")
    ledger = Ledger(tmp_path.parent / f"{tmp_path.name}.log")
    result = Toolbox(tmp_path, ledger).dispatch("write_file", {"path": "caf\\xe9.txt",
                                                               "content": "new\n"})
    assert result.ok and result.output == "wrote caf\\xe9.txt (4 bytes)"
    assert open(raw, "rb").read() == b"new\n"
    intent = next(r for r in ledger.records() if r.kind == "intent")
    os.remove(raw)  # as if Jetbox died before the write landed
    assert "completed after" in resolve_write(ledger, tmp_path, intent)[1]
    assert open(raw, "rb").read() == b"new\n"
    # No file under an escaped name; .jetbox holds the copy of the person's original.
    assert sorted(n for n in os.listdir(os.fsencode(tmp_path)) if n != b".jetbox") == \
        [b"caf\xe9.txt"]


def _run(workspace: Path, turns: list[Turn], max_rounds: int = 8) -> tuple[object, list]:
    with OfflineOllama(ScriptResponder(turns)) as server:
        result = run_cli("run", "g", "-w", str(workspace), "--host", server.host,
                         "--sandbox", "none", "--max-rounds", str(max_rounds))
        return result, [json.dumps(r.messages, ensure_ascii=False) for r in server.requests]


def _finishing() -> list[Turn]:
    return [Turn(calls=(Call("write_file", {"path": "test_ok.py", "content": PASSING_TEST}),)),
            Turn(calls=(Call("finish", {"summary": "done"}),))]


@pytest.mark.slow
def test_a_workspace_with_a_latin1_file_name_runs_to_done(workspace: Path) -> None:
    with open(os.fsencode(workspace) + b"/caf\xe9.txt", "wb") as handle:
        handle.write(b"bonjour from a latin-1 name\n")
    result, requests = _run(workspace, [
        Turn(calls=(Call("list_dir", {"path": "."}),)),
        Turn(calls=(Call("read_file", {"path": "caf\\xe9.txt"}),)), *_finishing()])
    assert result.code == 0, result.err
    assert "UnicodeEncodeError" not in result.err
    assert "caf\\\\xe9.txt (28 bytes)" in requests[1]  # list_dir, as JSON in the request
    assert "bonjour from a latin-1 name" in requests[2]  # read_file of the escaped name
    probes = [r for r in Ledger(workspace / "agent_ledger.log").records() if r.kind == "probe"]
    assert probes


@pytest.mark.slow
def test_a_lone_surrogate_in_a_reply_is_a_clear_refusal_not_a_crash(workspace: Path) -> None:
    result, requests = _run(workspace, [
        Turn(content="thinking \ud800 aloud",
             calls=(Call("write_file", {"path": "a\ud800.py", "content": "x = '\ud800'\n"}),)),
        Turn(calls=(Call("read_file", {"path": "b\udce9\ud800.txt"}),)), *_finishing()])
    assert result.code == 0, result.err
    assert "refused: 'a\\\\ud800.py' is not a valid file name" in requests[1]
    replies = [r for r in Ledger(workspace / "agent_ledger.log").records()
               if isinstance(r, ModelReply)]
    assert replies[0].content == "thinking \\ud800 aloud"  # recorded as received, escaped


@pytest.mark.slow
def test_terminal_escapes_from_the_model_never_reach_the_terminal(workspace: Path) -> None:
    osc52, clear = "\x1b]52;c;cm0gLXJmIH4=\x07", "\x1b[2J\x1b]0;pwned\x07\x9b2J"
    result, _ = _run(workspace, [
        Turn(calls=(Call("read_file", {"path": f"{osc52}{clear}.txt"}),)),
        Turn(calls=(Call("run_cmd", {"cmd": ["python", f"x{osc52}.py", clear]}),)),
        Turn(calls=(Call("list_dir", {"path": f"..{clear}"}),)), *_finishing()])
    assert result.code == 0, result.err
    assert "\\x1b]52;c;" in result.err  # shown, escaped
    log = run_cli("log", "-w", str(workspace))
    status = run_cli("status", "-w", str(workspace))
    agent_log = (workspace / "agent.log").read_text(encoding="utf-8")
    assert "\\x1b]52;c;" in log.out
    for text in (result.err, result.out, log.out, log.err, status.out, status.err, agent_log):
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
