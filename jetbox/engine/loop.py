"""The engine: loop handler -> outcome -> transition -> persist, on a run start.py opened."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from jetbox.core import failpoints
from jetbox.core.errors import EXIT_DONE, MachineError, PauseRun, StatusError, StorageError
from jetbox.core.prompts import say
from jetbox.engine.resume import status_sha
from jetbox.engine.usercode import resolve_conditions
from jetbox.round.conditions import BUILT_IN
from jetbox.round.run import Round, Run
from jetbox.spec.runtime import build_machine
from jetbox.store import kinds

if TYPE_CHECKING:
    from jetbox.round.handler import Handler


class Engine:
    """Runs handlers until a final state, a limit, an error or Ctrl-C. It is the `transitions`
    model: `build_machine` gives it the two attributes below."""

    state: str  # the current state's name, kept by the machine
    trigger: Callable[[str], bool]  # fire an outcome; False when no transition's conditions hold

    def __init__(self, run: Run, handlers: Mapping[str, Handler], now: Round,
                 preflight: Callable[[], None] | None = None) -> None:
        self.run, self.handlers, self.now = run, handlers, now
        self.session_rounds = 0
        # Asked before start() spends anything (a resume's probes, the first round's
        # baseline): for a real server, that it answers and has the model.
        self.preflight = preflight
        conditions = {name: self._condition(f)
                      for name, f in resolve_conditions(run.spec, BUILT_IN).items()}
        self.machine = build_machine(run.spec, self, now.status.state, conditions,
                                     self._on_transition)

    def _condition(self, function: Callable[..., Any]) -> Callable[[Any], bool]:
        """A `(run, now)` condition asked about the round the handler just returned."""
        return lambda _event: bool(function(self.run, self.now))

    def start(self) -> None:
        """The checks first, then status.txt at the state the run goes on from (begin chose
        it: a resume enters only a state that needs nothing but the status and the ledger)."""
        if self.preflight is not None and not self.run.spec.is_final(self.state):
            self.preflight()
        self.write_status()

    def loop(self) -> int:
        spec = self.run.spec
        moved = False  # a pause state reached in this invocation ends it; resumed into, it runs
        while True:
            state = self.state
            handler = self.handlers[state]
            failpoints.hit(f"before:{state}")
            if spec.is_final(state):
                self._step(state, handler)
                self._save(kinds.StatusWritten)
                return EXIT_DONE
            if moved and spec.is_pause(state):
                raise handler.paused(self.run, self.now)
            self._check_limits(state)
            outcome = self._step(state, handler)
            declared = (*handler.outcomes, *handler.optional_outcomes)
            if outcome not in declared:
                raise MachineError(f"handler of `{state}` returned `{outcome}`, which it does not "
                                   f"declare (it declares {list(declared)})")
            if not self.trigger(outcome):
                raise MachineError(f"no transition from `{state}` on `{outcome}` has its "
                                   f"conditions met; add an unconditional one in {spec.path}")
            moved = True

    def _step(self, state: str, handler: Handler) -> str | None:
        """Run one handler on the round as it declares it reads it (Handler.reads); it returns
        its outcome and the round as it leaves it, having changed and appended only what it
        declares (Handler.writes, .appends)."""
        shown, seen = handler.shown(self.now), len(self.run.ledger.records())
        step = handler.run(self.run, shown)
        if not (isinstance(step, tuple) and len(step) == 2 and isinstance(step[1], Round)):
            raise MachineError(f"handler of `{state}` returned {str(step)[:60]!r}, not "
                               f"(outcome, round); see README, \"Customizing machine.yaml\"")
        outcome, after = step
        problem = handler.undeclared(shown, after, self.run.ledger.records()[seen:])
        if problem:
            raise MachineError(f"handler of `{state}` ({type(handler).__name__}) {problem}; "
                               f"declare it on the class (see docs/machine.md)")
        self.now = handler.kept(self.now, after)
        return outcome

    def _check_limits(self, state: str) -> None:
        settings = self.run.settings
        if state == self.run.spec.initial:
            if self.session_rounds >= settings.max_rounds:
                raise PauseRun(say("pause.round_limit" if settings.max_rounds == 1
                                   else "pause.round_limit_many", count=settings.max_rounds))
            self.session_rounds += 1
        self.run.check_timebox()

    def _on_transition(self, event: Any) -> None:
        """The round starts again at the initial state; status.txt follows every move."""
        source, dest = event.transition.source, event.transition.dest
        round_no = self.now.round + (1 if dest == self.run.spec.initial else 0)
        self.now = self.now.with_status(state=dest, round=round_no)
        self.run.ledger.append(kinds.Transition(source=source, dest=dest,
                                            outcome=event.event.name, round=round_no,
                                            status_sha=status_sha(self.now.status.render())))
        if dest == self.run.spec.initial:
            self.run.ledger.sync()  # a power cut costs at most the round that follows
        self.write_status()

    def write_status(self) -> None:
        """status.txt's one writer: at the start, on every transition and every stop."""
        self.run.status_file.write(self.now.status)

    def _save(self, kind: type[kinds.Stop], **fields: Any) -> None:
        status = self.now.status
        self.run.ledger.append(kind(state=self.state, round=status.round,
                                    status_sha=status_sha(status.render()), **fields))
        self.write_status()

    def stop(self, status: str, kind: type[kinds.Stop], **fields: Any) -> None:
        """Record why the run stopped; the state stays where the run will resume.

        Best effort: when the disk is what failed, recording the stop fails too, and that
        must not hide the error that stopped the run. The ledger is the truth either way."""
        self.now = self.now.with_status(status=status)
        try:
            self._save(kind, **fields)
        except (StorageError, StatusError, OSError) as exc:
            self.run.display.logger.error("could not record the stop (%s): %s", kind.KIND, exc)


