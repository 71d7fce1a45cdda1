"""`jetbox serve`: the offline server in the foreground, as a person starts and stops it."""

from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

import ollama
import pytest

from jetbox.offline import Call, OfflineOllama
from jetbox.offline.replay import ledger_turns
from jetbox.offline.solvers import MathxSolver
from jetbox.store.kinds import ModelReply, ToolResult
from jetbox.store.ledger import Ledger
from tests.conftest import MATHX_GOAL, jetbox_process, run_cli


def _started(*argv: str, cwd: Path | None = None):
    process = jetbox_process("serve", "--host", "127.0.0.1:0", *argv, cwd=cwd)
    assert process.stdout is not None
    banner = [process.stdout.readline() for _ in range(5)]
    match = re.search(r"offline Ollama at (http://127\.0\.0\.1:\d+)", banner[0])
    assert match, "".join(banner) + (process.stderr.read() if process.poll() else "")
    return process, match.group(1), "".join(banner)


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT, which Windows lacks")
def test_serve_answers_the_ollama_client_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    process, host, banner = _started("--script", "chat", cwd=tmp_path)
    try:
        assert f'jetbox run "GOAL" --host {host}' in banner
        client = ollama.Client(host=host, timeout=10)
        reply = client.chat(model="gpt-oss:20b", stream=False,
                            messages=[{"role": "user", "content": "hi"}])
        assert reply.message.content == "You said: hi"
        assert [m.model for m in client.ps().models] == ["gpt-oss:20b"]
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "stopped after 1 chat requests" in out and "Traceback" not in err


def test_a_taken_port_is_a_usage_error_that_says_what_to_do() -> None:
    with OfflineOllama(MathxSolver(".")) as server:
        taken = server.host.removeprefix("http://")
        result = run_cli("serve", "--host", taken)
    assert result.code == 2 and "cannot listen on" in result.err and "--host" in result.err


def test_replay_turns_come_from_the_ledgers_model_replies(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "agent_ledger.log")
    ledger.append(ModelReply(round=1, content="", thinking="write it", calls=[
        {"name": "write_file", "arguments": {"path": "a.py", "content": "x"}}]))
    ledger.append(ToolResult("write_file", round=1))
    ledger.append(ModelReply(round=2, content="done", calls=[
        {"name": "finish", "arguments": {"summary": "ok"}}, {"name": "x", "arguments": {}}]))
    turns = ledger_turns(tmp_path)  # the folder works as well as the file
    assert [[c.name for c in t.calls] for t in turns] == [["write_file"], ["finish", "x"]]
    assert turns[0].calls[0] == Call("write_file", {"path": "a.py", "content": "x"})
    assert turns[0].thinking == "write it" and turns[1].content == "done"
    empty = run_cli("serve", "--replay", str(tmp_path / "nowhere"))
    assert empty.code == 2 and "no ledger at" in empty.err


@pytest.mark.slow
def test_yesterdays_run_replays_against_a_new_folder(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    with OfflineOllama(MathxSolver(first)) as server:
        recorded = run_cli("run", MATHX_GOAL, "-w", str(first), "--host", server.host,
                           "--sandbox", "none")
    assert recorded.code == 0, recorded.err
    process, host, _ = _started("--replay", str(first / "agent_ledger.log"))
    try:
        again = run_cli("run", MATHX_GOAL, "-w", str(second), "--host", host,
                        "--sandbox", "none")
    finally:
        process.kill()
        process.communicate(timeout=20)
    assert again.code == 0, again.err
    assert (second / "mathx" / "__init__.py").read_text() == \
        (first / "mathx" / "__init__.py").read_text()
