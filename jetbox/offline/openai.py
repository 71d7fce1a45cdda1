"""The OpenAI-compatible routes real Ollama serves beside its own (`/v1/chat/completions`,
`/v1/completions`, `/v1/models`, `/v1/embeddings`), so the `openai` client and the tools
built on it can use the offline server. They translate as Ollama's openai/openai.go does:
the request becomes an Ollama chat, the same script answers it, and the reply goes back
in OpenAI's shape (server-sent events when streamed, arguments as a JSON string, errors
as `{"error": {"message", "type", ...}}`)."""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any

from jetbox.offline import catalog
from jetbox.offline.openai_shape import (
    RequestError,
    base64_floats,
    chat_chunk,
    chat_request,
    completion,
    head,
    model_entry,
    options,
    text_chunk,
    text_completion,
    usage,
)
from jetbox.offline.wire import refusal

if TYPE_CHECKING:
    from jetbox.offline.script import FakeModel

# Ollama's error types by status (openai.go NewError).
ERROR_TYPES = {400: "invalid_request_error", 404: "not_found_error"}


class OpenAIRoutes:
    """Mixed into the HTTP handler (routes.OllamaHandler), whose plumbing it uses."""

    def openai_fail(self: Any, status: int, message: str) -> None:
        self.json_reply(status, {"error": {"message": message,
                                           "type": ERROR_TYPES.get(status, "api_error"),
                                           "param": None, "code": None}})

    def _openai_model(self: Any, body: dict[str, Any] | None) -> FakeModel | None:
        """The requested model, or None after the error Ollama's OpenAI layer gives."""
        if body is None:
            self.openai_fail(400, "missing request body")
            return None
        name = body.get("model")
        if not name:
            self.openai_fail(400, "model is required")
            return None
        model = self.ollama.models.get(name)
        if model is None:
            self.openai_fail(404, f"model '{name}' not found")
        return model

    def openai_models(self: Any) -> None:
        self.json_reply(200, {"object": "list", "data": [
            model_entry(name) for name in self.ollama.models]})

    def openai_model(self: Any, name: str) -> None:
        if name in self.ollama.models:
            self.json_reply(200, model_entry(name))
        else:
            self.openai_fail(404, f"model '{name}' not found")

    def openai_embeddings(self: Any, body: dict[str, Any] | None) -> None:
        model = self._openai_model(body)
        if model is None or body is None:
            return
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not texts or not isinstance(texts, list) or \
                not all(isinstance(t, str) for t in texts):
            self.openai_fail(400, "invalid input type: give a string or a list of strings")
            return
        dimensions = int(body.get("dimensions") or 0) or catalog.EMBED_DIMENSIONS
        as_base64 = str(body.get("encoding_format", "")).lower() == "base64"
        vectors = [catalog.vector(t, dimensions) for t in texts]
        tokens = sum(len(t.split()) for t in texts)
        self.ollama.touch(model.name)
        self.json_reply(200, {"object": "list", "model": model.name,
                              "data": [{"object": "embedding", "index": i,
                                        "embedding": base64_floats(v) if as_base64 else v}
                                       for i, v in enumerate(vectors)],
                              "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def openai_chat(self: Any, body: dict[str, Any] | None) -> None:
        model = self._openai_model(body)
        if model is None or body is None:
            return
        try:
            request = chat_request(body)
        except RequestError as exc:
            self.openai_fail(400, str(exc))
            return
        self._openai_reply(model, request, chat=True,
                           with_usage=_wants_usage(body))

    def openai_completion(self: Any, body: dict[str, Any] | None) -> None:
        model = self._openai_model(body)
        if model is None or body is None:
            return
        prompt = body.get("prompt", "")
        if not isinstance(prompt, str):  # Ollama takes one string prompt (ollama#5259)
            self.openai_fail(400, "prompt must be a string")
            return
        request = {"model": model.name, "stream": bool(body.get("stream")),
                   "messages": [{"role": "user", "content": prompt}] if prompt else [],
                   "options": options(body)}
        self._openai_reply(model, request, chat=False,
                           with_usage=_wants_usage(body))

    def _openai_reply(self: Any, model: FakeModel, request: dict[str, Any], chat: bool,
                      with_usage: bool) -> None:
        problem = refusal(model, request)
        if problem:
            self.openai_fail(400, problem)
            return
        stream = request["stream"]
        played = self.play(model, request, request["messages"], stream)
        if played.turn.http_status:
            self.openai_fail(played.turn.http_status, played.turn.error or "error")
            return
        ident = f"{'chatcmpl' if chat else 'cmpl'}-{random.randint(0, 999)}"
        if not stream:
            self.json_reply(200, (completion if chat else text_completion)(ident, played))
            return
        self.start_stream("text/event-stream")
        shape = chat_chunk if chat else text_chunk
        last = len(played.chunks) - 1
        sent_calls = False
        for index, chunk in enumerate(played.chunks):
            if played.turn.stream_error and index == min(2, last):
                self._event({"error": {"message": played.turn.error or "an error was "
                                       "encountered while running the model",
                                       "type": "api_error", "param": None, "code": None}})
                break
            sent_calls = sent_calls or bool(chunk.get("tool_calls"))
            reason = None
            if index == last:
                reason = "tool_calls" if chat and sent_calls else played.done_reason
            self._event(shape(ident, played, chunk, reason))
        else:
            if with_usage:
                self._event({**head(ident, played, "chat.completion.chunk" if chat else
                                     "text_completion"), "choices": [],
                             "usage": usage(played)})
        self.chunk(b"data: [DONE]\n\n")
        self.end_stream()

    def _event(self: Any, payload: dict[str, Any]) -> None:
        self.chunk(f"data: {json.dumps(payload)}\n\n".encode())


def _wants_usage(body: dict[str, Any]) -> bool:
    """`stream_options: {include_usage: true}`: a last chunk with the token counts."""
    return bool((body.get("stream_options") or {}).get("include_usage"))
