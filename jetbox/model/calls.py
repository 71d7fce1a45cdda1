"""The one home that turns a model's reply (native calls, content, thinking) into the calls
Jetbox runs, and, when nothing can run, the one line that tells the model why.

What runs: native calls; and calls written as text in a known dialect when they are the
whole of the content, with at most a short lead-in sentence before them (wrapping tokens,
fences and separators between and around them aside). What never runs, whatever it looks
like: anything in the thinking field, a harmony header there included; a call drafted in
reasoning inside the content (`<think>`, harmony's analysis channel); a call inside another
call's arguments (it is that call's data); a call in prose, inline code, or an example; a
call cut off by the output limit; a name that is not exactly one tool. The text read is
capped (MAX_SCAN) and every reader is linear in it, so a reply costs one pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jetbox.core.prompts import say
from jetbox.model.dialects import DIALECTS, Found
from jetbox.model.names import Tools, resolve, show
from jetbox.model.nearjson import NearJsonError, loads
from jetbox.store.kinds import ToolCall
from jetbox.tools.schemas import unadvertised_specs

UNPARSED = "__jetbox_unparsed__"  # how the transport hands over arguments it could not read
MAX_SCAN = 256 * 1024  # characters of content read for calls; a bigger reply is refused
LEAD_IN = 300  # characters of prose a reply may say before the call it makes
# Tokens and punctuation that wrap calls in the dialects (fences, <tool_call>, special tokens,
# [TOOL_CALLS], the separators between calls): what is left besides them is prose.
_WRAPPING = re.compile(r"```[\w-]*|<\|[\w-]{1,40}\|?>|<[\w-]{1,40}\|>|<｜[^<>]{1,40}?｜>"
                       r"|</?[｜|‖]{1,2}DSML[｜|‖]{1,2}(?:function_calls|tool_calls)>"
                       r"|</?(?:tool_calls?|function_calls?)>"
                       r"|\[TOOL_CALLS\]|\bfunctools\b|</s>|<eos>|<end_of_turn>|[\s;,\[\]]+")
# A lead-in that shows or discusses a call rather than making it.
_DISCUSSES = re.compile(  # phrases, not single words: "an example test" is still an action
    r"you could|you can|you should|you might|you may|you'd|if you want|for instance"
    r"|would look like|i would call|i could call|for example|as an example|an example of"
    r"|\bexamples?:|example call|illustrat|prompt injection"
    r"|\b(?:do not|don't|never|won't|will not|should not|shouldn't) (?:run|call|execute)\b",
    re.I)
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
    return say("reply.cut_off_named", name=show(name, 40)) if name else say("reply.cut_off")


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
                            say("reply.unreadable_arguments", name=show(name, 40),
                                near=show(exc.near, 40)))
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
    """The outermost call-shaped spans of the text, in order. Every reader reads the whole
    text; a span that starts inside an earlier one (a call in a write_file's content, a
    JSON object in a call's arguments) is that call's data, never a call of its own. At one
    start the longer span wins, then the reader listed first."""
    found: list[tuple[int, int, int, Found]] = []
    for rank, (_, _, reader) in enumerate(DIALECTS):
        got = reader(text, tools.names) if reader.__name__ == "tool_tags" else reader(text)
        found += [(f.start, -f.end, rank, f) for f in got]
    outer: list[Found] = []
    for start, _, _, item in sorted(found, key=lambda entry: entry[:3]):
        if not outer or start >= outer[-1].end:
            outer.append(item)
    return outer


def _is_call(item: Found, known: Tools) -> bool:
    """JSON with a "name" and no arguments key is data (a package.json) unless the name is
    a tool's."""
    return not item.dialect.endswith("-flat") or \
        resolve(item.name, known.names, known.listed)[0] is not None


def _whole(text: str, calls: Sequence[Found]) -> bool:
    """The calls are the reply: nothing but wrapping between and after them, and before
    them at most a short lead-in that neither opens a code span around them (an odd
    backtick; "I'll create `a.py`:" is fine) nor discusses a call."""
    lead = _WRAPPING.sub(" ", text[:calls[0].start]).strip()
    if len(lead) > LEAD_IN or lead.count("`") % 2 or _DISCUSSES.search(lead):
        return False
    starts = [c.start for c in calls[1:]] + [len(text)]
    return all(not _WRAPPING.sub("", text[call.end:after])
               for call, after in zip(calls, starts, strict=True))


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
                # Never closed: the reply ended while the model was still reasoning, so
                # a call at the end of it is one it was thinking about, not one it made.
                end = len(content) if end < 0 else end + len(closer)
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
    if len(content) > MAX_SCAN:  # no call is that big: refused before any reader scans it
        return Parsed((), say("reply.too_long", chars=len(content), limit=MAX_SCAN))
    visible, reasoning = _reasoning(content)
    found = [f for f in read_all(visible, known) if _is_call(f, known)]
    calls: list[ToolCall] = []
    hard: list[str] = []
    soft: list[str] = []
    dialects: list[str] = []
    if found and not _whole(visible, found):
        soft.append(say("reply.quoted"))
        found = []
    for item in found:
        line = _judge(item, known, calls)
        if line is None:
            dialects.append(f"{item.dialect.removesuffix('-flat')} in content")
        elif line:
            hard.append(line)
    if not calls:
        # The thinking field is reasoning, all of it: read (capped) only to say why
        # nothing ran.
        soft += _why_nothing(visible, reasoning + "\n" + thinking[:MAX_SCAN], known)
    problems = list(dict.fromkeys(hard + ([] if calls else soft)))
    delivery = "json protocol" if json_protocol and calls else \
        " + ".join(dict.fromkeys(dialects)) or "none"
    return Parsed(tuple(calls), " ".join(p.rstrip(".") + "." for p in problems[:2]), delivery)


def _judge(item: Found, known: Tools, calls: list[ToolCall]) -> str | None:
    """Adds the call to `calls` when it may run (None), else says why not (empty: it was
    no call at all)."""
    if item.cut:
        return _cut_line(item.name)
    if item.error or not item.name:
        return say("reply.unparsable", near=show(item.error or item.arguments, 50))
    name, problem = resolve(item.name, known.names, known.listed)
    if name is None:
        return problem
    try:
        arguments = _arguments(item.arguments, known.types.get(name, {}), True)
    except NearJsonError as exc:
        return _cut_line(name) if exc.cut else \
            say("reply.unparsable_arguments", name=name, near=show(exc.near, 40))
    call = ToolCall(name, known.omitting_nulls(name, arguments))
    if call not in calls:
        calls.append(call)
    return None


def _why_nothing(visible: str, reasoning: str, known: Tools) -> list[str]:
    """When nothing can run: a call drafted in reasoning, shell in a fence, a made-up tag."""
    drafted = [f for f in read_all(reasoning, known) if f.name] if reasoning.strip() else []
    if drafted:
        name, _ = resolve(drafted[0].name, known.names, known.listed)
        return [say("reply.in_reasoning", name=name or show(drafted[0].name, 40))]
    if _SHELL.search(visible) or re.search(r"^[ \t]*\$ \w", visible, re.M):
        return [say("reply.shell_in_fence")]
    for tag in _TAG.finditer(visible):
        if tag.group(1).lower() not in _HARMLESS_TAGS | set(known.names):
            return [say("reply.made_up_tag", tag=show(tag.group(1), 30),
                        tools=", ".join(known.names))]
    return []


def calls_from_text(text: str, tool_names: Sequence[str]) -> tuple[ToolCall, ...]:
    """The calls a reply's text asks for (see parse_reply)."""
    return parse_reply(text, "", (), tool_names).calls
