"""The one interface to a model: `chat(messages, tools) -> Reply`, a scripted model, and the
default factory of the Ollama model."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from jetbox.core.text import escape_surrogates, json_safe
from jetbox.store.kinds import ModelReply

if TYPE_CHECKING:
    pass

Message = Mapping[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """One call the model asked for; arguments may be anything the model sent."""

    name: str
    arguments: Any = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Sanitized here, where replies enter Jetbox: a lone surrogate from the model
        # ("\ud800") is kept as its escape, so nothing downstream can fail to encode it.
        object.__setattr__(self, "name", escape_surrogates(str(self.name)))
        object.__setattr__(self, "arguments", json_safe(self.arguments))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}


@dataclass(frozen=True)
class Reply:
    """One model turn, with what it cost."""

    content: str = ""
    thinking: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    prompt_tokens: int = 0
    output_tokens: int = 0
    duration_s: float = 0.0
    load_s: float = 0.0
    first_token_s: float = 0.0
    recovered: bool = False  # calls were parsed out of text, not native tool calls
    problem: str = ""   # why nothing (or not everything) in the reply could run, for the model
    delivery: str = ""  # how the calls came: native, json protocol, DIALECT in content...

    def __post_init__(self) -> None:
        object.__setattr__(self, "content", escape_surrogates(str(self.content)))
        object.__setattr__(self, "thinking", escape_surrogates(str(self.thinking)))
        object.__setattr__(self, "problem", escape_surrogates(str(self.problem)))

    def to_message(self) -> dict[str, Any]:
        """The assistant message to send back in a later request, as Ollama expects it."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.thinking:
            message["thinking"] = self.thinking
        if self.tool_calls:
            message["tool_calls"] = [
                {"function": {"name": c.name, "arguments": _as_object(c.arguments)}}
                for c in self.tool_calls
            ]
        return message

    def to_record(self) -> dict[str, Any]:
        """The ledger form: enough to replay the reply without asking the model again."""
        return {
            "content": self.content,
            "thinking_chars": len(self.thinking),
            "thinking": self.thinking[:4000],
            "calls": [c.to_dict() for c in self.tool_calls],
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
            "duration_s": round(self.duration_s, 3),
            "load_s": round(self.load_s, 3),
            "first_token_s": round(self.first_token_s, 3),
            "recovered": self.recovered,
            "problem": self.problem,
            "delivery": self.delivery,
        }

    @classmethod
    def from_record(cls, record: ModelReply) -> Reply:
        return cls(
            content=record.content,
            thinking=record.thinking,
            tool_calls=tuple(ToolCall(name, arguments) for name, arguments in record.named_calls()),
            prompt_tokens=record.prompt_tokens,
            output_tokens=record.output_tokens,
            duration_s=record.duration_s,
            load_s=record.load_s,
            first_token_s=record.first_token_s,
            recovered=record.recovered,
            problem=record.problem,
            delivery=record.delivery,
        )

    def journaled(self, round_no: int) -> ModelReply:
        """The `model_reply` record of this reply in round `round_no`."""
        return ModelReply(round=round_no, **self.to_record())


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

    def chat(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]) -> Reply:
        ...


ScriptStep = Reply | Callable[[Sequence[Message]], Reply]


class ScriptedModel:
    """Replays canned replies in order (a step may be a function of the messages).

    For unit tests and benchmarks that need no HTTP at all; end-to-end tests use the
    offline Ollama server in jetbox.offline with the real client instead.
    """

    def __init__(self, steps: Iterable[ScriptStep], name: str = "scripted") -> None:
        self.name = name
        self.steps = list(steps)
        self.requests: list[list[dict[str, Any]]] = []

    def chat(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]) -> Reply:
        self.requests.append([dict(m) for m in messages])
        if not self.steps:
            return Reply(content="(script exhausted)")
        step = self.steps.pop(0)
        return step(messages) if callable(step) else step


def call(name: str, **arguments: Any) -> Reply:
    """A one-call reply: `call("write_file", path="a.py", content="...")`."""
    return Reply(tool_calls=(ToolCall(name, arguments),))
