"""Scripts the offline server can play besides the solvers: the model replies a recorded
run's ledger holds (to re-run yesterday's run against an edited machine.yaml), and a
plain conversational model for third-party clients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jetbox.core.errors import UsageError
from jetbox.offline.schema import example
from jetbox.offline.script import Call, ChatRequest, ScriptResponder, Turn
from jetbox.store.kinds import ModelReply
from jetbox.store.ledger import Ledger


def ledger_turns(path: Path) -> list[Turn]:
    """Every model reply recorded in agent_ledger.log (a file, or the workspace holding one),
    in order, as the turns that replay them."""
    path = path / "agent_ledger.log" if path.is_dir() else path
    if not path.is_file():
        raise UsageError(f"no ledger at {path}: give a run's agent_ledger.log or its folder")
    records = [r for r in Ledger(path).records() if isinstance(r, ModelReply)]
    if not records:
        raise UsageError(f"{path} records no model reply: nothing to replay")
    return [Turn(content=r.content, thinking=r.thinking,
                 calls=tuple(Call(c.name, c.arguments) for c in r.calls))
            for r in records]


TURN_KEYS = ("content", "thinking", "calls", "dialect", "done_reason")


def script_file_turns(path: Path) -> list[Turn]:
    """The turns a YAML (or JSON) file scripts, one model reply each, in order:

        - thinking: Look at the project first.
          calls:
            - read_file: {path: .}
        - calls:
            - finish: {summary: looked around}

    A call is `NAME: {arguments}` or `{name: NAME, arguments: {...}}`; a turn may also set
    `content`, `dialect` (offline.dialects) and `done_reason`."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read the script {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"the script {path} is not valid YAML: {exc}") from None
    if isinstance(data, dict) and "turns" in data:
        data = data["turns"]
    if not isinstance(data, list) or not data:
        raise UsageError(f"the script {path} must be a list of turns (one per model reply)")
    return [_turn(item, f"{path}, turn {number}") for number, item in enumerate(data, 1)]


def _turn(item: object, where: str) -> Turn:
    if isinstance(item, str):
        return Turn(content=item)
    if not isinstance(item, dict):
        raise UsageError(f"{where}: a turn is a mapping ({', '.join(TURN_KEYS)})")
    unknown = sorted(set(map(str, item)) - set(TURN_KEYS))
    if unknown:
        raise UsageError(f"{where}: unknown key {', '.join(unknown)}; a turn takes "
                         f"{', '.join(TURN_KEYS)}")
    calls = item.get("calls") or []
    if not isinstance(calls, list):
        raise UsageError(f"{where}: calls must be a list")
    return Turn(content=str(item.get("content") or ""), thinking=str(item.get("thinking") or ""),
                calls=tuple(_call(c, where) for c in calls),
                dialect=str(item.get("dialect") or ""),
                done_reason=str(item.get("done_reason") or ""))


def _call(item: object, where: str) -> Call:
    if isinstance(item, dict) and "name" in item:
        name, arguments = item["name"], item.get("arguments", {})
    elif isinstance(item, dict) and len(item) == 1:
        ((name, arguments),) = item.items()
    else:
        raise UsageError(f"{where}: a call is `NAME: {{arguments}}` or `{{name: NAME, "
                         f"arguments: {{...}}}}`, not {item!r}")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict | str):
        raise UsageError(f"{where}: the arguments of {name} must be a mapping")
    return Call(str(name), arguments)


def replay(path: Path) -> ScriptResponder:
    return ScriptResponder(ledger_turns(path))


# Argument names that mean a file or folder: the chat script gives "." (the project
# itself), which every file tool takes, where a made-up "text" is a file that is not there.
PATH_NAMES = frozenset({"path", "file", "filename", "folder", "dir", "directory"})


class ChatScript:
    """A polite model for any client: with tools it calls the first one (its required
    arguments filled from its schema, "." for a path), answers once the tool result is in,
    and otherwise echoes the question. Offered a `finish` tool (an agent such as Jetbox), it
    finishes with what the tool answered instead of answering in text, which an agent would
    only ask again about. `format` is the server's to honour."""

    def __call__(self, request: ChatRequest) -> Turn:
        last = request.messages[-1] if request.messages else {}
        tools = {str(t.get("function", {}).get("name", "")): t.get("function", {})
                 for t in request.tools or ()}
        if last.get("role") == "tool":
            answer = f"The tool answered: {_text(last)[:200]}"
            if "finish" in tools and last.get("tool_name") != "finish":
                return Turn(calls=(Call("finish", {**arguments(tools["finish"]),
                                                   "summary": answer}),))
            return Turn(content=answer)
        if tools:
            name, function = next(iter(tools.items()))
            return Turn(thinking="A tool can answer this.",
                        calls=(Call(name, arguments(function)),))
        return Turn(content=f"You said: {_text(last)[:200]}")


def arguments(function: dict[str, Any]) -> dict[str, Any]:
    """Arguments a tool accepts: its required ones (all, if it names none) from its schema,
    with "." for a path."""
    schema = function.get("parameters") or {"type": "object"}
    properties = schema.get("properties") or {}
    names = [n for n in schema.get("required") or properties if n in properties]
    return {name: "." if name.lower() in PATH_NAMES and properties[name].get("type",
            "string") == "string" else example(properties[name], schema.get("$defs"))
            for name in names}


def _text(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    return content if isinstance(content, str) else json.dumps(content)
