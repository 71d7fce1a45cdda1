"""How the toolbox completes an action it journaled but never finished: no work lost or
repeated after a crash. Each write, edit and command has an `intent` record before it
starts and a `result` after; a resume finds an intent without a result here."""

from __future__ import annotations

from pathlib import Path

from jetbox.core.fsutil import read_bounded, sha256
from jetbox.core.prompts import say
from jetbox.store.kinds import Intent, Result
from jetbox.store.ledger import Ledger
from jetbox.store.objects import ObjectStore
from jetbox.store.queries import FILE_ACTIONS
from jetbox.tools.hardlinks import links_of, write_keeping_links
from jetbox.tools.paths import jail
from jetbox.tools.schemas import ToolResult
from jetbox.tools.textfile import locate

# Commands whose re-run cannot change anything the model did: checks, not actions.
IDEMPOTENT_PROGRAMS = ("pytest", "ruff")
MAX_EDITED_BYTES = 16_000_000  # larger than any file edit_file accepts
RERUN = "re-run (idempotent)"  # a command's result that says: run it again


def complete(ledger: Ledger, workspace: Path, name: str, intent: Intent,
             result: Result | None) -> ToolResult | None:
    """The call whose action began before the crash, completed without repeating it: its
    recorded result, a write or edit applied at most once, or a command's outcome. None
    means: run the command again (a check, idempotent by its intent's own record)."""
    if result is not None and result.recovered == RERUN:
        return None  # a re-run was decided, and the crash came before it began
    if result is not None:
        return ToolResult(name, bool(result.ok), result_text(result),
                          changed=bool(result.changed))
    if intent.action in FILE_ACTIONS:
        ok, text = resolve_write(ledger, workspace, intent)
        return ToolResult(name, ok, text, changed=ok)
    outcome = resolve_command(ledger, intent)
    return None if outcome is None else ToolResult(name, False, outcome)


def result_text(result: Result) -> str:
    """The tool result for an action that completed before the crash, from its record."""
    if not result.ok and result.error:
        return say("replay.error", error=result.error)
    if result.action in FILE_ACTIONS:
        return say("replay.edited" if result.action == "edit" else "replay.wrote",
                   path=result.path)
    tail = result.output_tail or ""
    return (say("replay.exit_code", code=result.exit_code) + f"\n{tail}").rstrip()


def resolve_write(ledger: Ledger, workspace: Path, intent: Intent) -> tuple[bool, str]:
    """A write or edit whose result was never recorded: check by hash, apply at most once.

    Returns (ok, the text the model sees). One that cannot be completed now (the target
    became a folder, a symlink loop or a path out of the workspace, the disk refuses, the
    file changed since an edit began) is recorded as failed: never replayed into the same
    error again."""
    path = str(intent.path)
    try:
        target = jail(workspace, path, for_write=True).absolute
        current = _current(target, intent)
        if current is not None and sha256(current) == intent.sha256:
            ledger.append(_settled(intent, "already applied"))
            return True, say("replay.already_applied", path=path)
        _write(workspace, target, _wanted(current, intent), intent)
    except (ValueError, OSError) as exc:  # PathRefused and EditRefused are ValueErrors
        error = f"{exc.strerror or type(exc).__name__}: {path}" \
            if isinstance(exc, OSError) else str(exc)
        ledger.append(_settled(intent, "failed on resume", error))
        return False, say("replay.interrupted", action=intent.action, path=path, error=error)
    ledger.append(_settled(intent, "applied on resume"))
    return True, say("replay.completed", path=path)


def _settled(intent: Intent, recovered: str, error: str | None = None) -> Result:
    """The result of a write or edit a resume completed, or with `error`, could not."""
    ok = error is None
    return Result(intent=intent.seq, action=intent.action, path=str(intent.path), ok=ok,
                  changed=ok, sha256=intent.sha256 if ok else None, error=error,
                  recovered=recovered)


def _write(workspace: Path, target: Path, data: bytes, intent: Intent) -> None:
    """As the call would have written it: in place only when its intent said so (its hard
    links were all in the workspace) and they still are, else replaced."""
    links = links_of(workspace, target) if intent.links else None
    before = (intent.before or {}).get("sha256")
    original = ObjectStore.of(workspace).path(before) if isinstance(before, str) else None
    write_keeping_links(target, data, links, original)


def _current(target: Path, intent: Intent) -> bytes | None:
    """The target's bytes, when it is a file no larger than the action could have made it
    (so a huge file there is never read whole)."""
    if not target.is_file():
        return None
    limit = len(str(intent.content or "").encode("utf-8")) \
        if intent.action == "write" else MAX_EDITED_BYTES
    data, size = read_bounded(target, limit + 1)
    return data if size <= limit else None


def _wanted(current: bytes | None, intent: Intent) -> bytes:
    if intent.action != "edit":
        return str(intent.content or "").encode("utf-8")
    if current is None or sha256(current) != intent.sha256_before:
        raise ValueError(say("replay.file_changed"))
    return locate(current.decode("utf-8"), str(intent.old), str(intent.new),
                  str(intent.path)).after.encode("utf-8")


def is_idempotent_program(program: str, workspace: Path) -> bool:
    """Whether the program Jetbox resolved (after its policy, e.g. `pytest` as
    `python -m pytest`) is a check safe to run twice: pytest or ruff, and not shadowed by a
    module of that name at the workspace's top (which `python -m` would import instead).
    Decided when the command starts and recorded on its intent; names in the arguments
    (`python tools/pytest.py`) never count."""
    if program not in IDEMPOTENT_PROGRAMS:
        return False
    return not (workspace / f"{program}.py").exists() and not (workspace / program).exists()


def resolve_command(ledger: Ledger, intent: Intent) -> str | None:
    """A command whose result was never recorded. None means: run it again, which only the
    intent's own record can allow (`idempotent: true`, written before it started)."""
    if intent.idempotent is True:
        ledger.append(Result(intent=intent.seq, action="cmd", ok=False, recovered=RERUN))
        return None
    ledger.append(Result(intent=intent.seq, action="cmd", ok=False, recovered="unknown"))
    return ("outcome unknown: Jetbox stopped while this command ran, so it was not run again; "
            "check its effects before repeating it")
