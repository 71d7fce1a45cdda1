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
    """One call as written. `error`, when its arguments could not be read: the model's own
    text where reading stopped (data; prompts.yaml's `reply.unparsable` says the rest)."""

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
                     near(exc.near, text[body_at:]), exc.cut)
    return Found(dialect, name, value, start, max(end, end_hint or 0))


def near(where: str, fallback: str) -> str:
    """The model's text where reading stopped (or where the call began), never empty."""
    return where.strip()[:40] or fallback.strip()[:40] or "(nothing)"


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
    """`<path>a.py</path><content>...</content>` as {"path": "a.py", "content": "..."}. A
    tag closes where its nesting does (a file that shows `<content>` tags in its content is
    kept whole); one never balanced closes at its first closing tag, as before."""
    out: dict[str, str] = {}
    index = 0
    budget = [len(body) // 4 + 1000]  # tags counted in all, so odd nesting stays linear
    for _ in range(4 * MAX_CALLS):
        match = _CHILD.search(body, index)
        if match is None:
            break
        name = match.group(1)
        first = body.find(f"</{name}>", match.end())
        if first < 0:  # never closed: not a parameter
            index = match.end()
            continue
        end = _nested_close(body, name, match.end(), first, budget)
        out[name] = param_value(body[match.end():end])
        index = end + len(name) + 3
    return out


def _nested_close(body: str, name: str, start: int, first: int, budget: list[int]) -> int:
    """Where `<name>` opened at `start` closes, nested `<name>...</name>` counted; `first`
    (its first closing tag) when the nesting never balances or the budget is spent. A tag
    with nothing nested in it costs one search."""
    if body.find(f"<{name}>", start, first) < 0:
        return first
    depth = 1
    for tag in re.compile(rf"</?{re.escape(name)}>").finditer(body, start):
        budget[0] -= 1
        if budget[0] < 0:
            break
        depth += -1 if tag.group().startswith("</") else 1
        if depth == 0:
            return tag.start()
    return first
