"""The offline server's HTTP handler: Ollama's routes (chat, generate, embed, pull, show,
tags, ps, version), their status codes and error bodies."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from jetbox.offline import catalog
from jetbox.offline.script import ChatRequest, FakeModel, Turn
from jetbox.offline.stream import WireHandler
from jetbox.offline.wire import as_generate, joined, now, plan_chunks, refusal, stream_lines


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

GET_ROUTES = ("/", "/api/version", "/api/tags", "/api/ps")
POST_ROUTES = ("/api/chat", "/api/generate", "/api/show", "/api/embed", "/api/embeddings",
               "/api/pull")


class OllamaHandler(WireHandler):
    ollama: Backend

    def do_HEAD(self) -> None:
        if self.path in ("/", "/api/version"):
            self.send(200, b"", "text/plain; charset=utf-8")
        else:
            self.send(404, b"404 page not found", "text/plain")

    def do_GET(self) -> None:
        if self.path in GET_ROUTES:
            getattr(self, _method(self.path))()
        elif self.path in POST_ROUTES:
            self.send(405, b"405 method not allowed", "text/plain")
        else:
            self.send(404, b"404 page not found", "text/plain")

    def do_POST(self) -> None:
        body = self.body()
        if self.path in POST_ROUTES:
            getattr(self, _method(self.path))(body)
        elif self.path in GET_ROUTES:
            self.send(405, b"405 method not allowed", "text/plain")
        else:
            self.send(404, b"404 page not found", "text/plain")

    def get_root(self) -> None:
        self.send(200, b"Ollama is running", "text/plain; charset=utf-8")

    def get_version(self) -> None:
        self.json_reply(200, {"version": self.ollama.version})

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
        request = ChatRequest(model.name, tuple(messages), tuple(body["tools"]) if
                              body.get("tools") else None, body.get("format"),
                              body.get("options") or {}, body.get("think"), stream, body)
        turn = self.ollama.record(request)
        if turn.delay_s:
            self.ollama.wait(turn.delay_s)
        if turn.http_status:
            self.fail(turn.http_status, turn.error or "error")
        elif turn.non_json_body:
            self.send(200, b"<html><body>502 Bad Gateway</body></html>\n", "text/html")
        elif turn.endless_thinking:
            self._think_forever(model.name)
        else:
            self._reply(model, plan_chunks(model, request, turn), stream,
                        turn.done_reason or "stop", turn, request, generate)

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
        prompt = turn.prompt_tokens if turn.prompt_tokens is not None else \
            len(json.dumps(request.messages if request else [])) // 4
        metrics = {"total_duration": 2_310_000_000, "load_duration": 1_000_000,
                   "prompt_eval_count": max(prompt, 1), "prompt_eval_duration": 120_000_000,
                   "eval_count": max(len(chunks), 1), "eval_duration": 380_000_000}
        shape = as_generate if generate else (lambda line: line)
        if not stream:
            self.json_reply(200, shape(joined(model.name, messages, done_reason, metrics)))
            return
        self.start_stream()
        for line in stream_lines(model.name, messages, done_reason, metrics, turn):
            data = (json.dumps(shape(line)) + "\n").encode()
            if turn.partial_line:
                self.chunk(data[:len(data) // 2])
                self.close_connection = True
                break
            self.chunk(data)
        self.end_stream()


def _method(path: str) -> str:
    verb = "get" if path in GET_ROUTES else "post"
    return f"{verb}_{path.rsplit('/', 1)[-1] or 'root'}"
