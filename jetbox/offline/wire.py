"""Ollama's wire format for the offline server: a scripted turn becomes the message chunks
of a stream, then NDJSON lines (metrics on the final one) or one joined reply; plus the 400s
Ollama gives before generating anything."""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jetbox.offline.dialect_writer import render
from jetbox.offline.schema import formatted
from jetbox.offline.script import Call, ChatRequest, FakeModel, Turn


@dataclass(frozen=True)
class Played:
    """A request the script answered: its turn and the planned reply, before any route
    shapes it for the wire (Ollama's NDJSON or OpenAI's server-sent events)."""

    turn: Turn
    request: ChatRequest
    chunks: list[dict[str, Any]]
    done_reason: str
    metrics: dict[str, int]

    @property
    def content(self) -> str:
        return "".join(c.get("content", "") for c in self.chunks)

    @property
    def thinking(self) -> str:
        return "".join(c.get("thinking", "") for c in self.chunks)

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return [call for c in self.chunks for call in c.get("tool_calls", [])]


def metrics(turn: Turn, request: ChatRequest | None, chunks: int) -> dict[str, int]:
    """The final chunk's durations and counts: one token per chunk, a prompt of about four
    characters a token (or what the turn says)."""
    prompt = turn.prompt_tokens if turn.prompt_tokens is not None else \
        len(json.dumps(request.messages if request else [])) // 4
    return {"total_duration": 2_310_000_000, "load_duration": 1_000_000,
            "prompt_eval_count": max(prompt, 1), "prompt_eval_duration": 120_000_000,
            "eval_count": max(chunks, 1), "eval_duration": 380_000_000}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _call_id() -> str:
    return "call_" + "".join(random.choices(string.ascii_lowercase + string.digits, k=8))


def _wire_call(call: Call, index: int) -> dict[str, Any]:
    return {"id": _call_id(), "function": {"index": index, "name": call.name,
                                           "arguments": call.arguments}}


def plan_chunks(model: FakeModel, request: ChatRequest, turn: Turn) -> list[dict[str, Any]]:
    """The messages of the stream, in order (the last one becomes the done chunk)."""
    chunks: list[dict[str, Any]] = []
    content, thinking, calls = turn.content, turn.thinking, list(turn.calls)
    if turn.dialect:  # the model's habit: its calls written as text
        content, thinking = render(turn.dialect, calls, content, thinking)
        calls = []
    thinking = _thinking(model, request.think, thinking)
    if thinking and "thinking" in model.capabilities:
        chunks += [{"thinking": word} for word in _split(thinking)]
    if calls and not request.tools:  # Jetbox's JSON protocol (structured outputs)
        first = calls[0]
        reply = {"tool": first.name, "args": first.arguments}
        if turn.thinking:
            reply["thought"] = turn.thinking
        content, calls = json.dumps(reply), []
    elif calls and model.tool_style == "content":
        leaked = "\n".join(json.dumps({"name": c.name, "arguments": c.arguments}) for c in calls)
        content, calls = f"{content}\n```json\n{leaked}\n```".strip(), []
    elif request.format:
        content = formatted(content, request.format)
    chunks += [{"content": word} for word in _split(content)]
    if calls and model.tool_style == "midstream":
        chunks.append({"tool_calls": [_wire_call(c, i) for i, c in enumerate(calls)]})
        calls = []
    # gpt-oss style: every call of the turn in the final chunk
    chunks.append({"tool_calls": [_wire_call(c, i) for i, c in enumerate(calls)]}
                  if calls else {})
    return chunks


# What a thinking model thinks when the script gave it no thought: longer at higher levels,
# as a real model's trace grows with the effort asked.
THOUGHTS = {"low": "The question is short; answer it.",
            "medium": "The question is short. Read it once more, then answer it plainly.",
            "high": "The question is short. Read it once more, weigh what the person may "
                    "mean, check the answer against it, then answer it plainly.",
            "max": "The question is short. Read it once more, weigh what the person may "
                   "mean, check the answer against it twice, then answer it plainly."}


def _thinking(model: FakeModel, think: object, scripted: str) -> str:
    """The trace the reply carries. A thinking model asked to think (true or a level)
    always sends one; `think: false` turns it off except on gpt-oss, which ignores booleans
    and cannot stop thinking (shared/ollama-api.md, Thinking)."""
    if "thinking" not in model.capabilities:
        return scripted
    if think is False:
        if model.family != "gptoss":
            return ""
        think = "medium"  # gpt-oss thinks at its default level whatever the boolean
    if scripted or think in (None, False):
        return scripted
    return THOUGHTS.get(str(think), THOUGHTS["medium"])


def _split(text: str) -> list[str]:
    if not text:
        return []
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


def refusal(model: FakeModel, body: dict[str, Any]) -> str | None:
    """The 400s Ollama gives before generating anything."""
    if body.get("tools") and "tools" not in model.capabilities:
        return f"registry.ollama.ai/library/{model.name.split(':')[0]} does not support tools"
    think = body.get("think")
    if isinstance(think, str) and think not in ("low", "medium", "high", "max"):
        return f"invalid think value: {think!r}"
    if think and "thinking" not in model.capabilities:
        return f'"{model.name}" does not support thinking'
    return None


def joined(name: str, messages: list[dict[str, Any]], done_reason: str,
            metrics: dict[str, int]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant",
                               "content": "".join(m["content"] for m in messages)}
    thinking = "".join(m.get("thinking", "") for m in messages)
    calls = [c for m in messages for c in m.get("tool_calls", [])]
    if thinking:
        message["thinking"] = thinking
    if calls:
        message["tool_calls"] = calls
    return {"model": name, "created_at": now(), "message": message, "done": True,
            "done_reason": done_reason, **metrics}


def stream_lines(name: str, messages: list[dict[str, Any]], done_reason: str,
                  metrics: dict[str, int], turn: Turn) -> Iterator[dict[str, Any]]:
    for index, message in enumerate(messages):
        if turn.stream_error and index == min(2, len(messages) - 1):
            yield {"error": turn.error or "an error was encountered while running the model"}
            return
        last = index == len(messages) - 1
        line = {"model": name, "created_at": now(), "message": message, "done": last}
        if last:
            line.update({"done_reason": done_reason, **metrics})
        yield line


def as_generate(line: dict[str, Any]) -> dict[str, Any]:
    """A chat line in /api/generate's shape: `response` (and `thinking`) for `message`."""
    out = {k: v for k, v in line.items() if k != "message"}
    if "message" not in line:
        return out
    message = line["message"]
    out["response"] = message.get("content", "")
    if message.get("thinking"):
        out["thinking"] = message["thinking"]
    if line.get("done"):
        out["context"] = [1, 2, 3]
    return out
