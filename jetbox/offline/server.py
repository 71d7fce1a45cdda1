"""The offline Ollama server itself: a loopback ThreadingHTTPServer on a free port, run in a
daemon thread, that records every chat request and asks the responder for the reply."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Sequence
from datetime import datetime
from http.server import ThreadingHTTPServer
from typing import Any

from jetbox.offline.catalog import now
from jetbox.offline.routes import OllamaHandler
from jetbox.offline.script import ChatRequest, FakeModel, Responder, Turn

POLL_S = 0.05  # how soon stop() is noticed


def _connectable(name: str) -> str:
    """Where a client reaches a server bound to `name` (every address: the loopback)."""
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(name, name)


class OfflineOllama:
    """`with OfflineOllama(responder) as server:` then `ollama.Client(host=server.host)`."""

    def __init__(self, responder: Responder, models: Sequence[FakeModel] = (FakeModel(),),
                 version: str = "0.12.3", address: tuple[str, int] = ("127.0.0.1", 0)
                 ) -> None:
        self.responder = responder
        self.address = address
        self.models = {m.name: m for m in models}
        self.version = version
        self.requests: list[ChatRequest] = []
        self._loaded: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        assert self._server is not None, "start() the server first"
        name, port = self._server.server_address[:2]
        assert isinstance(name, str)  # an IP server's address: (host, port[, flow, scope])
        name = _connectable(name)
        return f"http://[{name}]:{port}" if ":" in str(name) else f"http://{name}:{port}"

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self) -> OfflineOllama:
        handler = type("Handler", (OllamaHandler,), {"ollama": self})
        server_class = _QuietServer6 if ":" in self.address[0] else _QuietServer
        self._server = server_class(self.address, handler)
        self._server.daemon_threads = True
        # shutdown() waits for the loop's next poll: the default 0.5 s was half a second
        # on every server stopped (the test suite stops hundreds).
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": POLL_S}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            # shutdown() waits for the loop's next look, POLL_S away; a connection made
            # meanwhile wakes it at once (50 ms on every server stopped, before).
            stopper = threading.Thread(target=self._server.shutdown, daemon=True)
            stopper.start()
            self._wake()
            stopper.join()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _wake(self) -> None:
        assert self._server is not None
        name, port = self._server.server_address[:2]
        with contextlib.suppress(OSError), \
                socket.create_connection((_connectable(str(name)), port), timeout=1):
            pass

    def __enter__(self) -> OfflineOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def touch(self, model: str, unload: bool = False) -> None:
        """A request used the model: it is loaded now (or unloaded, for keep_alive 0)."""
        with self._lock:
            if unload:
                self._loaded.pop(model, None)
            else:
                self._loaded[model] = now()

    def forget(self, model: str) -> None:
        """`DELETE /api/delete`: the model leaves the catalog (and memory), as a deleted
        model leaves Ollama's."""
        with self._lock:
            self.models.pop(model, None)
            self._loaded.pop(model, None)

    def loaded_models(self) -> list[tuple[str, datetime]]:
        with self._lock:
            return sorted(self._loaded.items())

    def record(self, request: ChatRequest) -> Turn:
        self.touch(request.model)
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



class _QuietServer6(_QuietServer):
    address_family = socket.AF_INET6
