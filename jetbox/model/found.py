"""One call as a dialect reader found it in a reply's text, and the helpers readers share."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
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


def tagged(text: str, opener: re.Pattern[str], closer: Callable[[re.Match[str]], str],
           ) -> Iterator[tuple[re.Match[str], str]]:
    """Each opening tag with the text up to its closing tag, found with str.find: an opener
    never closed costs one search, not one per position (as `<a>(.*?)</a>` would)."""
    index = 0
    for _ in range(4 * MAX_CALLS):
        match = opener.search(text, index)
        if match is None:
            return
        close = closer(match)
        end = text.find(close, match.end())
        if end < 0:
            index = match.end()
            continue
        yield match, text[match.end():end]
        index = end + len(close)


_CHILD = re.compile(r"<([A-Za-z_]\w*)>")


def child_tags(body: str) -> dict[str, str]:
    """`<path>a.py</path><content>...</content>` as {"path": "a.py", "content": "..."}."""
    return {m.group(1): param_value(value)
            for m, value in tagged(body, _CHILD, lambda m: f"</{m.group(1)}>")}
