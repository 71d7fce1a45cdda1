"""The small common base of every state handler."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from typing import TYPE_CHECKING, ClassVar

from jetbox.core.errors import PauseRun
from jetbox.store.format import Record
from jetbox.store.queries import guard_reason

if TYPE_CHECKING:
    from jetbox.round.run import Round, Run

Step = tuple["str | None", "Round"]  # the outcome, and the round as the handler leaves it


class Handler:
    """One state's work.

    `run(run, now)` does the state's job with the run's services and the round so far, and
    returns the outcome (the trigger that machine.yaml maps to the next state) with the
    round as it leaves it: what a handler reads and changes is in its signature. Every
    value in `outcomes` must have a transition (checked before anything runs). A final
    state's handler returns None as its outcome. Each handler's docstring says what it
    reads and writes besides the round: records in the ledger, files, the model.
    """

    outcomes: ClassVar[tuple[str, ...]] = ("next",)
    # What it reads and writes, as Burr's `@action(reads=..., writes=...)`: the Round fields
    # it reads and may change, and the ledger kinds it may append (its own and those of the
    # services it calls, e.g. the toolbox's). The engine checks after each step that what
    # changed is among them (`undeclared`), and a resume enters the state only when what it
    # reads survives one (`resumes_here`). None: not declared (a handler written before
    # declarations existed): not checked, and resumed as one that reads everything.
    reads: ClassVar[tuple[str, ...] | None] = None
    writes: ClassVar[tuple[str, ...] | None] = None
    appends: ClassVar[tuple[str, ...] | None] = None
    # Outcomes returned only where machine.yaml routes them (spec.routes): Calls' `ask`
    # leads to Approve while that state is wired in, and removing it turns approval off.
    optional_outcomes: ClassVar[tuple[str, ...]] = ()

    def run(self, run: Run, now: Round) -> Step:
        raise NotImplementedError

    def resumes_here(self) -> bool:
        """Whether a resume may enter this state directly: it reads only the status (the
        rest from the ledger). The Round's other fields (probes, verdict, conversation, reply)
        are made by the round's earlier handlers and live only in memory, so a state that reads
        them is re-entered at the round's start and reached through those very handlers, as
        a run that was never stopped reaches it (engine/resume.py, `begin`). A journaled reply
        is the exception the resume checks itself (round/run.py, `pending_reply`)."""
        return self.reads is not None and set(self.reads) <= {"status"}

    def shown(self, now: Round) -> Round:
        """The round as this handler is given it: what it declares it reads, the rest at its
        default. So `reads` is true by construction (a field read but not declared is None to
        the handler, in every run, not only after a resume), and `resumes_here` can trust it."""
        if self.reads is None:
            return now
        blank = type(now)(now.status)
        return replace(now, **{f.name: getattr(blank, f.name) for f in fields(now)
                               if f.name != "status" and f.name not in self.reads})

    def kept(self, before: Round, after: Round) -> Round:
        """The round the run goes on with: what the handler declares it writes, from what it
        returned; every other field as it was before the step."""
        if self.writes is None:
            return after
        return replace(before, **{name: getattr(after, name) for name in self.writes})

    def undeclared(self, before: Round, after: Round, appended: Sequence[Record]) -> str:
        """What this step changed that the handler does not declare, or ""."""
        problems = []
        if self.writes is not None:
            changed = [f.name for f in fields(before)
                       if getattr(before, f.name) != getattr(after, f.name)]
            extra = [name for name in changed if name not in self.writes]
            if extra:
                problems.append(f"changed the round's {', '.join(extra)} but declares "
                                f"writes={list(self.writes)}")
        if self.appends is not None:
            kinds = list(dict.fromkeys(r.kind for r in appended if r.kind not in self.appends))
            if kinds:
                problems.append(f"appended {', '.join(kinds)} but declares "
                                f"appends={list(self.appends)}")
        return "; ".join(problems)

    def paused(self, run: Run, now: Round) -> PauseRun:
        """How the invocation ends when the run reaches this state and it is a pause state
        (machine.yaml `pause: true`): by default, red, with the guard that stopped the run."""
        return PauseRun(guard_reason(run.records()), status="red")
