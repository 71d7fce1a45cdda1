"""OpenAI's shapes for the offline server's /v1 routes (offline.openai): an OpenAI request as
the Ollama chat Ollama's openai/openai.go makes of it, and a played reply as OpenAI's
chat.completion, chat.completion.chunk and text_completion objects."""

from __future__ import annotations

import base64
import json
import struct
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jetbox.offline import catalog

if TYPE_CHECKING:
    from jetbox.offline.wire import Played

EFFORTS = ("high", "medium", "low", "none")


class RequestError(ValueError):
    """A request Ollama's OpenAI layer rejects with 400 before any model runs."""


def chat_request(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat request as the Ollama chat Ollama's openai.go turns it into."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise RequestError("messages must be a list")
    out = [_message(m, messages) for m in messages]
    request: dict[str, Any] = {"model": body["model"], "stream": bool(body.get("stream")),
                               "messages": out, "options": options(body)}
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


def options(body: dict[str, Any]) -> dict[str, Any]:
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


def head(ident: str, played: Played, kind: str) -> dict[str, Any]:
    return {"id": ident, "object": kind, "created": int(time.time()),
            "model": played.request.model, "system_fingerprint": "fp_ollama"}


def usage(played: Played) -> dict[str, int]:
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
    return {**head(ident, played, "chat.completion"), "choices": [{
        "index": 0, "message": message,
        "finish_reason": "tool_calls" if calls else played.done_reason}],
        "usage": usage(played)}


def chat_chunk(ident: str, played: Played, chunk: dict[str, Any],
               reason: str | None) -> dict[str, Any]:
    return {**head(ident, played, "chat.completion.chunk"),
            "choices": [{"index": 0, "delta": _delta(chunk), "finish_reason": reason}]}


def text_completion(ident: str, played: Played) -> dict[str, Any]:
    return {**head(ident, played, "text_completion"), "choices": [{
        "text": played.content, "index": 0, "finish_reason": played.done_reason}],
        "usage": usage(played)}


def text_chunk(ident: str, played: Played, chunk: dict[str, Any],
               reason: str | None) -> dict[str, Any]:
    return {**head(ident, played, "text_completion"), "choices": [{
        "text": chunk.get("content", ""), "index": 0, "finish_reason": reason}]}


def model_entry(name: str) -> dict[str, Any]:
    created = int(datetime.fromisoformat(catalog.MODIFIED_AT).timestamp())
    return {"id": name, "object": "model", "created": created, "owned_by": "library"}


def base64_floats(vector: list[float]) -> str:
    """float32, little-endian, base64: the `encoding_format: base64` the openai client
    asks for by default."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
