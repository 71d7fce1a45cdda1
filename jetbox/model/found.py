"""One call as a dialect reader found it in a reply's text, and the helpers readers share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jetbox.model.nearjson import NearJsonError, object_at

MAX_CALLS = 64  # calls one reader takes from a reply: more is no reply, and costs time


@dataclass(frozen=True)
class Found:
    """One call as written: `error` says why its arguments could not be read."""

    dialect: str
    name: str
    arguments: Any
    start: int
    end: int
    error: str = ""
    cut: bool = False


def read_json(dialect: str, name: str, text: str, start: int, body_at: int,
              end_hint: int | None = None) -> Found:
    """The call whose JSON arguments open at text[body_at]."""
    try:
        value, end = object_at(text, body_at)
    except NearJsonError as exc:
        return Found(dialect, name, None, start, end_hint or len(text),
                     f"{exc} near `{exc.near.strip()[:40]}`", exc.cut)
    return Found(dialect, name, value, start, max(end, end_hint or 0))


def param_value(raw: str) -> str:
    """A parameter's text; when a template put it on lines of its own (qwen3-coder), less
    the newline on each side."""
    if not raw.startswith(("\n", "\r\n")):
        return raw
    raw = raw.removeprefix("\r\n").removeprefix("\n")
    return raw.removesuffix("\n").removesuffix("\r")
