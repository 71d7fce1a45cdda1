"""Starting a run, or resuming the one that status.txt and the ledger describe."""

from __future__ import annotations

import hashlib

from jetbox.errors import StatusError, UsageError
from jetbox.ledger import Ledger
from jetbox.machine import MachineSpec
from jetbox.recovery import ledger_position, rebuilt_status
from jetbox.status import Status, StatusFile


def status_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def same_goal(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _read_status(status_file: StatusFile, strict: bool) -> tuple[Status | None, str]:
    """status.txt, or None and what is wrong with it (missing, empty, unreadable).

    A file with no `Goal:` line is garbage and is rebuilt; one with a Goal and a bad line
    is a person's edit gone wrong: with `strict`, that stops the run with the line named,
    rather than overwriting what they wrote."""
    if not status_file.path.exists():
        return None, "missing"
    if not status_file.exists():
        return None, "empty"
    try:
        return status_file.read(), ""
    except StatusError as exc:
        text = status_file.path.read_bytes().decode("utf-8", "replace").removeprefix("\ufeff")
        if strict and any(line.strip().lower().startswith("goal:")
                          for line in text.splitlines()):
            raise
        return None, f"unreadable ({exc})"


def begin(goal: str | None, fresh: bool, spec: MachineSpec, ledger: Ledger,
          status_file: StatusFile, python: str = "") -> Status:
    """Resume the run status.txt names, or start a new one (recording any old one).

    The ledger is the durable truth: a missing or garbled status.txt is rebuilt from
    it, and where the two disagree on state or round the ledger wins."""
    existing, problem = _read_status(status_file, strict=not fresh)
    position = None if fresh else ledger_position(ledger, spec.initial)
    resuming = position is not None and (goal is None or same_goal(goal, position.goal))
    if existing is None and resuming and position is not None:
        existing = rebuilt_status(position, problem)
        ledger.append("status_rebuilt", reason=problem, notes=list(existing.notes),
                      status_sha=status_sha(existing.render()))
        status_file.write(existing)
    if existing and not fresh and (goal is None or same_goal(goal, existing.goal)):
        if existing.state not in spec.state_names:
            raise StatusError(
                f"{status_file.path}: `State: {existing.state}` is not a state of {spec.path} "
                f"(states: {', '.join(spec.state_names)}); fix that line or run with --fresh")
        _note_person_edits(status_file, ledger)
        if position and same_goal(position.goal, existing.goal) and \
                (existing.state, existing.round) != (position.state, position.round):
            ledger.append("status_disagrees", status_state=existing.state,
                          status_round=existing.round, state=position.state,
                          round=position.round, resolution="the ledger wins")
            existing = existing.with_(state=position.state, round=position.round)
            status_file.write(existing)
        ledger.append("resume", state=existing.state, round=existing.round, python=python)
        return existing
    if not goal:
        raise UsageError(f"no goal given and no status.txt to resume in {status_file.path.parent};"
                         f" run `jetbox run \"<goal>\"`")
    if existing:
        ledger.append("run_superseded", reason="--fresh" if fresh else "new goal",
                      status=existing.render())
    ledger.append("run_start", goal=goal, machine=str(spec.path), python=python)
    status = Status(goal=" ".join(goal.split()), state=spec.initial, round=1)
    status_file.write(status)
    return status


def _note_person_edits(status_file: StatusFile, ledger: Ledger) -> None:
    """A person may edit status.txt between runs; record it so the history explains itself."""
    text = status_file.path.read_bytes().decode("utf-8", errors="replace")
    recent = [r["status_sha"] for r in ledger.current_run()[-12:] if "status_sha" in r]
    # The last two: a crash between a transition's record and its status write leaves
    # the file one step behind, which is Jetbox's doing, not a person's.
    if recent and status_sha(text) not in recent[-2:]:
        ledger.append("status_edited", text=text)
