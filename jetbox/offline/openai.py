"""The OpenAI-compatible routes real Ollama serves beside its own (`/v1/chat/completions`,
`/v1/completions`, `/v1/models`, `/v1/embeddings`), so the `openai` client and the tools
built on it can use the offline server. They translate as Ollama's openai/openai.go does:
the request becomes an Ollama chat, the same script answers it, and the reply goes back
in OpenAI's shape (server-sent events when streamed, arguments as a JSON string, errors
as `{"error": {"message", "type", ...}}`)."""

from __future__ import annotations

import base64
import json
import random
import struct
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jetbox.offline import catalog
from jetbox.offline.wire import refusal

if TYPE_CHECKING:
    from jetbox.offline.script import FakeModel
    from jetbox.offline.wire import Played

EFFORTS = ("high", "medium", "low", "none")
# Ollama's error types by status (openai.go NewError).
ERROR_TYPES = {400: "invalid_request_error", 404: "not_found_error"}


class RequestError(ValueError):
    """A request Ollama's OpenAI layer rejects with 400 before any model runs."""


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
            _model_entry(name) for name in self.ollama.models]})

    def openai_model(self: Any, name: str) -> None:
        if name in self.ollama.models:
            self.json_reply(200, _model_entry(name))
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
                                        "embedding": _base64(v) if as_base64 else v}
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
                           usage=bool((body.get("stream_options") or {}).get("include_usage")))

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
                   "options": _options(body)}
        self._openai_reply(model, request, chat=False,
                           usage=bool((body.get("stream_options") or {}).get("include_usage")))

    def _openai_reply(self: Any, model: FakeModel, request: dict[str, Any], chat: bool,
                      usage: bool) -> None:
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
            if usage:
                self._event({**_head(ident, played, "chat.completion.chunk" if chat else
                                     "text_completion"), "choices": [],
                             "usage": _usage(played)})
        self.chunk(b"data: [DONE]\n\n")
        self.end_stream()

    def _event(self: Any, payload: dict[str, Any]) -> None:
        self.chunk(f"data: {json.dumps(payload)}\n\n".encode())


def chat_request(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat request as the Ollama chat Ollama's openai.go turns it into."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise RequestError("messages must be a list")
    out = [_message(m, messages) for m in messages]
    request: dict[str, Any] = {"model": body["model"], "stream": bool(body.get("stream")),
                               "messages": out, "options": _options(body)}
    if body.get("tools"):
        request["tools"] = body["tools"]
    response_format = body.get("response_format") or {}
    kind = str(response_format.get("type", "")).strip().lower()
    if kind == "json_object":
        request["format"] = "json"
    elif kind == "json_schema" and response_format.get("json_schema"):
        request["format"] = response_format["json_schema"].get("schema")
    effort = (body.get("reasoning") or {}).get("effort") or body.get("reasoning_effort")
    if effort:
        if effort not in EFFORTS:
            raise RequestError(f"invalid reasoning value: '{effort}' (must be \"high\", "
                               f"\"medium\", \"low\", or \"none\")")
        request["think"] = False if effort == "none" else effort
    return request


def _message(message: Any, messages: list[Any]) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise RequestError("invalid message format")
    role = str(message.get("role", ""))
    out: dict[str, Any] = {"role": role}
    content = message.get("content")
    if isinstance(content, list):  # parts: the text ones joined; images carry no text
        texts = [p.get("text", "") for p in content if isinstance(p, dict)
                 and p.get("type") == "text"]
        content = "".join(str(t) for t in texts)
    elif content is None and not message.get("tool_calls"):
        raise RequestError("invalid message content type: <nil>")
    if content:
        out["content"] = str(content)
    if message.get("reasoning"):
        out["thinking"] = str(message["reasoning"])
    calls = []
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except (TypeError, ValueError):
            raise RequestError("invalid tool call arguments") from None
        calls.append({"function": {"name": function.get("name", ""),
                                   "arguments": arguments}})
    if calls:
        out["tool_calls"] = calls
    if role.lower() == "tool":
        name = message.get("name") or _call_name(messages, message.get("tool_call_id"))
        if name:
            out["tool_name"] = name
    return out


def _call_name(messages: list[Any], call_id: object) -> str:
    """The function a tool result answers, found by its tool_call_id (the last wins)."""
    for message in reversed(messages):
        for call in (message.get("tool_calls") or []) if isinstance(message, dict) else []:
            if call_id and call.get("id") == call_id:
                return str((call.get("function") or {}).get("name", ""))
    return ""


def _options(body: dict[str, Any]) -> dict[str, Any]:
    """Ollama's options from OpenAI's sampling fields (temperature and top_p default 1)."""
    options: dict[str, Any] = {"temperature": body.get("temperature", 1.0),
                               "top_p": body.get("top_p") or 1.0}
    if body.get("max_tokens") is not None:
        options["num_predict"] = body["max_tokens"]
    for key in ("seed", "frequency_penalty", "presence_penalty"):
        if body.get(key) is not None:
            options[key] = body[key]
    stop = body.get("stop")
    if stop:
        options["stop"] = [stop] if isinstance(stop, str) else list(stop)
    return options


def _head(ident: str, played: Played, kind: str) -> dict[str, Any]:
    return {"id": ident, "object": kind, "created": int(time.time()),
            "model": played.request.model, "system_fingerprint": "fp_ollama"}


def _usage(played: Played) -> dict[str, int]:
    prompt, done = played.metrics["prompt_eval_count"], played.metrics["eval_count"]
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


def _calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ollama's calls in OpenAI's shape: a type, and the arguments as a JSON string."""
    out = []
    for call in calls:
        function = call["function"]
        arguments = function["arguments"]
        out.append({"id": call["id"], "index": function.get("index", 0), "type": "function",
                    "function": {"name": function["name"], "arguments": arguments
                                 if isinstance(arguments, str) else json.dumps(arguments)}})
    return out


def _delta(chunk: dict[str, Any]) -> dict[str, Any]:
    delta: dict[str, Any] = {"role": "assistant", "content": chunk.get("content", "")}
    if chunk.get("thinking"):
        delta["reasoning"] = chunk["thinking"]
    if chunk.get("tool_calls"):
        delta["tool_calls"] = _calls(chunk["tool_calls"])
    return delta


def completion(ident: str, played: Played) -> dict[str, Any]:
    calls = played.tool_calls
    message = _delta({"content": played.content, "thinking": played.thinking,
                      "tool_calls": calls})
    return {**_head(ident, played, "chat.completion"), "choices": [{
        "index": 0, "message": message,
        "finish_reason": "tool_calls" if calls else played.done_reason}],
        "usage": _usage(played)}


def chat_chunk(ident: str, played: Played, chunk: dict[str, Any],
               reason: str | None) -> dict[str, Any]:
    return {**_head(ident, played, "chat.completion.chunk"),
            "choices": [{"index": 0, "delta": _delta(chunk), "finish_reason": reason}]}


def text_completion(ident: str, played: Played) -> dict[str, Any]:
    return {**_head(ident, played, "text_completion"), "choices": [{
        "text": played.content, "index": 0, "finish_reason": played.done_reason}],
        "usage": _usage(played)}


def text_chunk(ident: str, played: Played, chunk: dict[str, Any],
               reason: str | None) -> dict[str, Any]:
    return {**_head(ident, played, "text_completion"), "choices": [{
        "text": chunk.get("content", ""), "index": 0, "finish_reason": reason}]}


def _model_entry(name: str) -> dict[str, Any]:
    created = int(datetime.fromisoformat(catalog.MODIFIED_AT).timestamp())
    return {"id": name, "object": "model", "created": created, "owned_by": "library"}


def _base64(vector: list[float]) -> str:
    """float32, little-endian, base64: the `encoding_format: base64` the openai client
    asks for by default."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
