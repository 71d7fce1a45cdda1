"""The one interface to a model: `chat(messages, tools) -> ModelReply` (the ledger's record is
the reply), a scripted model, and a reply as the message sent back to the model."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from jetbox.store.kinds import ModelReply, ToolCall

Message = Mapping[str, Any]


def to_message(reply: ModelReply) -> dict[str, Any]:
    """The assistant message to send `reply` back in a later request, as Ollama expects it."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.thinking:
        message["thinking"] = reply.thinking
    if reply.calls:
        message["tool_calls"] = [
            {"function": {"name": c.name, "arguments": _as_object(c.arguments)}}
            for c in reply.calls
        ]
    return message


def _as_object(arguments: Any) -> dict[str, Any]:
    """Ollama (and its client) only take an object here, whatever the model sent."""
    if isinstance(arguments, dict):
        return arguments
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    return {"unparsed": arguments if isinstance(arguments, str) else repr(arguments)}


class Model(Protocol):
    """Anything that can answer a chat with tool calls."""

    name: str

    def chat(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]) -> ModelReply:
        ...


ScriptStep = ModelReply | Callable[[Sequence[Message]], ModelReply]


class ScriptedModel:
    """Replays canned replies in order (a step may be a function of the messages).

    For unit tests and benchmarks that need no HTTP at all; end-to-end tests use the
    offline Ollama server in jetbox.offline with the real client instead.
    """

    def __init__(self, steps: Iterable[ScriptStep], name: str = "scripted") -> None:
        self.name = name
        self.steps = list(steps)
        self.requests: list[list[dict[str, Any]]] = []

    def chat(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]) -> ModelReply:
        self.requests.append([dict(m) for m in messages])
        if not self.steps:
            return ModelReply(content="(script exhausted)")
        step = self.steps.pop(0)
        return step(messages) if callable(step) else step


def call(name: str, **arguments: Any) -> ModelReply:
    """A one-call reply: `call("write_file", path="a.py", content="...")`."""
    return ModelReply(calls=(ToolCall(name, arguments),))
