"""HTTP plumbing of the offline server: JSON replies, error bodies, and chunked NDJSON
streams with no blank lines (the `ollama` client json-decodes every line)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

# Every reply names the server in its Server header (Ollama's own sends none), so a client
# such as `jetbox diag` can tell the stand-in from a real Ollama.
SERVER_NAME = "Jetbox offline server"


class BadBody(ValueError):
    """A request body that is not a JSON object; the message says what is wrong with it."""


class WireHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Ollama (Go) sends with TCP_NODELAY, as every Go TCP connection does. Without it a
    # reply's headers and body leave as two small writes, and on a kept-alive connection
    # the second waits for the client's delayed ACK: 40 ms added to every request after
    # the first, which Ollama never adds.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def version_string(self) -> str:
        return SERVER_NAME

    def body(self) -> dict[str, Any] | None:
        """The JSON object sent, None for no body; BadBody for anything else, so the client
        hears that its JSON is broken rather than that a field is missing."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise BadBody(f"the request body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadBody(f"the request body must be a JSON object, not "
                          f"{type(data).__name__}") from None
        return data

    def send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def json_reply(self, status: int, payload: dict[str, Any]) -> None:
        self.send(status, json.dumps(payload).encode(), "application/json; charset=utf-8")

    def fail(self, status: int, message: str) -> None:
        self.json_reply(status, {"error": message})

    def start_stream(self, content_type: str = "application/x-ndjson") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def ndjson(self, lines: list[dict[str, Any]], stream: bool) -> None:
        """All lines as a stream, or (stream=false) only the last one as the reply."""
        if not stream:
            self.json_reply(200, lines[-1])
            return
        self.start_stream()
        for line in lines:
            self.chunk((json.dumps(line) + "\n").encode())
        self.end_stream()
