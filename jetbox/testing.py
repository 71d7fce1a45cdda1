"""An offline Ollama: a loopback server that speaks Ollama's API and replies from a script.

Tests drive the real `ollama` client against it; users can try a customised machine.yaml
with it on a machine without a GPU. Behaviour follows Ollama's routes.go as described in
shared/ollama-api.md: status codes, error bodies, NDJSON streams with no blank lines,
metrics on the final chunk, tool calls mid-stream or only in the final chunk (gpt-oss).
"""

from __future__ import annotations

import json
import random
import string
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Call:
    """One tool call the scripted model makes; str arguments are sent verbatim."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)


@dataclass(frozen=True)
class Turn:
    """One scripted reply, or one failure."""

    content: str = ""
    thinking: str = ""
    calls: tuple[Call, ...] = ()
    http_status: int | None = None  # answer this HTTP error with {"error": error}
    error: str | None = None
    stream_error: bool = False      # a few chunks, then a {"error": ...} line (status 200)
    delay_s: float = 0.0            # wait before the first byte (timeouts)
    partial_line: bool = False      # half a JSON line, then the stream ends (a dropped link)
    non_json_body: bool = False     # a 200 whose body is an HTML page (a proxy's error)
    endless_thinking: bool = False  # thinking chunks, one every 20 ms, forever
    prompt_tokens: int | None = None


@dataclass(frozen=True)
class FakeModel:
    name: str = "gpt-oss:20b"
    capabilities: tuple[str, ...] = ("completion", "tools", "thinking")
    context_length: int = 131072
    family: str = "gptoss"
    tool_style: str = "final"  # final (gpt-oss) | midstream (llama, qwen) | content (leaked)


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[dict[str, Any], ...]
    tools: tuple[dict[str, Any], ...] | None
    format: object | None
    options: dict[str, Any]
    think: object | None
    stream: bool
    raw: dict[str, Any]


Responder = Callable[[ChatRequest], Turn]


class ScriptResponder:
    """Replays turns in order; afterwards every request gets a 500."""

    def __init__(self, turns: Sequence[Turn]) -> None:
        self.turns = list(turns)
        self.calls = 0

    def __call__(self, request: ChatRequest) -> Turn:
        if self.calls >= len(self.turns):
            return Turn(http_status=500, error="offline script exhausted")
        self.calls += 1
        return self.turns[self.calls - 1]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _call_id() -> str:
    return "call_" + "".join(random.choices(string.ascii_lowercase + string.digits, k=8))


def _wire_call(call: Call, index: int) -> dict[str, Any]:
    return {"id": _call_id(), "function": {"index": index, "name": call.name,
                                           "arguments": call.arguments}}


def plan_chunks(model: FakeModel, request: ChatRequest, turn: Turn) -> list[dict[str, Any]]:
    """The messages of the stream, in order (the last one becomes the done chunk)."""
    chunks: list[dict[str, Any]] = []
    if turn.thinking and "thinking" in model.capabilities:
        chunks += [{"thinking": word} for word in _split(turn.thinking)]
    content, calls = turn.content, list(turn.calls)
    if calls and not request.tools:  # Jetbox's JSON protocol (structured outputs)
        first = calls[0]
        reply = {"tool": first.name, "args": first.arguments}
        if turn.thinking:
            reply["thought"] = turn.thinking
        content, calls = json.dumps(reply), []
    elif calls and model.tool_style == "content":
        leaked = "\n".join(json.dumps({"name": c.name, "arguments": c.arguments}) for c in calls)
        content, calls = f"{content}\n```json\n{leaked}\n```".strip(), []
    chunks += [{"content": word} for word in _split(content)]
    if calls and model.tool_style == "midstream":
        chunks.append({"tool_calls": [_wire_call(c, i) for i, c in enumerate(calls)]})
        calls = []
    chunks.append({"tool_calls": [_wire_call(calls[0], 0)]} if calls else {})
    return chunks


def _split(text: str) -> list[str]:
    if not text:
        return []
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


class OfflineOllama:
    """`with OfflineOllama(responder) as server:` then `ollama.Client(host=server.host)`."""

    def __init__(self, responder: Responder, models: Sequence[FakeModel] = (FakeModel(),),
                 version: str = "0.12.3") -> None:
        self.responder = responder
        self.models = {m.name: m for m in models}
        self.version = version
        self.requests: list[ChatRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        assert self._server is not None, "start() the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> OfflineOllama:
        handler = type("Handler", (_Handler,), {"ollama": self})
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OfflineOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, request: ChatRequest) -> Turn:
        with self._lock:
            self.requests.append(request)
            try:
                return self.responder(request)
            except Exception as exc:  # noqa: BLE001 - a broken script is a 500, not a hang
                return Turn(http_status=500, error=f"offline responder failed: "
                            f"{type(exc).__name__}: {exc}")

    def wait(self, seconds: float) -> None:
        """Sleep that stop() interrupts, so a hanging reply never blocks shutdown."""
        self._stopping.wait(seconds)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout the test wanted) is no error worth a traceback."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    ollama: OfflineOllama
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_HEAD(self) -> None:
        if self.path in ("/", "/api/version"):
            self._send(200, b"", "text/plain; charset=utf-8")
        else:
            self._send(404, b"404 page not found", "text/plain")

    def do_GET(self) -> None:
        routes = {"/": self._root, "/api/version": self._version, "/api/tags": self._tags,
                  "/api/ps": lambda: self._json(200, {"models": []})}
        if self.path in routes:
            routes[self.path]()
        elif self.path in ("/api/chat", "/api/show", "/api/generate"):
            self._send(405, b"405 method not allowed", "text/plain")
        else:
            self._send(404, b"404 page not found", "text/plain")

    def do_POST(self) -> None:
        body = self._body()
        if self.path == "/api/show":
            self._show(body)
        elif self.path == "/api/chat":
            self._chat(body)
        elif self.path in ("/", "/api/version", "/api/tags", "/api/ps"):
            self._send(405, b"405 method not allowed", "text/plain")
        else:
            self._send(404, b"404 page not found", "text/plain")

    def _body(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _root(self) -> None:
        self._send(200, b"Ollama is running", "text/plain; charset=utf-8")

    def _version(self) -> None:
        self._json(200, {"version": self.ollama.version})

    def _details(self, model: FakeModel) -> dict[str, Any]:
        return {"parent_model": "", "format": "gguf", "family": model.family,
                "families": [model.family], "parameter_size": "20.9B",
                "quantization_level": "MXFP4"}

    def _tags(self) -> None:
        self._json(200, {"models": [
            {"name": m.name, "model": m.name, "modified_at": "2025-08-05T14:03:12-07:00",
             "size": 13780173839, "digest": "0" * 64, "details": self._details(m)}
            for m in self.ollama.models.values()]})

    def _show(self, body: dict[str, Any] | None) -> None:
        name = (body or {}).get("model") or (body or {}).get("name")
        model = self.ollama.models.get(name or "")
        if model is None:
            self._error(404, f"model '{name}' not found")
            return
        self._json(200, {
            "modelfile": f"FROM {model.name}", "parameters": "", "template": "{{ .Prompt }}",
            "details": self._details(model), "capabilities": list(model.capabilities),
            "model_info": {"general.architecture": model.family,
                           f"{model.family}.context_length": model.context_length},
            "modified_at": "2025-08-05T14:03:12-07:00"})

    def _chat(self, body: dict[str, Any] | None) -> None:
        if body is None:
            self._error(400, "missing request body")
            return
        name = body.get("model")
        if not name:
            self._error(400, "model is required")
            return
        model = self.ollama.models.get(name)
        if model is None:
            self._error(404, f"model '{name}' not found")
            return
        problem = _refusal(model, body)
        if problem:
            self._error(400, problem)
            return
        stream = body.get("stream", True) is not False
        if not body.get("messages"):
            self._reply(model, [{}], stream, "load", Turn())
            return
        request = ChatRequest(name, tuple(body["messages"]), tuple(body["tools"]) if
                              body.get("tools") else None, body.get("format"),
                              body.get("options") or {}, body.get("think"), stream, body)
        turn = self.ollama.record(request)
        if turn.delay_s:
            self.ollama.wait(turn.delay_s)
        if turn.http_status:
            self._error(turn.http_status, turn.error or "error")
            return
        if turn.non_json_body:
            self._send(200, b"<html><body>502 Bad Gateway</body></html>\n", "text/html")
            return
        if turn.endless_thinking:
            self._think_forever(name)
            return
        self._reply(model, plan_chunks(model, request, turn), stream, "stop", turn, request)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _think_forever(self, name: str) -> None:
        """A model stuck thinking: chunks keep coming, `done` never does."""
        self._start_stream()
        self.close_connection = True
        try:
            while not self.ollama._stopping.is_set():
                line = {"model": name, "created_at": _now(), "done": False,
                        "message": {"role": "assistant", "content": "", "thinking": "hmm "}}
                self._chunk((json.dumps(line) + "\n").encode())
                self.ollama.wait(0.02)
        except OSError:
            return  # the client gave up and closed the connection

    def _reply(self, model: FakeModel, chunks: list[dict[str, Any]], stream: bool,
               done_reason: str, turn: Turn, request: ChatRequest | None = None) -> None:
        messages = [{"role": "assistant", "content": "", **c} for c in chunks]
        for message in messages:
            message["content"] = message.get("content", "")
        prompt = turn.prompt_tokens if turn.prompt_tokens is not None else \
            len(json.dumps(request.messages if request else [])) // 4
        metrics = {"total_duration": 2_310_000_000, "load_duration": 1_000_000,
                   "prompt_eval_count": max(prompt, 1), "prompt_eval_duration": 120_000_000,
                   "eval_count": max(len(chunks), 1), "eval_duration": 380_000_000}
        if not stream:
            self._json(200, _joined(model.name, messages, done_reason, metrics))
            return
        lines = list(_stream_lines(model.name, messages, done_reason, metrics, turn))
        self._start_stream()
        for line in lines:
            data = (json.dumps(line) + "\n").encode()
            if turn.partial_line:
                self._chunk(data[:len(data) // 2])
                self.close_connection = True
                break
            self._chunk(data)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _refusal(model: FakeModel, body: dict[str, Any]) -> str | None:
    """The 400s Ollama gives before generating anything."""
    if body.get("tools") and "tools" not in model.capabilities:
        return f"registry.ollama.ai/library/{model.name.split(':')[0]} does not support tools"
    think = body.get("think")
    if isinstance(think, str) and think not in ("low", "medium", "high", "max"):
        return f"invalid think value: {think!r}"
    if think and "thinking" not in model.capabilities:
        return f'"{model.name}" does not support thinking'
    return None


def _joined(name: str, messages: list[dict[str, Any]], done_reason: str,
            metrics: dict[str, int]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant",
                               "content": "".join(m["content"] for m in messages)}
    thinking = "".join(m.get("thinking", "") for m in messages)
    calls = [c for m in messages for c in m.get("tool_calls", [])]
    if thinking:
        message["thinking"] = thinking
    if calls:
        message["tool_calls"] = calls
    return {"model": name, "created_at": _now(), "message": message, "done": True,
            "done_reason": done_reason, **metrics}


def _stream_lines(name: str, messages: list[dict[str, Any]], done_reason: str,
                  metrics: dict[str, int], turn: Turn) -> Iterator[dict[str, Any]]:
    for index, message in enumerate(messages):
        if turn.stream_error and index == min(2, len(messages) - 1):
            yield {"error": turn.error or "an error was encountered while running the model"}
            return
        last = index == len(messages) - 1
        line = {"model": name, "created_at": _now(), "message": message, "done": last}
        if last:
            line.update({"done_reason": done_reason, **metrics})
        yield line
