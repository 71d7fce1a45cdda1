"""The offline server playing a model's habits: a turn's calls written as text in one of
the dialects real local models use (`Turn(calls=..., dialect="qwen-xml")`), so a person can
check a customized machine against how their model really sends calls."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from jetbox.offline.script import Call


def _args(call: Call) -> dict[str, Any]:
    return call.arguments if isinstance(call.arguments, dict) else {"raw": call.arguments}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _qwen(call: Call) -> str:
    params = "".join(f"<parameter={k}>\n{_text(v)}\n</parameter>\n" for k, v in
                     _args(call).items())
    return f"<tool_call>\n<function={call.name}>\n{params}</function>\n</tool_call>"


def _invoke(call: Call) -> str:
    params = "".join(f'<parameter name="{k}">{_text(v)}</parameter>\n' for k, v in
                     _args(call).items())
    return f'<invoke name="{call.name}">\n{params}</invoke>'


def _dsml(call: Call) -> str:
    marker = "｜DSML｜"
    params = "".join(f'<{marker}parameter name="{k}" string="true">{_text(v)}'
                     f"</{marker}parameter>\n" for k, v in _args(call).items())
    return (f"<{marker}function_calls>\n<{marker}invoke name=\"{call.name}\">\n{params}"
            f"</{marker}invoke>\n</{marker}function_calls>")


def _tags(call: Call) -> str:
    inner = "".join(f"<{k}>{_text(v)}</{k}>" for k, v in _args(call).items())
    return f"<{call.name}>{inner}</{call.name}>"


def _harmony(call: Call) -> str:
    return (f"<|channel|>commentary to=functions.{call.name} <|constrain|>json<|message|>"
            f"{json.dumps(_args(call))}<|call|>")


def _pythonic(call: Call) -> str:
    params = ", ".join(f"{k}={v!r}" for k, v in _args(call).items())
    return f"[{call.name}({params})]"


def _gemma(call: Call) -> str:
    params = ",".join(f'{k}:<|"|>{_text(v)}<|"|>' for k, v in _args(call).items())
    return f"<|tool_call>call:{call.name}{{{params}}}<tool_call|>"


def _glm(call: Call) -> str:
    params = "".join(f"<arg_key>{k}</arg_key><arg_value>{_text(v)}</arg_value>" for k, v in
                     _args(call).items())
    return f"<tool_call>{call.name}{params}</tool_call>"


WRITERS: dict[str, Callable[[Call], str]] = {
    "glm-xml": _glm,
    "kimi-k2": lambda c: (f"<|tool_calls_section_begin|><|tool_call_begin|>functions.{c.name}:0"
                          f"<|tool_call_argument_begin|>{json.dumps(_args(c))}"
                          f"<|tool_call_end|><|tool_calls_section_end|>"),
    "deepseek-v3": lambda c: (f"<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>"
                              f"{c.name}\n```json\n{json.dumps(_args(c))}\n```"
                              f"<｜tool▁call▁end｜><｜tool▁calls▁end｜>"),
    "qwen-xml": _qwen,
    "invoke-xml": _invoke,
    "deepseek-dsml": _dsml,
    "tool-named-tags": _tags,
    "gpt-oss-harmony": _harmony,
    "gpt-oss-harmony-thinking": _harmony,  # the same header in `thinking` (never run)
    "llama3.1-function-tag": lambda c: f"<function={c.name}>{json.dumps(_args(c))}</function>",
    "mistral": lambda c: f"[TOOL_CALLS]{c.name}[ARGS]{json.dumps(_args(c))}",
    "pythonic": _pythonic,
    "gemma": _gemma,
    "hermes-json": lambda c: "<tool_call>\n" + json.dumps(
        {"name": c.name, "arguments": _args(c)}) + "\n</tool_call>",
    "python-dict": lambda c: repr({"name": c.name, "arguments": _args(c)}),
    "fenced-json": lambda c: "```json\n" + json.dumps(
        {"name": c.name, "arguments": _args(c)}) + "\n```",
}


def render(dialect: str, calls: Sequence[Call], content: str,
           thinking: str) -> tuple[str, str]:
    """The (content, thinking) a model with this habit sends for these calls."""
    if dialect not in WRITERS:
        raise ValueError(f"unknown dialect {dialect!r}; known: {', '.join(WRITERS)}")
    text = "\n".join(WRITERS[dialect](call) for call in calls)
    if dialect.endswith("-thinking"):
        return content, (thinking + "\n" + text).strip()
    return (content + "\n\n" + text).strip(), thinking
