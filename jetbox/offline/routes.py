"""The offline server's HTTP handler: Ollama's routes, status codes and error bodies, and
the chunked NDJSON stream of /api/chat."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from jetbox.offline.script import ChatRequest, FakeModel, Turn
from jetbox.offline.wire import joined, now, plan_chunks, refusal, stream_lines

if TYPE_CHECKING:  # only for the annotation: offline_server imports this module
    from jetbox.offline.server import OfflineOllama


class OllamaHandler(BaseHTTPRequestHandler):
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
        problem = refusal(model, body)
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
        self._reply(model, plan_chunks(model, request, turn), stream,
                    turn.done_reason or "stop", turn, request)

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
                line = {"model": name, "created_at": now(), "done": False,
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
            self._json(200, joined(model.name, messages, done_reason, metrics))
            return
        lines = list(stream_lines(model.name, messages, done_reason, metrics, turn))
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
