"""Dialect readers for XML-like tool calls: qwen3-coder's `<function=..>`, `<invoke name=..>`
(and DeepSeek's DSML), and tags named after a tool."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from jetbox.model.found import (
    MAX_CALLS,
    Found,
    child_tags,
    near,
    param_value,
    read_json,
    tagged,
)
from jetbox.model.nearjson import NearJsonError, loads

_DSML = re.compile(r"(?:[｜|‖]{1,2})DSML(?:[｜|‖]{1,2})")

_QWEN_OPEN = re.compile(r"<function=([^>\s]+)>")
_QWEN_PARAM_OPEN = re.compile(r"<parameter=([^>\s]+)>")
_QWEN_PARAM = re.compile(r"<parameter=([^>\s]+)>(.*?)(?=</parameter>|<parameter=|</function>|"
                         r"</tool_call>|\Z)(</parameter>)?", re.S)


_QWEN_TAG = re.compile(r"<function=[^>\s]+>|</function>")
_TOOL_CALL_TAG = re.compile(r"</?tool_call>")
_SPACE = re.compile(r"\s*")


def _pairs(text: str) -> dict[int, int]:
    """Where each `<function=..>` is closed, nesting counted, in one pass over the tags: a
    call written inside a parameter (a file that documents qwen's format) is part of it."""
    stack: list[int] = []
    pairs: dict[int, int] = {}
    for tag in _QWEN_TAG.finditer(text):
        if tag.group() != "</function>":
            stack.append(tag.start())
        elif stack:
            pairs[stack.pop()] = tag.start()
    return pairs


def _nested_params(body: str) -> dict[str, str]:
    """The parameters of a call whose body may hold whole calls: those are hidden (with the
    `<tool_call>` tags around them) while looking for where each parameter ends, and kept
    verbatim in its value."""
    hidden: list[tuple[int, int]] = [(t.start(), t.end())
                                     for t in _TOOL_CALL_TAG.finditer(body)]
    depth, opened = 0, 0
    for tag in _QWEN_TAG.finditer(body):
        if tag.group() != "</function>":
            depth, opened = depth + 1, tag.start() if depth == 0 else opened
        elif depth:
            depth -= 1
            if depth == 0:
                hidden.append((opened, tag.end()))
    chars = list(body)
    for start, end in hidden:
        chars[start:end] = " " * (end - start)
    masked = "".join(chars)
    return {param.group(1): param_value(value) for param, value in
            _values(body, masked, _QWEN_PARAM_OPEN, lambda m: "</parameter>")}


def _values(body: str, masked: str, opener: re.Pattern[str],
            closer: Callable[[re.Match[str]], str]) -> Iterator[tuple[re.Match[str], str]]:
    """Each parameter of a call whose end is known, with its value: up to the last closing
    tag before the next parameter opens (or the call ends), so a value may hold that tag
    itself (a file showing the format); with no closing tag, up to the next parameter.
    `masked` is the body with nested calls blanked: where tags are looked for."""
    openers = list(islice(opener.finditer(masked), 4 * MAX_CALLS))
    for index, param in enumerate(openers):
        stop = openers[index + 1].start() if index + 1 < len(openers) else len(body)
        close = masked.rfind(closer(param), param.end(), stop)
        yield param, body[param.end():close if close >= 0 else stop]


def qwen_xml(text: str) -> list[Found]:
    """qwen3-coder / qwen3.5: `<tool_call><function=NAME><parameter=KEY>v</parameter>...`;
    and Llama 3.1's `<function=NAME>{json}</function>`."""
    found: list[Found] = []
    pairs = _pairs(text) if "<function=" in text else {}
    index = 0
    # From the end of the last call: a `<function=` inside it is part of its arguments.
    while len(found) < MAX_CALLS and (match := _QWEN_OPEN.search(text, index)) is not None:
        name, body_at = match.group(1), match.end()
        paired = pairs.get(match.start())
        close = paired if paired is not None else text.find("</function>", body_at)
        space = _SPACE.match(text, body_at)  # always a match, maybe an empty one
        at = space.end() if space else body_at
        if text.startswith("{", at):
            found.append(read_json("llama3.1-function-tag", name, text, match.start(), at,
                                   close + 11 if close >= 0 else None))
            index = max(found[-1].end, body_at)
            continue
        if paired is not None:
            found.append(Found("qwen-xml", name, _nested_params(text[body_at:paired]),
                               match.start(), paired + 11))
            index = paired + 11
            continue
        ends = [i for i in (close, text.find("</tool_call>", body_at),
                            text.find("<function=", body_at)) if i >= 0]
        stop = min(ends) if ends else len(text)
        args = {p.group(1): param_value(p.group(2))
                for p in _QWEN_PARAM.finditer(text, body_at, stop)}
        cut = not ends  # the reply ended inside the call: the output limit cut it
        end = close + 11 if close >= 0 else stop
        found.append(Found("qwen-xml", name, args, match.start(), end,
                           near(text[match.start():], "") if cut else "", cut))
        index = max(end, body_at)
    return found


_INVOKE = re.compile(r"<(invoke|function)\s+name=\"([^\"]+)\"\s*>(.*?)(</\1>|\Z)", re.S)
_NAMED_PARAM = re.compile(r"<(parameter|param)\s+name=\"([^\"]+)\"([^>]*)>")


def invoke_xml(text: str) -> list[Found]:
    """`<invoke name="NAME"><parameter name="KEY">v</parameter></invoke>` (GLM, MiniMax,
    Claude-style prompts), MiniCPM's `<function name=..><param name=..>`, and DeepSeek's
    DSML markup, the same tags with `｜DSML｜` in them."""
    dialect = "deepseek-dsml" if _DSML.search(text) else "invoke-xml"
    plain = _DSML.sub("", text) if dialect == "deepseek-dsml" else text
    found = []
    for match in islice(_INVOKE.finditer(plain), MAX_CALLS):
        args: dict[str, Any] = {}
        body = match.group(3)
        if not _NAMED_PARAM.search(body):  # GLM: `<invoke name="bash"><command>ls</command>`
            args = child_tags(body)
        for param, value in _values(body, body, _NAMED_PARAM, lambda m: f"</{m.group(1)}>"):
            raw = param_value(value)
            if 'string="false"' in param.group(3):
                try:
                    raw = loads(raw)
                except NearJsonError:
                    pass
            args[param.group(2)] = raw
        cut = not match.group(4)
        start, end = _unmapped(text, plain, match.start(), match.end(), dialect)
        found.append(Found(dialect, match.group(2), args, start, end,
                           near(text[match.start():], "") if cut else "", cut))
    return found


def _unmapped(text: str, plain: str, start: int, end: int, dialect: str) -> tuple[int, int]:
    """A span of the DSML-free text as a span of the original text."""
    if dialect != "deepseek-dsml":
        return start, end
    shifts, removed = [], 0
    for marker in _DSML.finditer(text):
        shifts.append((marker.start() - removed, len(marker.group())))
        removed += len(marker.group())
    return (start + sum(n for at, n in shifts if at <= start),
            end + sum(n for at, n in shifts if at < end))


def tool_tags(text: str, tools: tuple[str, ...]) -> list[Found]:
    """A tag named after a tool: `<write_file><path>a</path><content>b</content></write_file>`
    or `<write_file>{json}</write_file>` (Cline/Roo-style prompts, GLM, Devstral)."""
    found = []
    for tool in tools:
        pattern = re.compile(rf"<({re.escape(tool)})>(.*?)(</\1>|\Z)", re.S | re.I)
        for match in islice(pattern.finditer(text), MAX_CALLS):
            body, cut = match.group(2), not match.group(3)
            stripped = body.strip()
            if stripped.startswith("{"):
                at = match.start(2) + body.index("{")
                found.append(read_json("tool-named-tags", match.group(1), text, match.start(), at,
                                   match.end()))
                continue
            args = child_tags(body)
            found.append(Found("tool-named-tags", match.group(1), args, match.start(),
                               match.end(), near(text[match.start():], "") if cut else "", cut))
    return found


_GLM = re.compile(r"<tool_call>\s*([A-Za-z_][\w.-]*)\s*(?:</arg_value>)?(.*?)(</tool_call>|\Z)",
                  re.S)
_GLM_ARG = re.compile(r"<arg_key>")


def glm_xml(text: str) -> list[Found]:
    """GLM-4.5 to 5: `<tool_call>NAME<arg_key>k</arg_key><arg_value>v</arg_value></tool_call>`,
    with no arguments `<tool_call>NAME</tool_call>` (a stray `</arg_value>` forgiven)."""
    found = []
    for match in islice(_GLM.finditer(text), MAX_CALLS):
        body = match.group(2)
        if body.strip() and "<arg_key>" not in body:
            continue  # not GLM's shape: another reader's
        args = {}
        for _, pair in tagged(body, _GLM_ARG, lambda m: "</arg_value>"):
            key, _, value = pair.partition("</arg_key>")
            args[key.strip()] = param_value(re.sub(r"^\s*<arg_value>", "", value))
        cut = not match.group(3) and not text.rstrip().endswith("</arg_value>")
        found.append(Found("glm-xml", match.group(1), args, match.start(), match.end(),
                           near(text[match.start():], "") if cut else "", cut))
    return found
