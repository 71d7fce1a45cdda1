"""The one home that turns a model's reply (native calls, content, thinking) into the calls
Jetbox runs, and, when nothing can run, the one line that tells the model why.

What a faithful agent runs: native calls, and calls written in a known dialect as the
reply's action. What it never runs: a call drafted in reasoning (`<think>`, the thinking
field, harmony's analysis channel), a call quoted in prose to the user, shell text in a
code fence, a made-up tag, a call cut off by the output limit, or a name that is not
exactly one tool.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jetbox.model.base import ToolCall
from jetbox.model.dialects import DIALECTS, Found, harmony
from jetbox.model.names import Tools, resolve, show
from jetbox.model.nearjson import NearJsonError, loads
from jetbox.tools.specs import unadvertised_specs

UNPARSED = "__jetbox_unparsed__"  # how the transport hands over arguments it could not read
NO_CALL = "No tool call in your reply. Reply with one or more tool calls."
# Explicit call syntax: never mistaken for prose around it.
STRONG = {"gpt-oss-harmony", "invoke-xml", "deepseek-dsml", "qwen-xml", "llama3.1-function-tag",
          "mistral", "hermes-json", "llama3.1-python-tag", "granite-json", "phi-functools",
          "tool-calls-json", "gemma", "glm-xml", "kimi-k2", "deepseek-v3"}
_CUES = ("you could", "you can", "you should", "you might", "you may", "for example",
         "for instance", "would look like", "i would call", "i could call", "if you want",
         "you'd call")  # said to the user just before a call: the call is an example
# Where reasoning opens, and what closes it (None: the end of the text or the next message).
_REASONING = (("<think>", "</think>"), ("<thinking>", "</thinking>"),
              ("<reasoning>", "</reasoning>"), ("<|channel|>analysis<|message|>", None))
_SHELL = re.compile(r"```(?:bash|sh|shell|console|zsh|powershell|ps1|cmd|bat|terminal)\s*\n",
                    re.I)
_TAG = re.compile(r"<([A-Za-z_][\w-]*)>[^<]{0,400}?</\1>")
_HARMLESS_TAGS = {"p", "b", "i", "em", "strong", "code", "pre", "summary", "details", "answer",
                  "final", "response", "output", "result", "br", "ul", "li", "ol", "sup", "sub"}


@dataclass(frozen=True)
class Parsed:
    """What a reply asks Jetbox to run, how it was sent, and what the model must hear."""

    calls: tuple[ToolCall, ...] = ()
    problem: str = ""
    delivery: str = "none"  # native | json protocol | DIALECT in content/thinking | none


def _arguments(value: Any, types: Mapping[str, str], from_text: bool) -> Any:
    """Arguments as an object: a JSON string read; XML values of array/object parameters
    read as JSON (a write_file `content` stays the text it is)."""
    if isinstance(value, str):
        try:
            value = loads(value)
        except NearJsonError as exc:
            raise exc from None
    if isinstance(value, dict) and UNPARSED in value:
        return _arguments(str(value[UNPARSED]), types, from_text)
    if isinstance(value, dict) and from_text:
        out = dict(value)
        for key, item in value.items():
            if isinstance(item, str) and types.get(key) in ("array", "object") \
                    and item.strip()[:1] in "[{":
                try:
                    out[key] = loads(item)
                except NearJsonError:
                    pass
        return out
    return value


def _cut_line(name: str) -> str:
    what = f"Your call to {show(name, 40)}" if name else "Your call"
    return (f"{what} was cut off (the reply hit the output limit) and was not run: make a "
            f"smaller call, e.g. edit_file for one passage instead of a whole-file write_file")


def native(calls: Sequence[ToolCall], tools: Tools, from_string: bool = False) -> Parsed:
    """Native calls with their names and string arguments normalized; an unknown name is
    kept, and the toolbox answers it with the list of tools."""
    out, problems = [], []
    for call in calls:
        name, _ = resolve(call.name, tools.names, tools.listed)
        name = name or call.name
        try:
            arguments = _arguments(call.arguments, tools.types.get(name, {}), False)
        except NearJsonError as exc:
            problems.append(_cut_line(name) if exc.cut else
                            f"The arguments of your {show(name, 40)} call could not be read "
                            f"near `{show(exc.near, 40)}`; it was not run: send a JSON object")
            continue
        out.append(ToolCall(name, tools.omitting_nulls(name, arguments)))
    delivery = "native" + (" (arguments as a JSON string)" if from_string else "")
    return Parsed(tuple(out), ". ".join(problems), delivery)


def _mask(text: str, spans: Sequence[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def read_all(text: str, tools: Tools) -> list[Found]:
    """Every call in the text, in order, each span read by the first dialect that knows it."""
    found: list[Found] = []
    for _, _, reader in DIALECTS:
        if not text.strip():
            break
        got = reader(text, tools.names) if reader.__name__ == "tool_tags" else reader(text)
        found += got
        text = _mask(text, [(f.start, f.end) for f in got])
    return sorted(found, key=lambda f: f.start)


def _quoted(text: str, found: Found, chain_at: int) -> bool:
    """The call is quoted in prose: words around it on its line, inline code, or a
    sentence to the user ("you could call ...") just before it or the calls it follows
    (chain_at: where that run of adjacent calls starts)."""
    paragraph = text[:chain_at].rsplit("\n\n", 1)[-1][-120:].lower()
    if any(cue in paragraph for cue in _CUES):
        return True
    if found.dialect in STRONG:
        return False
    line = text[text.rfind("\n", 0, found.start) + 1:found.start]
    line = re.split(r"[;)\]}>]", line)[-1]  # after an earlier call or marker on the line
    line = re.sub(r"```\w*|<[^>]*>|\[\w*\]|functools", " ", line)
    if line.count("`") % 2 or re.search(r"[A-Za-z]{2}", line):
        return True
    rest = text[found.end:].split("\n", 1)[0]
    rest = re.split(r"[{\[<(;,]", rest, maxsplit=1)[0]
    return bool(re.search(r"[A-Za-z]{2}", re.sub(r"```|json", " ", rest)))


def _reasoning_spans(content: str) -> list[tuple[int, int]]:
    """Closed reasoning blocks, harmony's analysis channel, and what precedes a `</think>`
    whose `<think>` the template put in the prompt; one pass of str.find per kind."""
    spans = []
    orphan = content.find("</think>")
    if orphan >= 0 and "<think>" not in content[:orphan]:
        spans.append((0, orphan + 8))
    for opener, closer in _REASONING:
        index = 0
        while (start := content.find(opener, index)) >= 0:
            if closer is None:
                ends = [i for i in (content.find("<|end|>", start), content.find(
                    "<|start|>", start + 1)) if i >= 0]
                end = min(ends) if ends else len(content)
            else:
                end = content.find(closer, start + len(opener))
                if end < 0:
                    break  # never closed: not reasoning that ended, so read as the reply
                end += len(closer)
            spans.append((start, end))
            index = end
    return spans


def _reasoning(content: str) -> tuple[str, str]:
    """The content with its reasoning blanked out, and that reasoning."""
    spans = _reasoning_spans(content)
    return _mask(content, spans), "\n".join(content[a:b] for a, b in spans)


def parse_reply(content: str, thinking: str, native_calls: Sequence[ToolCall],
                tools: Sequence[Mapping[str, Any] | str], json_protocol: bool = False,
                from_string: bool = False) -> Parsed:
    """The calls a reply asks for, how they came, and what the model must be told."""
    known = Tools.of(tools, also=unadvertised_specs())
    if native_calls:
        return native(native_calls, known, from_string)
    visible, reasoning = _reasoning(content)
    found = [(f, "content") for f in read_all(visible, known)]
    found += [(f, "thinking") for f in harmony(thinking)]
    calls: list[ToolCall] = []
    hard: list[str] = []
    soft: list[str] = []
    dialects: list[str] = []
    chain_at, last_end = 0, -1
    for item, where in found:
        text = visible if where == "content" else thinking
        gap = re.sub(r"<[^>]*>|```\w*|\[\w+\]|\b(?:function|commentary|assistant)\b", "",
                     text[max(last_end, 0):item.start])
        adjacent = 0 <= last_end <= item.start and not gap.strip(" \n,;[]()")
        chain_at, last_end = (chain_at if adjacent else item.start), item.end
        line = _judge(item, text, known, calls, chain_at)
        if line is None:
            dialects.append(f"{item.dialect.removesuffix('-flat')} in {where}")
        elif not line:
            continue
        elif line.startswith("A call quoted"):
            soft.append(line)
        else:
            hard.append(line)
    if not calls:
        soft += _why_nothing(visible, reasoning + "\n" + _unharmonic(thinking), known)
    problems = list(dict.fromkeys(hard + ([] if calls else soft)))
    delivery = "json protocol" if json_protocol and calls else \
        " + ".join(dict.fromkeys(dialects)) or "none"
    return Parsed(tuple(calls), " ".join(p.rstrip(".") + "." for p in problems[:2]), delivery)


def _judge(item: Found, text: str, known: Tools, calls: list[ToolCall],
           chain_at: int) -> str | None:
    """Adds the call to `calls` when it may run (None), else says why not (empty: it was
    no call at all)."""
    if item.cut:
        return _cut_line(item.name)
    if item.error or not item.name:
        return f"Could not parse your call near `{show(item.error or item.arguments, 50)}`; " \
               f"it was not run: send the tool call again"
    name, problem = resolve(item.name, known.names, known.listed)
    if name is None and item.dialect.endswith("-flat"):
        return ""  # JSON with a "name" (a package.json...), not a call to an unknown tool
    if name is None:
        return problem
    if _quoted(text, item, chain_at):
        return "A call quoted in prose (\"you could call ...\") is not run: to act, reply " \
               "with the tool call itself"
    try:
        arguments = _arguments(item.arguments, known.types.get(name, {}), True)
    except NearJsonError as exc:
        return _cut_line(name) if exc.cut else \
            f"Could not parse the arguments of {name} near `{show(exc.near, 40)}`"
    call = ToolCall(name, known.omitting_nulls(name, arguments))
    if call not in calls:
        calls.append(call)
    return None


def _unharmonic(thinking: str) -> str:
    spans = [(f.start, f.end) for f in harmony(thinking)]
    return _mask(thinking, spans)


def _why_nothing(visible: str, reasoning: str, known: Tools) -> list[str]:
    """When nothing can run: a call drafted in reasoning, shell in a fence, a made-up tag."""
    drafted = [f for f in read_all(reasoning, known) if f.name] if reasoning.strip() else []
    if drafted:
        name, _ = resolve(drafted[0].name, known.names, known.listed)
        return [f"The call to {name or show(drafted[0].name, 40)} inside your reasoning "
                f"(thinking) is not run: reasoning is not an action; send the tool call itself"]
    if _SHELL.search(visible) or re.search(r"^[ \t]*\$ \w", visible, re.M):
        return ["Shell text in a code fence is not run: use run_cmd, e.g. "
                + json.dumps({"cmd": ["pytest", "-q"]})]
    for tag in _TAG.finditer(visible):
        if tag.group(1).lower() not in _HARMLESS_TAGS | set(known.names):
            return [f"`<{show(tag.group(1), 30)}>` is not a tool call: text never becomes a "
                    f"command; the tools are: {', '.join(known.names)}"]
    return []


def calls_from_text(text: str, tool_names: Sequence[str]) -> tuple[ToolCall, ...]:
    """The calls a reply's text asks for (see parse_reply)."""
    return parse_reply(text, "", (), tool_names).calls
