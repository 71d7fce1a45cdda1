"""Starting a run, or resuming the one that status.txt and the ledger describe.

Everything a resume needs is decided here: where the run is (status.txt reconciled with the
ledger, which wins), and where it goes on. Only the status and the ledger outlive an
invocation; what else a round carries (probes, verdict, conversation) its handlers make, so a
resume enters a state directly only when its handler reads nothing else (`Handler.resumes_here`)
or a journaled reply gives it what it needs (Calls finishes the reply without asking again, and
the toolbox completes its own interrupted action, tools/recovery.py). Any other state is
reached again from the round's start, through the real handlers: there is no second way to
build a round that must stay in step with them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path

from jetbox.core.errors import StatusError, UsageError
from jetbox.core.prompts import say
from jetbox.round.run import pending_reply
from jetbox.spec.machine import MachineSpec
from jetbox.store import kinds, queries
from jetbox.store.history import undone
from jetbox.store.ledger import Ledger
from jetbox.store.status import Status, StatusFile


def status_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _goal_key(goal: str) -> str:
    return " ".join(goal.split()).casefold().rstrip(".!?;:, ")


def same_goal(a: str, b: str) -> bool:
    """Goals that differ only in whitespace, case or final punctuation are one goal."""
    return _goal_key(a) == _goal_key(b)


def unfinished(ledger: Ledger) -> queries.Position | None:
    """Where the ledger's current run stands, if it has not reached its end."""
    records = ledger.current_run()
    if queries.last(records, queries.RUN_END) is not None or undone(records):
        return None
    return queries.position(records, "the start")


def keep_or_fresh(goal: str | None, fresh: bool, ledger: Ledger,
                  ask: Callable[[str], bool] | None) -> bool:
    """Whether to start afresh: a different goal never sets an unfinished run aside unless
    the person says so (--fresh, or yes on a terminal); otherwise nothing changes."""
    old = None if fresh or goal is None else unfinished(ledger)
    if old is None or same_goal(goal or "", old.goal):
        return fresh
    question = (f"a run for another goal is unfinished here ({old.goal!r}, at {old.state}, "
                f"round {old.round})")
    if ask is not None and ask(f"{question}; set it aside and start this goal?"):
        return True
    raise UsageError(f"{question}; it is kept. Resume it with `jetbox run` (no goal), or set "
                     f"it aside and start this goal with `jetbox run --fresh \"<goal>\"`")


def machine_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def recorded_machine(ledger: Ledger) -> tuple[Path, str] | None:
    """The machine file the ledger's current run started with, and its digest."""
    start = queries.last_of(ledger.current_run(), kinds.RunStart)
    if start is None or not isinstance(start.machine, str) or not start.machine:
        return None
    return Path(start.machine), str(start.machine_sha256 or "")


def rebuilt_status(position: queries.Position, problem: str) -> Status:
    return Status(goal=position.goal, status=say("resume.rebuilt", problem=problem),
                  state=position.state, round=position.round,
                  notes=(say("resume.rebuilt_note", problem=problem),))


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


@dataclass(frozen=True)
class Resumption:
    """Whether this invocation continues a run or starts one, decided once (`decide`) from
    the goal, --fresh, the ledger and status.txt, and handed to everything that asks: the
    machine file and the configuration check (`recorded`), `begin`, the repository notices."""

    fresh: bool  # set the current run aside (asked for, confirmed, or the run was undone)
    resumes: bool  # continue a run: status.txt (or, rebuilt, the ledger) has one for this goal
    recorded: bool  # ...and the ledger holds it: its machine file, its trusted configuration
    status: Status | None  # status.txt as read; None when missing, empty or unreadable
    problem: str  # what is wrong with status.txt, when it is None
    position: queries.Position | None  # where the ledger says its current run stands


def decide(goal: str | None, fresh: bool, ledger: Ledger, status_file: StatusFile,
           ask: Callable[[str], bool] | None = None) -> Resumption:
    """The one decision: start afresh or continue, and from what. A different goal never
    sets an unfinished run aside unless the person says so (keep_or_fresh); an undone run
    has nothing to go on from; the ledger says where a run is, status.txt what it is."""
    fresh = keep_or_fresh(goal, fresh, ledger, ask)
    records = ledger.current_run()
    if undone(records):  # its changes were taken back: nothing to go on from
        if not goal:
            raise UsageError("the last run was undone (`jetbox undo`); start a new one: "
                             "`jetbox run \"<goal>\"`")
        fresh = True
    existing, problem = _read_status(status_file, strict=not fresh)
    position = None if fresh else queries.position(records, "")

    def wanted(run_goal: str) -> bool:
        return goal is None or same_goal(goal, run_goal)

    in_ledger = position is not None and wanted(position.goal)
    resumes = not fresh and (wanted(existing.goal) if existing is not None else in_ledger)
    return Resumption(fresh, resumes, resumes and in_ledger, existing, problem, position)


def begin(decided: Resumption, goal: str | None, spec: MachineSpec, ledger: Ledger,
          status_file: StatusFile, python: str = "",
          enterable: Collection[str] | None = None) -> Status:
    """Resume the run `decided` names, or start a new one (recording any old one).

    The ledger is the durable truth: a missing or garbled status.txt is rebuilt from
    it, and where the two disagree on state or round the ledger wins. `enterable`: the states
    a resume may enter directly (their handlers read only the status; None: all); any other
    is reached from its round's start. Returns the status to go on from; the engine writes it
    (it is status.txt's one writer)."""
    existing, position = decided.status, decided.position
    if position is not None and not position.state:  # no record says where: at the start
        position = replace(position, state=spec.initial)
    rebuilt = existing is None and decided.resumes and position is not None
    if rebuilt and position is not None:
        existing = rebuilt_status(position, decided.problem)
        ledger.append(kinds.StatusRebuilt(reason=decided.problem, notes=list(existing.notes),
                                      status_sha=status_sha(existing.render())))
    if existing and decided.resumes:
        if existing.state not in spec.state_names:
            raise StatusError(
                f"{status_file.path}: `State: {existing.state}` is not a state of {spec.path} "
                f"(states: {', '.join(spec.state_names)}); fix that line or run with --fresh")
        if not rebuilt:  # a rebuilt status.txt is Jetbox's, and not on disk yet
            _note_person_edits(status_file, ledger)
        return _resume(existing, position, ledger, python, spec.initial, enterable)
    if not goal:
        raise UsageError(f"no goal given and no status.txt to resume in {status_file.path.parent};"
                         f" run `jetbox run \"<goal>\"`")
    if existing:
        ledger.append(kinds.RunSuperseded(reason="--fresh" if decided.fresh else "new goal",
                                      status=existing.render()))
    status = Status(goal=" ".join(goal.split()), state=spec.initial, round=1)
    ledger.append(kinds.RunStart(goal=goal, machine=str(spec.path.resolve()),
                             machine_sha256=machine_digest(spec.path), python=python,
                             status_sha=status_sha(status.render())))
    return status


def _entered(state: str, initial: str, enterable: Collection[str] | None,
             ledger: Ledger) -> str:
    """Where a resume that stands at `state` goes on: there, or at the round's start."""
    if enterable is None or state in enterable or state == initial or \
            pending_reply(ledger.current_run(), state) is not None:
        return state
    return initial


def _resume(existing: Status, position: queries.Position | None, ledger: Ledger,
            python: str, initial: str, enterable: Collection[str] | None) -> Status:
    """Continue from status.txt, but at the ledger's state and round where the two differ;
    a state that reads what only its round's earlier handlers make (the probes, the
    conversation) is reached again from the round's start (`instead_of` says which)."""
    if position and same_goal(position.goal, existing.goal) and \
            (existing.state, existing.round) != (position.state, position.round):
        ledger.append(kinds.StatusDisagrees(status_state=existing.state,
                                        status_round=existing.round, state=position.state,
                                        round=position.round, resolution="the ledger wins"))
        existing = existing.with_(state=position.state, round=position.round)
    stood = existing.state
    existing = existing.with_(state=_entered(stood, initial, enterable, ledger))
    ledger.append(kinds.Resume(state=existing.state, round=existing.round, python=python,
                               status_sha=status_sha(existing.render()),
                               instead_of=stood if stood != existing.state else None))
    return existing


def _note_person_edits(status_file: StatusFile, ledger: Ledger) -> None:
    """A person may edit status.txt between runs; record it so the history explains itself."""
    text = status_file.path.read_bytes().decode("utf-8", errors="replace")
    recent = queries.recent_status_shas(ledger.current_run())
    # The last two: a crash between a transition's record and its status write leaves
    # the file one step behind, which is Jetbox's doing, not a person's; so are blank lines
    # at the end (a kill between an in-place write and its cut).
    if recent and status_sha(text.rstrip("\n") + "\n") not in recent[-2:]:
        ledger.append(kinds.StatusEdited(text=text))
