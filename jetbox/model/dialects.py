"""The dialects local models write tool calls in, as a table of small readers.

Each reader takes the reply's text and returns what it found: a name, its arguments (or
why they could not be read) and where in the text. calls.py decides what may run.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from jetbox.model.found import MAX_CALLS, Found, near, read_json
from jetbox.model.nearjson import NearJsonError, balanced_end, loads
from jetbox.model.xmlcalls import glm_xml, invoke_xml, qwen_xml, tool_tags

# --- bracketed and keyword dialects ---------------------------------------------------

_HARMONY = re.compile(r"(?:<\|start\|>\s*assistant\s*)?(?:<\|channel\|>\s*\w+\s*)?"
                      r"to=(?:functions\.)?([A-Za-z_][\w.-]*)\s*(?:<\|constrain\|>\s*)?"
                      r"(?:json\s*)?(?:<\|message\|>\s*)?")


def harmony(text: str) -> list[Found]:
    """gpt-oss's harmony header leaking into content or thinking: `<|channel|>commentary
    to=functions.NAME <|constrain|>json<|message|>{...}<|call|>`, `NAMEjson` glued too."""
    found: list[Found] = []
    index = 0
    # From the end of the last call: a header inside a call's arguments is part of them.
    while len(found) < MAX_CALLS and (match := _HARMONY.search(text, index)) is not None:
        name, at = match.group(1), match.end()
        index = max(at, match.start() + 1)
        if at >= len(text):
            found.append(Found("gpt-oss-harmony", name, None, match.start(), len(text),
                               near(text[match.start():], ""), True))
        if at >= len(text) or text[at] not in "{[":
            continue
        found.append(read_json("gpt-oss-harmony", name, text, match.start(), at))
        index = max(index, found[-1].end)
    return found


_MISTRAL = re.compile(r"\[TOOL_CALLS\]\s*")
_MISTRAL_NAME = re.compile(r"\s*([A-Za-z_][\w.-]*)\s*(?:\[CALL_ID\]\s*\w+\s*)?(?:\[ARGS\])?\s*")


def mistral(text: str) -> list[Found]:
    """Mistral / Devstral: `[TOOL_CALLS]NAME[ARGS]{json}` (several may follow one marker),
    and the older `[TOOL_CALLS][{"name": .., "arguments": ..}]`."""
    found: list[Found] = []
    for marker in islice(_MISTRAL.finditer(text), MAX_CALLS):
        if found and marker.start() < found[-1].end:
            continue  # inside the arguments of the call before: part of them
        at = marker.end()
        if text.startswith("[", at) and not text.startswith("[ARGS]", at):
            listed = read_json("mistral", "", text, marker.start(), at)
            found += [Found("mistral", n, a, listed.start, listed.end)
                      for n, a, _ in as_calls(listed.arguments)] or [listed]
            continue
        while (name := _MISTRAL_NAME.match(text, at)) and text.startswith("{", name.end()):
            # the first call starts at the marker, the next ones at their names: spans of
            # one reply's calls never overlap (an overlap would make one the other's part)
            begin = marker.start() if at == marker.end() else name.start()
            call = read_json("mistral", name.group(1), text, begin, name.end())
            found.append(call)
            at = call.end
            if call.error:
                break
    return found


_SPECIAL = re.compile(r"<\|tool_call_begin\|>|<\|tool_call_argument_begin\|>|tool▁sep｜>")
_KIMI_HEAD = re.compile(r"\s*(?:functions\.)?([\w.-]+?)(?::\d+)?\s*"
                        r"(?:<\|tool_call_argument_begin\|>)?\s*(?=\{)")
_NAME_BEFORE = re.compile(r"(?:functions\.)?([A-Za-z_][\w.-]*?)(?::\d+)?\s*\Z")
_DEEPSEEK_HEAD = re.compile(r"\s*([\w.-]+)\s*(?:```(?:json)?\s*)?(?=\{)")
_DEEPSEEK_BEGIN = "<｜tool▁call▁begin｜>"


def special_tokens(text: str) -> list[Found]:
    """Kimi K2: `<|tool_call_begin|>functions.NAME:0<|tool_call_argument_begin|>{...}`;
    DeepSeek V3/R1: `<｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{...}````.
    Found from the markers, then read forwards (or a few characters back for a name), so a
    long reply costs one pass."""
    found: list[Found] = []
    consumed = 0
    for marker in islice(_SPECIAL.finditer(text), 4 * MAX_CALLS):
        if marker.start() < consumed or len(found) >= MAX_CALLS:
            continue
        token = marker.group()
        if token == "tool▁sep｜>":
            head, dialect = _DEEPSEEK_HEAD.match(text, marker.end()), "deepseek-v3"
            begin = text.rfind(_DEEPSEEK_BEGIN, max(0, marker.start() - 40), marker.start())
            start = begin if begin >= 0 else marker.start()
        elif token == "<|tool_call_begin|>":
            head, dialect, start = _KIMI_HEAD.match(text, marker.end()), "kimi-k2", \
                marker.start()
        else:  # the argument marker after a bare `NAME:0`
            window = text[max(0, marker.start() - 80):marker.start()]
            named = _NAME_BEFORE.search(window)
            at = len(text) - len(text[marker.end():].lstrip())
            if named is None or not text.startswith("{", at):
                continue
            found.append(read_json("kimi-k2", named.group(1), text,
                                   marker.start() - len(window) + named.start(), at))
            consumed = found[-1].end
            continue
        if head is not None:
            found.append(read_json(dialect, head.group(1), text, start, head.end()))
            consumed = found[-1].end
    return found


_GEMMA = re.compile(r"call:\s*([A-Za-z_][\w.-]*)(?::[A-Za-z_][\w.-]*)?\s*(?=[{(])")


def gemma(text: str) -> list[Found]:
    """Gemma / FunctionGemma: `<|tool_call>call:NAME{key:<|"|>v<|"|>}<tool_call|>`, bare keys
    and `<|"|>` or `<escape>` strings; also `call:NAME(key="v")`."""
    found: list[Found] = []
    index = 0
    # One search after another, from the end of the last call: a `call:` inside a call's
    # arguments is part of them, and reading it again would cost a pass per nesting level.
    while len(found) < MAX_CALLS and (match := _GEMMA.search(text, index)) is not None:
        at = match.end()
        end = balanced_end(text, at)
        if end is None or end < 0:
            found.append(Found("gemma", match.group(1), None, match.start(), len(text),
                               near(text[at:], text[match.start():]), end is None))
            break
        index = end
        body = text[at:end]
        if body.startswith("("):
            body = "{" + re.sub(r"(\w+)\s*=", r"\1:", body[1:-1]) + "}"
        try:
            found.append(Found("gemma", match.group(1), loads(body), match.start(), end))
        except NearJsonError as exc:
            found.append(Found("gemma", match.group(1), None, match.start(), end,
                               near(exc.near, body), exc.cut))
    return found


_PY_CALL = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*)\((?=[\w\s)\"'])")


def pythonic(text: str) -> list[Found]:
    """Llama 3.2 / granite / Llama 4: `[write_file(path="a.py", content="...")]`, values
    read with ast.literal_eval only."""
    found: list[Found] = []
    index, tries = 0, 0
    # From the end of the last bracketed call, kept or not: a call inside another's
    # parentheses is its argument, and each character goes through ast.parse once.
    while tries < 4 * MAX_CALLS and (match := _PY_CALL.search(text, index)) is not None:
        tries += 1
        end = balanced_end(text, match.end() - 1)
        if end is None or end < 0:
            index = match.end()
            continue
        index = end
        try:
            node = ast.parse(text[match.start():end].strip(), mode="eval").body
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
        if not isinstance(node, ast.Call) or node.args or not node.keywords:
            continue
        try:
            args = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        found.append(Found("pythonic", match.group(1), args, match.start(), end))
        if len(found) >= MAX_CALLS:
            break
    return found


# --- JSON, however it is wrapped -------------------------------------------------------

_ARG_KEYS = ("arguments", "args", "parameters", "params", "input", "tool_input", "kwargs",
             "action_input")
_NAME_KEYS = ("name", "tool", "tool_name", "function", "action", "recipient_name")
# A value that opens like a call (`{"name":`, `[{"tool":`): only such a value that does not
# parse, or is cut off, is reported as a broken call; a key deep inside code is not.
_CALLISH = re.compile(r'[\[\s]*\{\s*["\']?(?:name|tool|function|tool_name|action)["\']?\s*:')


def as_calls(value: Any) -> Iterator[tuple[str, Any, bool]]:
    """(name, arguments, flattened) from a JSON value shaped like calls: `{"name", "arguments"}`
    and its aliases, `{"tool", "args"}` (Jetbox's JSON protocol), OpenAI's `{"function":
    {...}}`, `{"tool_calls": [...]}`, lists; arguments flattened next to the name too."""
    if isinstance(value, list):
        for item in value:
            yield from as_calls(item)
        return
    if not isinstance(value, dict):
        return
    if isinstance(value.get("tool_calls"), list):
        yield from as_calls(value["tool_calls"])
        return
    if isinstance(value.get("function"), dict):
        value = value["function"]
    name = next((value[k] for k in _NAME_KEYS if isinstance(value.get(k), str)), None)
    if name is None:
        return
    key = next((k for k in _ARG_KEYS if k in value), None)
    if key is not None:
        yield name, value[key], False
        return
    used = {k for k in _NAME_KEYS if value.get(k) == name} | {"type", "id", "thought"}
    yield name, {k: v for k, v in value.items() if k not in used}, True


_OPENER = re.compile(r"[{\[]")


def json_objects(text: str, start: int = 0) -> list[Found]:
    """Top-level JSON values shaped like calls, wherever they are (bare, fenced, after
    `<tool_call>`, `<|python_tag|>`, `<function_call>`, `functools`, joined by `;`)."""
    found: list[Found] = []
    index, tries = start, 0
    while (match := _OPENER.search(text, index)) is not None and len(found) < MAX_CALLS:
        tries += 1
        if tries > 20 * MAX_CALLS:  # bracket soup: no call hides in it
            break
        at = match.start()
        end = balanced_end(text, at)
        if end is None:
            if _CALLISH.match(text, at):
                found.append(Found(_wrapper(text, at), _cut_name(text[at:]), None, at,
                                   len(text), near(text[at:], ""), True))
            break
        if end < 0:
            index = at + 1
            continue
        try:
            value = loads(text[at:end])
        except NearJsonError as exc:
            if _CALLISH.match(text, at):
                found.append(Found(_wrapper(text, at), _cut_name(text[at:end]), None, at, end,
                                   near(exc.near, text[at:end])))
            index = end
            continue
        pairs = list(as_calls(value))
        found += [Found(_wrapper(text, at) + ("-flat" if flat else ""), n, a, at, end)
                  for n, a, flat in pairs]
        index = end
    return found


def _cut_name(text: str) -> str:
    match = re.search(r'["\']?(?:name|tool|function)["\']?\s*:\s*["\']([\w.-]+)', text)
    return match.group(1) if match else ""


_WRAPPERS = (("<tool_call>", "hermes-json"), ("<|python_tag|>", "llama3.1-python-tag"),
             ("<function_call>", "granite-json"), ("<|tool_call|>", "granite-json"),
             ("functools", "phi-functools"), ("<tool_calls>", "tool-calls-json"),
             ("```", "fenced-json"))


def _wrapper(text: str, at: int) -> str:
    before = text[max(0, at - 40):at].rstrip(" \n[")
    return next((label for marker, label in _WRAPPERS if before.endswith(marker)
                 or (marker == "```" and re.search(r"```\w*$", before))), "bare-json")


Dialect = tuple[str, str, Callable[..., list[Found]]]
# The table: name, the models known to send it, the reader. Order matters: a span one
# reader claims is hidden from the readers after it.
DIALECTS: tuple[Dialect, ...] = (
    ("gpt-oss-harmony", "gpt-oss:20b, gpt-oss:120b", harmony),
    ("invoke-xml", "GLM-4.5/4.6/4.7, MiniMax-M2, MiniCPM5, DeepSeek V3.2/V4 (DSML)", invoke_xml),
    ("glm-xml", "GLM-4.5, 4.6, 4.7, GLM-5", glm_xml),
    ("special-tokens", "Kimi K2; DeepSeek V3/R1 (tool▁sep)", special_tokens),
    ("qwen-xml", "qwen3-coder, qwen3.5, qwen3.6; Llama 3.1 (<function=NAME>{json})", qwen_xml),
    ("mistral", "mistral-small, mistral-nemo, devstral, magistral", mistral),
    ("gemma", "gemma3, gemma4, FunctionGemma", gemma),
    ("tool-named-tags", "devstral, GLM, models prompted Cline/Roo-style", tool_tags),
    ("pythonic", "llama3.2, llama4, granite3/4", pythonic),
    ("json", "qwen2.5(-coder), qwen3, hermes, llama3.1/3.3, granite, phi, gpt-oss", json_objects),
)
