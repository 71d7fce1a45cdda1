"""The HTTP transport under the `ollama` client: it reads each /api/chat line first and
turns tool-call arguments sent as a JSON string (some Ollama-compatible servers do) into the
object the client's validation requires, so such a reply is read, not rejected and retried."""

from __future__ import annotations

import functools
import json
import os
import ssl
from collections.abc import Iterator
from typing import Any

import httpx

from jetbox.model.calls import UNPARSED
from jetbox.model.nearjson import NearJsonError, loads


def tls() -> ssl.SSLContext:
    """httpx's default TLS context, for the certificate settings in force, built once per
    process: building one reads the whole CA bundle (about 20 ms), and each request, host
    check and model made a client, so a context, of its own."""
    return _tls(os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))


@functools.cache
def _tls(cert_file: str, cert_dir: str) -> ssl.SSLContext:
    return httpx.create_ssl_context()  # reads the same two variables


class RawRepair(httpx.BaseTransport):
    """Wraps a transport; `repaired` counts the calls whose arguments came as a string."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner = inner or httpx.HTTPTransport(verify=tls())
        self.repaired = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not request.url.path.endswith("/api/chat") or response.headers.get(
                "content-encoding"):
            return response
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() != "content-length"]
        return httpx.Response(response.status_code, headers=headers,
                              stream=_Lines(response.stream, self),
                              extensions=response.extensions)

    def close(self) -> None:
        self.inner.close()


class _Lines(httpx.SyncByteStream):
    def __init__(self, inner: Any, owner: RawRepair) -> None:
        self.inner = inner
        self.owner = owner

    def __iter__(self) -> Iterator[bytes]:
        pending = b""
        for chunk in self.inner:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield self._repair(line) + b"\n"
        if pending:
            yield self._repair(pending)

    def _repair(self, line: bytes) -> bytes:
        fixed, count = repair_line(line)
        self.owner.repaired += count
        return fixed

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def repair_line(line: bytes) -> tuple[bytes, int]:
    """One NDJSON line (or a whole JSON body) with string arguments made objects; how many."""
    try:
        data = json.loads(line)
    except ValueError:
        return line, 0  # not JSON: the client reports it, as before
    message = data.get("message") if isinstance(data, dict) else None
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    if not isinstance(calls, list):
        return line, 0
    count = 0
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and not isinstance(function.get("arguments"), dict):
            function["arguments"] = _as_object(function.get("arguments"))
            count += 1
    return (json.dumps(data).encode() if count else line), count


def _as_object(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            value = loads(raw) if raw.strip() else {}
        except NearJsonError:
            value = None
        if isinstance(value, dict):
            return value
    if raw is None:
        return {}
    return {UNPARSED: raw if isinstance(raw, str) else json.dumps(raw)}
