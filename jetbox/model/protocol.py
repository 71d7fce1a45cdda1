"""How tool calls travel: native `tools`, or a JSON object through structured outputs; and
the recovery of calls a model wrote as text instead."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from jetbox.model.base import ToolCall

FENCED = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def json_schema(tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The `format` for the JSON protocol: {"tool": NAME, "args": {...}, "thought": "..."}."""
    names = [t["function"]["name"] for t in tools]
    return {"type": "object", "required": ["tool", "args"], "properties": {
        "tool": {"type": "string", "enum": names},
        "args": {"type": "object"},
        "thought": {"type": "string"}}}


def json_instructions(tools: Sequence[Mapping[str, Any]]) -> str:
    """The tools described in words, for models that cannot take `tools`."""
    lines = ["Reply with exactly one JSON object and nothing else: "
             '{"tool": NAME, "args": {...}, "thought": "why, briefly"}. Tools:']
    for tool in tools:
        function = tool["function"]
        params = ", ".join(f"{name}: {spec.get('type')}"
                           for name, spec in function["parameters"]["properties"].items())
        lines.append(f"- {function['name']}({params}): {function['description']}")
    return "\n".join(lines)


def to_json_protocol(messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]],
                     ) -> list[dict[str, Any]]:
    """Rewrite a native-protocol conversation for a model that only sees text."""
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "assistant" and message.get("tool_calls"):
            calls = message["tool_calls"]
            first = calls[0]["function"]
            body = {"tool": first["name"], "args": first.get("arguments", {})}
            out.append({"role": "assistant", "content": json.dumps(body)})
        elif role == "tool":
            out.append({"role": "user", "content": f"Result of {message.get('tool_name')}:\n"
                                                   f"{message.get('content', '')}"})
        else:
            out.append(dict(message))
    instructions = {"role": "system", "content": json_instructions(tools)}
    at = 1 if out and out[0].get("role") == "system" else 0
    return [*out[:at], instructions, *out[at:]]


def _candidates(text: str) -> list[Any]:
    """JSON values found in text: fenced blocks first, then the whole text, then objects."""
    found: list[Any] = []
    chunks = FENCED.findall(text) or [text]
    decoder = json.JSONDecoder()
    for chunk in chunks:
        index = 0
        while (start := chunk.find("{", index)) != -1:
            try:
                value, end = decoder.raw_decode(chunk, start)
            except ValueError:
                index = start + 1
                continue
            except RecursionError:  # nested past Python's limit: no call is that deep
                break
            found.append(value)
            index = end
        try:
            found.append(json.loads(chunk.strip()))
        except (ValueError, RecursionError):
            pass
    return found


def _as_call(value: Any, names: set[str]) -> ToolCall | None:
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):
        value = value["function"]
    name = value.get("name", value.get("tool"))
    if not isinstance(name, str):
        return None
    name = name.removeprefix("functions.")
    arguments = value.get("arguments", value.get("args", value.get("parameters", {})))
    return ToolCall(name, arguments) if name in names else None


def calls_from_text(text: str, tool_names: Sequence[str]) -> tuple[ToolCall, ...]:
    """Tool calls a model wrote as text: bare JSON, ```json fences, {"name","arguments"}
    or {"tool","args"} forms, one object or a list of them."""
    names, calls, seen = set(tool_names), [], set()
    for value in _candidates(text):
        for item in value if isinstance(value, list) else [value]:
            call = _as_call(item, names)
            key = json.dumps(call.to_dict(), sort_keys=True, default=str) if call else None
            if call is not None and key not in seen:
                seen.add(key)
                calls.append(call)
    return tuple(calls)
