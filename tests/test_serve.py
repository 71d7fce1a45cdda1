"""`jetbox serve`: the offline server in the foreground, as a person starts and stops it."""

from __future__ import annotations

import json
import re
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import ollama
import pytest

from jetbox.commands.diag import server_version
from jetbox.commands.serve import DEFAULT_PORT, listen_address
from jetbox.model.host import parse_host
from jetbox.offline import Call, ChatRequest, OfflineOllama, Turn
from jetbox.offline.replay import ChatScript, ledger_turns, script_file_turns
from jetbox.offline.solvers import MathxSolver
from jetbox.store.kinds import ModelReply, ToolCall, ToolResult
from jetbox.store.ledger import Ledger
from jetbox.tools.schemas import tool_specs
from tests.conftest import MATHX_GOAL, jetbox_process, run_cli


def _started(*argv: str, cwd: Path | None = None):
    process = jetbox_process("serve", "--host", "127.0.0.1:0", *argv, cwd=cwd)
    assert process.stdout is not None
    banner = [process.stdout.readline() for _ in range(6)]
    match = re.search(r"Jetbox offline server at (http://127\.0\.0\.1:\d+)", banner[0])
    assert match, "".join(banner) + (process.stderr.read() if process.poll() else "")
    return process, match.group(1), "".join(banner)


@pytest.mark.slow  # a run in a child process, on a terminal or a pipe
@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT, which Windows lacks")
def test_serve_answers_the_ollama_client_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    process, host, banner = _started("--script", "chat", cwd=tmp_path)
    try:
        assert f'jetbox run "GOAL" --host {host}' in banner and f"base_url={host}/v1" in banner
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
    assert result.code == 2 and "cannot listen on" in result.err and "--port" in result.err
    assert "another Jetbox offline server answers there" in result.err


class _OtherOllama(BaseHTTPRequestHandler):
    """A server that answers /api/version as a real Ollama does: no Server header naming
    Jetbox, only {"version"}."""

    def do_GET(self) -> None:
        data = json.dumps({"version": "0.13.0"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def version_string(self) -> str:
        return ""

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def other_ollama() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtherOllama)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_serve_refuses_a_port_where_ollama_answers_and_diag_tells_them_apart(
        other_ollama: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", f"0.0.0.0:{other_ollama}")  # binds every interface
    refused = run_cli("serve", "--script", "chat")
    assert refused.code == 2, refused.err
    assert f"cannot listen on 0.0.0.0:{other_ollama}: Ollama 0.13.0 answers there" \
        in refused.err
    assert server_version(parse_host(f"127.0.0.1:{other_ollama}")) == ("0.13.0", "Ollama")
    with OfflineOllama(MathxSolver(".")) as offline:
        assert server_version(parse_host(offline.host)) == ("0.12.3", "Jetbox offline server")


def test_the_address_defaults_next_to_ollamas_and_the_flags_win_over_ollama_host() -> None:
    def where(host: str | None, port: int | None, env: str | None) -> tuple[str, int]:
        address = listen_address(host, port, env)
        return address.name, address.port

    assert DEFAULT_PORT == 11435
    assert where(None, None, None) == ("127.0.0.1", 11435)
    assert where(None, None, "") == ("127.0.0.1", 11435)
    assert where(None, None, "0.0.0.0") == ("0.0.0.0", 11435)   # as `ollama serve` reads it
    assert where(None, None, ":8080") == ("127.0.0.1", 8080)
    assert where(None, None, "http://10.1.2.3:9000") == ("10.1.2.3", 9000)
    assert where("127.0.0.2", None, "0.0.0.0:8080") == ("127.0.0.2", 11435)
    assert where("127.0.0.2:7000", 7100, "0.0.0.0:8080") == ("127.0.0.2", 7100)
    assert where(None, 7200, "0.0.0.0:8080") == ("0.0.0.0", 7200)
    bad = run_cli("serve", "--port", "70000")
    assert bad.code == 2 and "--port 70000" in bad.err


def test_serve_listens_where_ollama_host_says(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = jetbox_process("serve", "--script", "chat", cwd=tmp_path,
                             env={"OLLAMA_HOST": f"127.0.0.1:{port}"})
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert f"Jetbox offline server at http://127.0.0.1:{port}" in banner, \
            banner + (process.stderr.read() if process.poll() is not None else "")
        version = httpx.get(f"http://127.0.0.1:{port}/api/version", timeout=10)
        assert version.headers["server"] == "Jetbox offline server"
    finally:
        process.kill()
        process.communicate(timeout=20)


def test_replay_turns_come_from_the_ledgers_model_replies(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "agent_ledger.log")
    ledger.append(ModelReply(round=1, content="", thinking="write it", calls=(
        ToolCall("write_file", {"path": "a.py", "content": "x"}),)))
    ledger.append(ToolResult("write_file", round=1))
    ledger.append(ModelReply(round=2, content="done", calls=(
        ToolCall("finish", {"summary": "ok"}), ToolCall("x", {}))))
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


def _jetbox_request(messages: list[dict[str, object]]) -> ChatRequest:
    return ChatRequest("gpt-oss:20b", tuple(messages), tuple(tool_specs()), None, {}, None,
                       True, {})


def test_the_chat_script_reads_the_projects_folder_then_finishes() -> None:
    chat = ChatScript()
    first = chat(_jetbox_request([{"role": "user", "content": "Look around"}]))
    assert first.calls == (Call("read_file", {"path": "."}),)  # not `text`, lines 0-0
    listed = {"role": "tool", "tool_name": "read_file", "content": "pkg/\ntests/"}
    second = chat(_jetbox_request([{"role": "user", "content": "Look around"}, listed]))
    (finish,) = second.calls
    assert finish.name == "finish" and "pkg/" in finish.arguments["summary"]
    refused = {"role": "tool", "tool_name": "finish", "content": "finish refused"}
    assert not chat(_jetbox_request([listed, refused])).calls


@pytest.mark.slow
def test_serve_chat_lets_jetbox_run_on_any_project(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("def add(a, b):\n    return a + b\n")
    process, host, _ = _started("--script", "chat", cwd=tmp_path)
    try:
        result = run_cli("run", "Look around", "-w", str(tmp_path), "--host", host,
                         "--sandbox", "none")
    finally:
        process.kill()
        process.communicate(timeout=20)
    assert result.code == 0, result.err
    assert "read_file . -> ok" in result.err and "refused" not in result.err


LOOK = """\
# one model reply per turn, in order
- thinking: Look at the project first.
  calls:
    - read_file: {path: .}
- calls:
    - {name: finish, arguments: {summary: looked around}}
- content: "[TOOL_CALLS]finish[ARGS]{}"
  done_reason: length
"""


def test_a_yaml_script_plays_its_turns_in_order(tmp_path: Path) -> None:
    script = tmp_path / "look.yaml"
    script.write_text(LOOK, encoding="utf-8")
    turns = script_file_turns(script)
    assert turns[0] == Turn(thinking="Look at the project first.",
                            calls=(Call("read_file", {"path": "."}),))
    assert turns[1].calls == (Call("finish", {"summary": "looked around"}),)
    assert turns[2] == Turn(content="[TOOL_CALLS]finish[ARGS]{}", done_reason="length")
    process, host, banner = _started("--script", str(script), cwd=tmp_path)
    try:
        client = ollama.Client(host=host, timeout=10)
        replies = [client.chat(model="gpt-oss:20b", stream=False, tools=tool_specs(),
                               messages=[{"role": "user", "content": "go"}])
                   for _ in range(3)]
        with pytest.raises(ollama.ResponseError, match="exhausted"):
            client.chat(model="gpt-oss:20b", messages=[{"role": "user", "content": "go"}])
    finally:
        process.kill()
        process.communicate(timeout=20)
    assert "the 3 turns scripted in" in banner
    assert replies[0].message.tool_calls[0].function.arguments == {"path": "."}
    assert replies[1].message.tool_calls[0].function.name == "finish"
    assert replies[2].done_reason == "length"


@pytest.mark.parametrize("text, message", [
    ("- calls: [{read_file: {path: .}, search: {pattern: x}}]", "a call is `NAME:"),
    ("- {contents: hi}", "unknown key contents"),
    ("calls: []", "must be a list of turns"),
    ("- calls: [", "not valid YAML"),
])
def test_a_broken_yaml_script_is_a_usage_error_that_says_where(tmp_path: Path, text: str,
                                                                message: str) -> None:
    script = tmp_path / "bad.yaml"
    script.write_text(text, encoding="utf-8")
    result = run_cli("serve", "--port", "0", "--script", str(script))
    assert result.code == 2 and message in result.err, result.err
    missing = run_cli("serve", "--port", "0", "--script", str(tmp_path / "none.yaml"))
    assert missing.code == 2 and "give mathx, chat or a YAML file" in missing.err
