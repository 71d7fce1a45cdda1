"""The offline server's script: the calls and replies it plays, the models it offers, and
the chat requests it records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    """One tool call the scripted model makes; str arguments are sent verbatim."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)


@dataclass(frozen=True)
class Turn:
    """One scripted reply, or one failure."""

    content: str = ""
    thinking: str = ""
    calls: tuple[Call, ...] = ()
    http_status: int | None = None  # answer this HTTP error with {"error": error}
    error: str | None = None
    stream_error: bool = False      # a few chunks, then a {"error": ...} line (status 200)
    delay_s: float = 0.0            # wait before the first byte (timeouts)
    partial_line: bool = False      # half a JSON line, then the stream ends (a dropped link)
    non_json_body: bool = False     # a 200 whose body is an HTML page (a proxy's error)
    endless_thinking: bool = False  # thinking chunks, one every 20 ms, forever
    prompt_tokens: int | None = None
    dialect: str = ""               # send the calls as text in this dialect (offline.dialects)
    done_reason: str = ""           # e.g. "length": the reply hit the output limit


@dataclass(frozen=True)
class FakeModel:
    name: str = "gpt-oss:20b"
    capabilities: tuple[str, ...] = ("completion", "tools", "thinking")
    context_length: int = 131072
    family: str = "gptoss"
    tool_style: str = "final"  # final (gpt-oss) | midstream (llama, qwen) | content (leaked)


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[dict[str, Any], ...]
    tools: tuple[dict[str, Any], ...] | None
    format: object | None
    options: dict[str, Any]
    think: object | None
    stream: bool
    raw: dict[str, Any]


Responder = Callable[[ChatRequest], Turn]


class ScriptResponder:
    """Replays turns in order; afterwards every request gets a 500."""

    def __init__(self, turns: Sequence[Turn]) -> None:
        self.turns = list(turns)
        self.calls = 0

    def __call__(self, request: ChatRequest) -> Turn:
        if self.calls >= len(self.turns):
            return Turn(http_status=500, error="offline script exhausted")
        self.calls += 1
        return self.turns[self.calls - 1]
