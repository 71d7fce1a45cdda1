"""The offline server's HTTP handler: Ollama's routes (chat, generate, embed, pull, show,
tags, ps, version, delete, and the OpenAI-compatible /v1 ones), their status codes and
error bodies."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from jetbox.offline import catalog
from jetbox.offline.openai import OpenAIRoutes
from jetbox.offline.script import ChatRequest, FakeModel, Turn
from jetbox.offline.stream import SERVER_NAME, BadBody, WireHandler
from jetbox.offline.wire import (
    Played,
    as_generate,
    joined,
    metrics,
    now,
    plan_chunks,
    refusal,
    stream_lines,
)


class Backend(Protocol):
    """What the HTTP handler asks of the server that owns it (OfflineOllama)."""

    version: str
    models: dict[str, FakeModel]

    @property
    def stopping(self) -> bool: ...
    def record(self, request: ChatRequest) -> Turn: ...
    def wait(self, seconds: float) -> None: ...
    def touch(self, model: str, unload: bool = False) -> None: ...
    def loaded_models(self) -> list[tuple[str, datetime]]: ...
    def forget(self, model: str) -> None: ...

# Ollama's routes: path -> (HTTP method, handler method). The /v1 ones are the
# OpenAI-compatible layer real Ollama serves too (offline.openai).
ROUTES: dict[str, tuple[str, str]] = {
    "/": ("GET", "get_root"), "/api/version": ("GET", "get_version"),
    "/api/tags": ("GET", "get_tags"), "/api/ps": ("GET", "get_ps"),
    "/api/chat": ("POST", "post_chat"), "/api/generate": ("POST", "post_generate"),
    "/api/show": ("POST", "post_show"), "/api/embed": ("POST", "post_embed"),
    "/api/embeddings": ("POST", "post_embeddings"), "/api/pull": ("POST", "post_pull"),
    "/api/delete": ("DELETE", "delete_model"),
    "/v1/chat/completions": ("POST", "openai_chat"),
    "/v1/completions": ("POST", "openai_completion"),
    "/v1/embeddings": ("POST", "openai_embeddings"),
    "/v1/models": ("GET", "openai_models"),
}
MODEL_PREFIX = "/v1/models/"  # GET /v1/models/{name}


class OllamaHandler(OpenAIRoutes, WireHandler):
    ollama: Backend

    def do_HEAD(self) -> None:
        if self._path() in ("/", "/api/version"):
            self.send(200, b"", "text/plain; charset=utf-8")
        else:
            self.send(404, b"404 page not found", "text/plain")

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _route(self, verb: str) -> None:
        path = self._path()
        if verb == "GET" and path.startswith(MODEL_PREFIX) and len(path) > len(MODEL_PREFIX):
            self.openai_model(path[len(MODEL_PREFIX):])
            return
        method, name = ROUTES.get(path, ("", ""))
        if not method:
            self.send(404, b"404 page not found", "text/plain")
            return
        if method != verb:
            self.send(405, b"405 method not allowed", "text/plain")
            return
        if verb == "GET":
            getattr(self, name)()
            return
        try:
            body = self.body()
        except BadBody as exc:
            self.bad_body(path, str(exc))
            return
        getattr(self, name)(body)

    def bad_body(self, path: str, message: str) -> None:
        if path.startswith("/v1/"):
            self.openai_fail(400, message)
        else:
            self.fail(400, message)

    def get_root(self) -> None:
        self.send(200, b"Ollama is running", "text/plain; charset=utf-8")

    def get_version(self) -> None:
        # Clients parse "version"; "server" tells a person reading it which server this is.
        self.json_reply(200, {"version": self.ollama.version, "server": SERVER_NAME})

    def get_tags(self) -> None:
        self.json_reply(200, {"models": [catalog.tag(m) for m in self.ollama.models.values()]})

    def get_ps(self) -> None:
        self.json_reply(200, {"models": [catalog.running(self.ollama.models[name], at)
                                         for name, at in self.ollama.loaded_models()]})

    def _model(self, body: dict[str, Any] | None) -> FakeModel | None:
        """The requested model, or None after answering the error Ollama gives."""
        if body is None:
            self.fail(400, "missing request body")
            return None
        name = body.get("model") or body.get("name")
        if not name:
            self.fail(400, "model is required")
            return None
        model = self.ollama.models.get(name)
        if model is None:
            self.fail(404, f"model '{name}' not found")
        return model

    def delete_model(self, body: dict[str, Any] | None) -> None:
        """Ollama deletes the model from disk: here it leaves the catalog (a 200 with an
        empty JSON object), and any other name is the 404 Ollama gives."""
        model = self._model(body)
        if model is not None:
            self.ollama.forget(model.name)
            self.json_reply(200, {})

    def post_show(self, body: dict[str, Any] | None) -> None:
        model = self._model(body or {})
        if model is not None:
            self.json_reply(200, catalog.show(model))

    def post_pull(self, body: dict[str, Any] | None) -> None:
        name = (body or {}).get("model") or (body or {}).get("name")
        model = self.ollama.models.get(name or "")
        if model is None:  # the offline server cannot download; Ollama's words for "no such"
            self.fail(500, "pull model manifest: file does not exist")
            return
        self.ndjson(catalog.pull_lines(model), (body or {}).get("stream", True) is not False)

    def post_embed(self, body: dict[str, Any] | None) -> None:
        model = self._model(body)
        if model is None or body is None:
            return
        texts = body.get("input", "")
        texts = [texts] if isinstance(texts, str) else [str(t) for t in texts]
        self.ollama.touch(model.name)
        self.json_reply(200, {"model": model.name,
                              "embeddings": [catalog.vector(t) for t in texts],
                              "total_duration": 14_000_000, "load_duration": 1_000_000,
                              "prompt_eval_count": sum(len(t.split()) for t in texts)})

    def post_embeddings(self, body: dict[str, Any] | None) -> None:
        """The older single-prompt route some clients still call."""
        model = self._model(body)
        if model is not None and body is not None:
            self.ollama.touch(model.name)
            self.json_reply(200, {"embedding": catalog.vector(str(body.get("prompt", "")))})

    def post_generate(self, body: dict[str, Any] | None) -> None:
        model = self._model(body)
        if model is None or body is None:
            return
        messages = [{"role": "system", "content": body["system"]}] if body.get("system") else []
        if body.get("prompt"):
            messages.append({"role": "user", "content": str(body["prompt"])})
        self._answer(model, body, messages, generate=True)

    def post_chat(self, body: dict[str, Any] | None) -> None:
        model = self._model(body)
        if model is not None and body is not None:
            self._answer(model, body, list(body.get("messages") or []), generate=False)

    def _answer(self, model: FakeModel, body: dict[str, Any], messages: list[Any],
                generate: bool) -> None:
        problem = refusal(model, body)
        if problem:
            self.fail(400, problem)
            return
        stream = body.get("stream", True) is not False
        if not messages:  # Ollama's way to load (or, with keep_alive 0, unload) a model
            unload = body.get("keep_alive") in (0, "0", "0s")
            self.ollama.touch(model.name, unload=unload)
            self._reply(model, [{}], stream, "unload" if unload else "load", Turn(),
                        None, generate)
            return
        played = self.play(model, body, messages, stream)
        turn = played.turn
        if turn.http_status:
            self.fail(turn.http_status, turn.error or "error")
        elif turn.non_json_body:
            self.send(200, b"<html><body>502 Bad Gateway</body></html>\n", "text/html")
        elif turn.endless_thinking:
            self._think_forever(model.name)
        else:
            self._reply(model, played.chunks, stream, played.done_reason, turn,
                        played.request, generate)

    def play(self, model: FakeModel, body: dict[str, Any], messages: list[Any],
             stream: bool) -> Played:
        """Record the request, ask the script for its turn (waiting its delay) and plan the
        reply's chunks: what the native and the OpenAI routes share."""
        request = ChatRequest(model.name, tuple(messages), tuple(body["tools"]) if
                              body.get("tools") else None, body.get("format"),
                              body.get("options") or {}, body.get("think"), stream, body)
        turn = self.ollama.record(request)
        if turn.delay_s:
            self.ollama.wait(turn.delay_s)
        chunks = [] if turn.http_status else plan_chunks(model, request, turn)
        return Played(turn, request, chunks, turn.done_reason or "stop",
                      metrics(turn, request, len(chunks)))

    def _think_forever(self, name: str) -> None:
        """A model stuck thinking: chunks keep coming, `done` never does."""
        self.start_stream()
        self.close_connection = True
        try:
            while not self.ollama.stopping:
                line = {"model": name, "created_at": now(), "done": False,
                        "message": {"role": "assistant", "content": "", "thinking": "hmm "}}
                self.chunk((json.dumps(line) + "\n").encode())
                self.ollama.wait(0.02)
        except OSError:
            return  # the client gave up and closed the connection

    def _reply(self, model: FakeModel, chunks: list[dict[str, Any]], stream: bool,
               done_reason: str, turn: Turn, request: ChatRequest | None,
               generate: bool) -> None:
        messages = [{"role": "assistant", "content": "", **c} for c in chunks]
        counts = metrics(turn, request, len(chunks))
        shape = as_generate if generate else (lambda line: line)
        if not stream:
            self.json_reply(200, shape(joined(model.name, messages, done_reason, counts)))
            return
        self.start_stream()
        for line in stream_lines(model.name, messages, done_reason, counts, turn):
            data = (json.dumps(shape(line)) + "\n").encode()
            if turn.partial_line:
                self.chunk(data[:len(data) // 2])
                self.close_connection = True
                break
            self.chunk(data)
        self.end_stream()

