"""Shared pieces of the approval tests: a tiny project, a model that makes several calls in
one reply (as qwen does), and the ledger read back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jetbox.offline import Call, FakeModel, OfflineOllama, ScriptResponder, Turn

QWEN = FakeModel("qwen2.5-coder:7b", ("completion", "tools"), 32768, "qwen2", "midstream")
GOAL = "Set count to 11 in app.py"
EDIT = Call("edit_file", {"path": "app.py", "old": "count = 1\n", "new": "count = 11\n"})
PYTEST = Call("run_cmd", {"cmd": ["pytest", "-q"]})
FINISH = Call("finish", {"summary": "count is 11"})


def project(workspace: Path) -> Path:
    """app.py with count = 1 and a test that wants 11: the edit is the whole job."""
    (workspace / "app.py").write_text("count = 1\n")
    (workspace / "test_app.py").write_text(
        "from app import count\n\n\ndef test_count():\n    assert count == 11\n")
    return workspace


def server(*turns: Sequence[Call]) -> OfflineOllama:
    """The offline Ollama replying with these calls, one reply per turn."""
    return OfflineOllama(ScriptResponder([Turn(calls=tuple(t)) for t in turns]), models=[QWEN])


def run_args(workspace: Path, host: str, *extra: str) -> list[str]:
    return ["run", "-w", str(workspace), "--host", host, "--model", QWEN.name,
            "--sandbox", "none", *extra]


def ledger(workspace: Path) -> list[dict[str, Any]]:
    lines = (workspace / "agent_ledger.log").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def kinds(workspace: Path, kind: str) -> list[dict[str, Any]]:
    return [r for r in ledger(workspace) if r["kind"] == kind]


def asked(workspace: Path) -> list[str]:
    """The lines of the questions the run put to a person, in order."""
    return [r["line"] for r in kinds(workspace, "approval_asked")]


def commands_run(workspace: Path) -> list[str]:
    """The programs of the commands that ran (each an intent), in order."""
    return [r["program"] for r in kinds(workspace, "intent") if r["action"] == "cmd"]


def tool_messages(request: Any) -> list[str]:
    """What the model was shown in one request (tool results and Jetbox's notes)."""
    return [str(m.get("content", "")) for m in request.messages]
