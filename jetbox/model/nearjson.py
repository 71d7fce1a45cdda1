"""Near-JSON: the almost-JSON local models write for tool arguments (single quotes, Python
literals, trailing commas, a literal `\\n` between tokens, bare keys), read without `eval`;
and where a bracketed value ends, or whether it was cut off first."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

MAX_CHARS = 1_000_000  # a bigger value is no tool call: not worth parsing
QUOTES = ('"', "'", '<|"|>', "<escape>")  # gemma writes strings between <|"|> tokens
_CLOSERS = {"{": "}", "[": "]", "(": ")"}
_WORDS = {"True": "true", "False": "false", "None": "null"}
_BARE_KEY = re.compile(r"([{,]\s*)([A-Za-z_][\w.-]*)(\s*:)")
_ESCAPE = re.compile(r"\\[ntr]")


class NearJsonError(ValueError):
    """Why a value could not be read: `cut` when the text ended inside it."""

    def __init__(self, message: str, near: str = "", cut: bool = False) -> None:
        super().__init__(message)
        self.near = near
        self.cut = cut


def _quote_at(text: str, index: int, quotes: tuple[str, ...]) -> str:
    for quote in quotes:
        if text.startswith(quote, index):
            return quote
    return ""


_TOKENS = re.compile(r"\\.|<\|\"\|>|<escape>|[\"'{}\[\]()]", re.S)
# The rest of a string that opened with each quote, through its closing quote, in one match
# (an escape is skipped whole, as _TOKENS would): possessive, so it never backtracks.
_STRING_REST = {
    '"': re.compile(r'(?:\\.|<\|"\|>|[^"\\])*+"', re.S),
    "'": re.compile(r"(?:\\.|[^'\\])*+'", re.S),
    '<|"|>': re.compile(r'(?:\\.|(?!<\|"\|>)[^\\])*+<\|"\|>', re.S),
    "<escape>": re.compile(r"(?:\\.|(?!<escape>)[^\\])*+<escape>", re.S),
}


@dataclass(frozen=True)
class Ends:
    """Where each bracket of one text closes, as scans from earlier brackets found it.

    A scan from an opening bracket passes every bracket nested in it, outside strings, in
    exactly the state a scan from that bracket would start in: so one scan answers for all
    of them, and a later question about one of them (a reader trying the next `{`) costs
    nothing. Without this, `[` and 60,000 `{` cost a full scan per `{` (minutes)."""

    text: str
    at: dict[int, int | None] = field(default_factory=dict)  # opener -> past its closer
    spent: list[int] = field(default_factory=lambda: [0])    # tokens scanned, all scans


@lru_cache(maxsize=8)
def ends_of(text: str) -> Ends:
    """The table for a text: the readers of one reply ask about the same text object."""
    return Ends(text)


def balanced_end(text: str, start: int, quotes: tuple[str, ...] = QUOTES) -> int | None:
    """Index just past the bracket that closes text[start]; None when the text ends first
    (cut off); -1 when a wrong bracket closes it (not a value). A regular expression jumps
    between the characters that matter, a string is skipped in one match, and a bracket
    already answered is jumped over: all the questions about one text cost one pass."""
    table = ends_of(text) if quotes == QUOTES else Ends(text)
    if start in table.at:
        return table.at[start]
    stack: list[tuple[str, int]] = []  # (the closer expected, where its opener is)
    result = _scan(table, start, quotes, stack)
    for _, opener in stack:  # still open when the text ended or a wrong bracket came
        table.at[opener] = result
    return result


def _scan(table: Ends, start: int, quotes: tuple[str, ...],
          stack: list[tuple[str, int]]) -> int | None:
    """The scan behind balanced_end; every bracket it sees closed goes into the table."""
    text, known_ends = table.text, table.at
    # Scans that start inside another scan's strings are not shared; this bound keeps the
    # total linear in the text whatever it holds (past it: no value, so no call).
    budget, spent, index = 8 * len(text) + 10_000, table.spent[0], start
    try:
        while (token := _TOKENS.search(text, index)) is not None:
            spent += 1
            char, index = token.group(), token.end()
            if spent > budget:
                return -1
            if char in quotes:
                rest = _STRING_REST[char].match(text, index)
                if rest is None:  # the text ends inside the string
                    return None
                index = rest.end()
            elif char in _CLOSERS:
                known = known_ends.get(token.start(), 0) if stack else 0
                if known is None or known < 0:
                    return known
                if known:  # matched before: jump past it, as if scanned again
                    index = known
                    continue
                stack.append((_CLOSERS[char], token.start()))
            elif char in ")]}":
                if not stack or stack[-1][0] != char:
                    return -1
                known_ends[stack.pop()[1]] = index
                if not stack:
                    return index
        return None
    finally:
        table.spent[0] = spent


def is_cut(text: str) -> bool:
    """The text ends inside a string or with brackets still open."""
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    return start >= 0 and balanced_end(text, start) is None


def _string_token(text: str, index: int, quote: str) -> tuple[str, int]:
    """One quoted string from text[index] as a JSON string, and the index after it."""
    end = index + len(quote)
    while end < len(text):
        if text[end] == "\\" and len(quote) == 1:
            end += 2
            continue
        if text.startswith(quote, end):
            break
        end += 1
    if end >= len(text):
        raise NearJsonError("a string is not closed", text[index:index + 40], cut=True)
    body = text[index + len(quote):end]
    if quote == '"':
        return '"' + body + '"', end + 1
    if quote == "'":
        try:
            value = ast.literal_eval("'" + body + "'")
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise NearJsonError("a quoted string does not parse", text[index:index + 40]) \
                from None
        return json.dumps(value), end + 1
    return json.dumps(body), end + len(quote)


def normalized(text: str) -> str:
    """Near-JSON rewritten as JSON: strings kept or re-quoted, and outside strings Python's
    words mapped, bare keys quoted, trailing commas and literal escapes dropped."""
    out: list[str] = []
    plain: list[str] = []
    index = 0

    def flush() -> None:
        chunk = _ESCAPE.sub(" ", "".join(plain))
        chunk = re.sub(r"\b(True|False|None)\b", lambda m: _WORDS[m.group(1)], chunk)
        out.append(chunk)
        plain.clear()

    while index < len(text):
        quote = _quote_at(text, index, QUOTES)
        if quote:
            flush()
            token, index = _string_token(text, index, quote)
            out.append(token)
            continue
        plain.append(text[index])
        index += 1
    flush()
    joined = "".join(out)
    joined = re.sub(r",(\s*[}\]])", r"\1", joined)
    return _quote_keys(joined)


def _quote_keys(text: str) -> str:
    """Bare keys (`{path: ...}`) quoted, outside strings only."""
    parts = re.split(r'("(?:[^"\\]|\\.)*")', text)
    return "".join(p if i % 2 else _BARE_KEY.sub(r'\1"\2"\3', p) for i, p in enumerate(parts))


def loads(text: str) -> Any:
    """The value near-JSON text means; NearJsonError (with `cut`) when there is none."""
    if len(text) > MAX_CHARS:
        raise NearJsonError(f"the value is over {MAX_CHARS} characters", text[:40])
    try:
        return json.loads(text, strict=False)
    except RecursionError:
        raise NearJsonError("nested too deeply", text[:40]) from None
    except ValueError as exc:
        first = exc
    try:
        return json.loads(normalized(text), strict=False)
    except NearJsonError as exc:
        if exc.cut or is_cut(text):
            raise NearJsonError("cut off", text[-40:], cut=True) from None
    except RecursionError:
        raise NearJsonError("nested too deeply", text[:40]) from None
    except ValueError:
        pass
    try:
        return _plain(ast.literal_eval(text.strip()))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    if is_cut(text):
        raise NearJsonError("cut off", text[-40:], cut=True)
    pos = getattr(first, "pos", 0) or 0
    raise NearJsonError(str(first).split(":")[0], text[max(pos - 20, 0):pos + 20])


def _plain(value: Any) -> Any:
    """A Python literal as JSON would have it: tuples and sets become lists."""
    if isinstance(value, tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def object_at(text: str, start: int) -> tuple[Any, int]:
    """The value whose bracket is text[start] and the index after it."""
    end = balanced_end(text, start)
    if end is None:
        raise NearJsonError("cut off", text[-40:], cut=True)
    if end < 0:
        raise NearJsonError("brackets do not match", text[start:start + 40])
    return loads(text[start:end]), end
