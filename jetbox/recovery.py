"""Putting a run back together after a crash, from the ledger: no work lost or repeated."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetbox.fsutil import atomic_write_bytes, sha256
from jetbox.ledger import Ledger
from jetbox.model import Reply
from jetbox.status import Status
from jetbox.text import unescape_name
from jetbox.textfile import locate

# Commands whose re-run cannot change anything the model did: checks, not actions.
IDEMPOTENT_PROGRAMS = ("pytest", "ruff")
FILE_ACTIONS = ("write", "edit")


@dataclass(frozen=True)
class Position:
    """Where the ledger says the run is."""

    goal: str
    state: str
    round: int


def ledger_position(ledger: Ledger, initial: str) -> Position | None:
    """The state and round of the current run according to its last record."""
    run = ledger.current_run()
    if not run or run[0]["kind"] != "run_start":
        return None
    goal = run[0]["goal"]
    for record in reversed(run):
        if record["kind"] == "transition":
            return Position(goal, record["dest"], record["round"])
        if "state" in record and "round" in record:
            return Position(goal, record["state"], record["round"])
    return Position(goal, initial, 1)


def rebuilt_status(position: Position, problem: str) -> Status:
    return Status(goal=position.goal, status=f"yellow - status.txt rebuilt from the ledger "
                  f"({problem})", state=position.state, round=position.round,
                  notes=(f"status.txt was {problem}; rebuilt from agent_ledger.log",))


@dataclass(frozen=True)
class Pending:
    """A model reply journaled in this visit of Act; its calls from next_index on have not
    run (none left means the crash came after the last one: nothing to redo)."""

    reply: Reply
    next_index: int
    intent: dict[str, Any] | None  # the action the next call had begun before the crash
    result: dict[str, Any] | None  # its result, when it finished but its tool_result is missing


def pending_reply(ledger: Ledger, state: str) -> Pending | None:
    """The reply journaled since the run last entered `state`, if its calls are unfinished."""
    records = ledger.current_run()
    start = 0
    for index in range(len(records) - 1, -1, -1):
        if records[index]["kind"] == "transition" and records[index]["dest"] == state:
            start = index
            break
    reply_at = next((i for i in range(start, len(records))
                     if records[i]["kind"] == "model_reply"), None)
    if reply_at is None:
        return None
    reply = Reply.from_record(records[reply_at])
    after = records[reply_at + 1:]
    done = {r["index"] for r in after if r["kind"] == "tool_result"}
    next_index = max(done) + 1 if done else 0
    last_done = max((i for i, r in enumerate(after) if r["kind"] == "tool_result"), default=-1)
    since = after[last_done + 1:]
    intent = next((r for r in since if r["kind"] == "intent"), None)
    result = None if intent is None else next(
        (r for r in since if r["kind"] == "result" and r.get("intent") == intent["seq"]), None)
    return Pending(reply, next_index, intent, result)


def result_text(result: dict[str, Any]) -> str:
    """The tool result for an action that completed before the crash, from its record."""
    if result.get("action") in FILE_ACTIONS:
        verb = "edited" if result["action"] == "edit" else "wrote"
        return f"{verb} {result.get('path')} (before Jetbox stopped)"
    tail = result.get("output_tail", "")
    return f"exit code {result.get('exit_code')} (before Jetbox stopped)\n{tail}".rstrip()


def resolve_write(ledger: Ledger, workspace: Path, intent: dict[str, Any]) -> tuple[bool, str]:
    """A write or edit whose result was never recorded: check by hash, apply at most once.
    Returns (ok, the tool result's text)."""
    target = workspace / unescape_name(intent["path"])  # the ledger holds the escaped name
    current = target.read_bytes() if target.is_file() else None
    current_sha = None if current is None else sha256(current)
    done = {"intent": intent["seq"], "action": intent["action"], "path": intent["path"],
            "sha256": intent["sha256"]}
    if current_sha == intent["sha256"]:
        ledger.append("result", ok=True, changed=True, recovered="already applied", **done)
        return True, f"{intent['path']}: applied before Jetbox stopped; not applied again"
    if intent["action"] == "edit":
        if current is None or current_sha != intent["sha256_before"]:
            ledger.append("result", ok=False, recovered="file changed since", **done)
            return False, (f"edit of {intent['path']} not applied: the file changed while "
                           f"Jetbox was stopped; read it again")
        wanted = locate(current.decode("utf-8"), intent["old"], intent["new"],
                        intent["path"]).after.encode("utf-8")
    else:
        wanted = intent["content"].encode("utf-8")
    atomic_write_bytes(target, wanted)
    ledger.append("result", ok=True, changed=True, recovered="applied on resume", **done)
    return True, f"{intent['path']}: completed after Jetbox stopped mid-write"


def is_idempotent_program(program: str, workspace: Path) -> bool:
    """Whether the program Jetbox resolved (after its policy, e.g. `pytest` as
    `python -m pytest`) is a check safe to run twice: pytest or ruff, and not shadowed by a
    module of that name at the workspace's top (which `python -m` would import instead).
    Decided when the command starts and recorded on its intent; names in the arguments
    (`python tools/pytest.py`) never count."""
    if program not in IDEMPOTENT_PROGRAMS:
        return False
    return not (workspace / f"{program}.py").exists() and not (workspace / program).exists()


def resolve_command(ledger: Ledger, intent: dict[str, Any]) -> str | None:
    """A command whose result was never recorded. None means: run it again, which only the
    intent's own record can allow (`idempotent: true`, written before it started)."""
    if intent.get("idempotent") is True:
        ledger.append("result", intent=intent["seq"], action="cmd", ok=False,
                      recovered="re-run (idempotent)")
        return None
    ledger.append("result", intent=intent["seq"], action="cmd", ok=False, recovered="unknown")
    return ("outcome unknown: Jetbox stopped while this command ran, so it was not run again; "
            "check its effects before repeating it")
