"""The tools' names and parameter types as the model was told them, and which tool a name
the model wrote means: forgiving a prefix, case or a glued suffix, never a guess."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jetbox.core.prompts import say


@dataclass(frozen=True)
class Tools:
    """The tool names and each parameter's JSON type, from the tool specs."""

    names: tuple[str, ...]
    types: Mapping[str, Mapping[str, str]]
    required: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    listed: tuple[str, ...] = ()  # the names a message lists: those the model was sent

    @classmethod
    def of(cls, tools: Sequence[Mapping[str, Any] | str],
           also: Sequence[Mapping[str, Any]] = ()) -> Tools:
        """`also`: tools answered though not sent; their names are read, never listed."""
        names, types, required = [], {}, {}
        sent = len(tools)
        for tool in [*tools, *also]:
            if isinstance(tool, str):
                names.append(tool)
                continue
            function = tool.get("function", {})
            names.append(function.get("name", ""))
            params = function.get("parameters", {})
            types[names[-1]] = {k: str(v.get("type", ""))
                                for k, v in params.get("properties", {}).items()}
            required[names[-1]] = tuple(params.get("required", ()))
        return cls(tuple(dict.fromkeys(n for n in names if n)), types, required,
                   tuple(n for n in names[:sent] if n))

    def omitting_nulls(self, name: str, arguments: Any) -> Any:
        """An optional argument sent as null/None is taken as left out."""
        if not isinstance(arguments, dict) or name not in self.required:
            return arguments
        return {k: v for k, v in arguments.items()
                if v is not None or k in self.required[name]}


def show(text: str, limit: int = 60) -> str:
    one_line = " ".join(str(text).split())
    return one_line if len(one_line) <= limit else one_line[:limit - 3] + "..."


def resolve(name: str, names: Sequence[str],
            listed: Sequence[str] = ()) -> tuple[str | None, str]:
    """The tool a name means (prefixes, case, `_`/`-` and a glued `json` forgiven), or why
    it means none: unknown, or loosely like one or several tools (`listed`, or all)."""
    if name in names:
        return name, ""
    shown = show(name, 40)
    if not name.strip():
        return None, say("reply.no_name")
    bare = re.sub(r"^(?:functions?|tools?|default_api|mcp)[.:]", "", name.strip())
    candidates = {bare, bare.removesuffix("json"), bare.split("<|")[0]}
    key = lambda s: re.sub(r"[\W_]+", "", s).lower()  # noqa: E731 - one line, used here
    keys = {key(c) for c in candidates if key(c)}
    exact = [n for n in names if key(n) in keys]
    if len(exact) == 1:
        return exact[0], ""
    loose = [n for n in names if any(k in key(n) or key(n) in k for k in keys)]
    if len(loose) > 1:
        return None, say("reply.ambiguous_name", name=shown, choices=" or ".join(loose))
    if loose:
        return None, say("reply.near_name", name=shown, guess=loose[0])
    return None, say("reply.unknown_name", name=shown, tools=", ".join(listed or names))
