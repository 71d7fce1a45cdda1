"""The tools as the model is told of them (names, one line each, their parameters), and
the check of a call's arguments against that before any tool runs."""

from __future__ import annotations

import json
from typing import Any

from jetbox.core.prompts import say

# One type for what a tool returned and its `tool_result` ledger record (kept importable here).
from jetbox.store.kinds import ToolResult as ToolResult

# The tools the model is told of, in every request. list_dir is answered too (older ledgers
# and models that know the name call it) but not sent: read_file of a folder lists it, and
# each schema costs every request its bytes.
ADVERTISED: tuple[str, ...] = ("read_file", "search", "edit_file", "write_file", "run_cmd",
                               "finish")
TOOL_NAMES: tuple[str, ...] = ("list_dir", *ADVERTISED)

_PATH = {"type": "string"}
_LINE = {"type": "integer"}
_TEXT = {"type": "string"}
# name -> (parameters, optional parameter names); the descriptions are prompts.yaml's
# `tools.NAME`. Short: sent in every request.
_PARAMS: dict[str, tuple[dict[str, dict[str, Any]], tuple[str, ...]]] = {
    "list_dir": ({"path": _PATH}, ()),
    "read_file": ({"path": _PATH, "start_line": _LINE, "end_line": _LINE},
                  ("start_line", "end_line")),
    "search": ({"pattern": _TEXT, "path": _PATH}, ("path",)),
    "edit_file": ({"path": _PATH, "old": _TEXT, "new": _TEXT}, ()),
    "write_file": ({"path": _PATH, "content": _TEXT}, ()),
    "run_cmd": ({"cmd": {"type": "array", "items": {"type": "string"}}}, ()),
    "finish": ({"summary": _TEXT}, ()),
}


class Refusal(Exception):
    """Raised inside a tool: becomes a refused ToolResult and a ledger entry."""


def tool_specs(names: tuple[str, ...] = ADVERTISED) -> list[dict[str, Any]]:
    """Ollama tool schemas (only keywords the ollama client keeps: type, items, description)."""
    return [{"type": "function", "function": {
        "name": name, "description": say(f"tools.{name}"),
        "parameters": {"type": "object", "properties": params,
                       "required": [p for p in params if p not in optional]}}}
        for name, (params, optional) in _PARAMS.items() if name in names]


def unadvertised_specs() -> list[dict[str, Any]]:
    """The tools answered but not sent (list_dir): a reply's parser must know them too."""
    return tool_specs(tuple(n for n in TOOL_NAMES if n not in ADVERTISED))


def checked_call(name: str, arguments: object) -> dict[str, Any]:
    """The call's arguments checked against its schema (a JSON string is parsed, quoted
    whole numbers taken as numbers); anything else is a Refusal the model sees."""
    if name not in TOOL_NAMES:
        raise Refusal(say("arguments.unknown_tool", name=str(name)[:80],
                          tools=", ".join(ADVERTISED)))
    if isinstance(arguments, str):  # some models send the arguments as a JSON string
        try:
            arguments = json.loads(arguments)
        except (ValueError, RecursionError):
            raise Refusal(say("arguments.not_json", tool=name)) from None
    if not isinstance(arguments, dict):
        raise Refusal(say("arguments.not_object", tool=name, type=type(arguments).__name__))
    expected, optional = _PARAMS[name]
    missing = [key for key in expected if key not in arguments and key not in optional]
    extra = [key for key in arguments if key not in expected]
    if missing or extra:
        raise Refusal(say("arguments.expected", tool=name, expected=", ".join(expected),
                          missing=say("arguments.missing", names=", ".join(missing))
                          if missing else "",
                          unknown=say("arguments.unknown",
                                      names=", ".join(map(str, extra))[:120])
                          if extra else ""))
    checked = dict(arguments)
    for key, value in arguments.items():
        kind = expected[key]["type"]
        if kind == "string" and not isinstance(value, str):
            raise Refusal(say("arguments.not_string", tool=name, key=key))
        if kind == "integer" and isinstance(value, str) and value.strip().isascii() \
                and value.strip().isdigit() and len(value.strip()) < 10:
            checked[key] = value = int(value)  # small models often quote numbers
        if kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
            raise Refusal(say("arguments.not_whole_number", tool=name, key=key))
    return checked
