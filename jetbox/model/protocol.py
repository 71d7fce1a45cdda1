"""How tool calls travel: native `tools`, or a JSON object through structured outputs; and
the recovery of calls a model wrote as text instead."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from jetbox.core.prompts import say
from jetbox.model.calls import calls_from_text

__all__ = ["calls_from_text", "json_instructions", "json_schema", "to_json_protocol"]


def json_schema(tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The `format` for the JSON protocol: {"tool": NAME, "args": {...}, "thought": "..."}."""
    names = [t["function"]["name"] for t in tools]
    return {"type": "object", "required": ["tool", "args"], "properties": {
        "tool": {"type": "string", "enum": names},
        "args": {"type": "object"},
        "thought": {"type": "string"}}}


def json_instructions(tools: Sequence[Mapping[str, Any]]) -> str:
    """The tools described in words, for models that cannot take `tools`."""
    lines = [say("json_protocol.header")]
    for tool in tools:
        function = tool["function"]
        params = ", ".join(f"{name}: {spec.get('type')}"
                           for name, spec in function["parameters"]["properties"].items())
        lines.append(say("json_protocol.tool", name=function["name"], parameters=params,
                         description=function["description"]))
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
            out.append({"role": "user", "content": say("json_protocol.result",
                                                       tool=message.get("tool_name"),
                                                       content=message.get("content", ""))})
        else:
            out.append(dict(message))
    instructions = {"role": "system", "content": json_instructions(tools)}
    at = 1 if out and out[0].get("role") == "system" else 0
    return [*out[:at], instructions, *out[at:]]
