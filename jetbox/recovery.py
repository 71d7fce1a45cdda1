"""Putting a run back together after a crash, from the ledger: no work lost or repeated."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetbox.fsutil import atomic_write_bytes, read_bounded, sha256
from jetbox.ledger import Ledger
from jetbox.model import Reply
from jetbox.paths import jail
from jetbox.status import Status
from jetbox.textfile import locate

# Commands whose re-run cannot change anything the model did: checks, not actions.
IDEMPOTENT_PROGRAMS = ("pytest", "ruff")
FILE_ACTIONS = ("write", "edit")
MAX_EDITED_BYTES = 16_000_000  # larger than any file edit_file accepts


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
    # The newest: a command re-run on an earlier resume has an intent of its own.
    intent = next((r for r in reversed(since) if r["kind"] == "intent"), None)
    result = None if intent is None else next(
        (r for r in since if r["kind"] == "result" and r.get("intent") == intent["seq"]), None)
    return Pending(reply, next_index, intent, result)


def result_text(result: dict[str, Any]) -> str:
    """The tool result for an action that completed before the crash, from its record."""
    if not result.get("ok") and result.get("error"):
        return f"error: {result['error']} (before Jetbox stopped; not tried again)"
    if result.get("action") in FILE_ACTIONS:
        verb = "edited" if result["action"] == "edit" else "wrote"
        return f"{verb} {result.get('path')} (before Jetbox stopped)"
    tail = result.get("output_tail", "")
    return f"exit code {result.get('exit_code')} (before Jetbox stopped)\n{tail}".rstrip()


def resolve_write(ledger: Ledger, workspace: Path, intent: dict[str, Any]) -> tuple[bool, str]:
    """A write or edit whose result was never recorded: check by hash, apply at most once.

    Returns (ok, the text the model sees). One that cannot be completed now (the target
    became a folder, a symlink loop or a path out of the workspace, the disk refuses, the
    file changed since an edit began) is recorded as failed: never replayed into the same
    error again."""
    path = str(intent.get("path"))
    done = {"intent": intent["seq"], "action": intent.get("action"), "path": path}
    try:
        target = jail(workspace, path, for_write=True).absolute
        current = _current(target, intent)
        if current is not None and sha256(current) == intent.get("sha256"):
            ledger.append("result", ok=True, changed=True, sha256=intent.get("sha256"),
                          recovered="already applied", **done)
            return True, f"{path}: applied before Jetbox stopped; not applied again"
        atomic_write_bytes(target, _wanted(current, intent))
    except (ValueError, OSError) as exc:  # PathRefused and EditRefused are ValueErrors
        error = f"{exc.strerror or type(exc).__name__}: {path}" \
            if isinstance(exc, OSError) else str(exc)
        ledger.append("result", ok=False, changed=False, error=error,
                      recovered="failed on resume", **done)
        return False, (f"error: the {intent.get('action')} of {path} was interrupted when "
                       f"Jetbox stopped and cannot be completed now: {error}")
    ledger.append("result", ok=True, changed=True, sha256=intent.get("sha256"),
                  recovered="applied on resume", **done)
    return True, f"{path}: completed after Jetbox stopped mid-write"


def _current(target: Path, intent: dict[str, Any]) -> bytes | None:
    """The target's bytes, when it is a file no larger than the action could have made it
    (so a huge file there is never read whole)."""
    if not target.is_file():
        return None
    limit = len(str(intent.get("content", "")).encode("utf-8")) \
        if intent.get("action") == "write" else MAX_EDITED_BYTES
    data, size = read_bounded(target, limit + 1)
    return data if size <= limit else None


def _wanted(current: bytes | None, intent: dict[str, Any]) -> bytes:
    if intent.get("action") != "edit":
        return str(intent.get("content", "")).encode("utf-8")
    if current is None or sha256(current) != intent.get("sha256_before"):
        raise ValueError("the file changed while Jetbox was stopped; read it again")
    return locate(current.decode("utf-8"), intent["old"], intent["new"],
                  str(intent.get("path"))).after.encode("utf-8")


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
