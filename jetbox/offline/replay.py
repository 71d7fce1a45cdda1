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
    return [Turn(content=str(r.content), thinking=str(r.thinking),
                 calls=tuple(Call(name, arguments) for name, arguments in r.named_calls()))
            for r in records]


def replay(path: Path) -> ScriptResponder:
    return ScriptResponder(ledger_turns(path))


class Conversation:
    """A polite model for any client: with tools it calls the first one (arguments filled
    from its schema), answers once the tool result is in, and otherwise echoes the question.
    `format` is the server's to honour."""

    def __call__(self, request: ChatRequest) -> Turn:
        last = request.messages[-1] if request.messages else {}
        if last.get("role") == "tool":
            return Turn(content=f"The tool answered: {_text(last)[:200]}")
        if request.tools:
            function = request.tools[0].get("function", {})
            arguments = example(function.get("parameters") or {"type": "object"})
            return Turn(thinking="A tool can answer this.",
                        calls=(Call(str(function.get("name", "")), arguments or {}),))
        return Turn(content=f"You said: {_text(last)[:200]}")


def _text(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    return content if isinstance(content, str) else json.dumps(content)
