"""The offline Ollama server itself: a loopback ThreadingHTTPServer on a free port, run in a
daemon thread, that records every chat request and asks the responder for the reply."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from http.server import ThreadingHTTPServer
from typing import Any

from jetbox.offline.routes import OllamaHandler
from jetbox.offline.script import ChatRequest, FakeModel, Responder, Turn


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
        handler = type("Handler", (OllamaHandler,), {"ollama": self})
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

    def stopping(self) -> bool:
        return self._stopping.is_set()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout the test wanted) is no error worth a traceback."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

