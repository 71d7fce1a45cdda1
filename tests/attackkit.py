"""Whole runs of a scripted hostile model, for the trust-boundary tests: the real CLI, the
offline server and the real `ollama` client; what each tool returned, read from the ledger."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from tests.conftest import CliResult, run_cli


def turn(tool: str, **arguments: object) -> Turn:
    return Turn(calls=(Call(tool, dict(arguments)),))


def attack(workspace: Path, turns: Sequence[Turn], *flags: str,
           goal: str = "Look around") -> CliResult:
    """One `jetbox run` whose model sends `turns`, one round each."""
    with OfflineOllama(ScriptResponder(list(turns))) as server:
        return run_cli("run", goal, "-w", str(workspace), "--host", server.host,
                       "--max-rounds", str(len(turns)), *flags)


def tool_outputs(workspace: Path, tool: str | None = None) -> list[str]:
    """What the tools returned (the model saw), in order, from the ledger."""
    lines = (workspace / "agent_ledger.log").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return [r.get("output", "") for r in records if r["kind"] == "tool_result"
            and (tool is None or r.get("name") == tool)]
