"""The engine: open or resume a run, then loop handler -> outcome -> transition -> persist."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from jetbox.core import failpoints
from jetbox.core.display import Display, open_log
from jetbox.core.errors import (
    EXIT_DONE,
    MachineError,
    Paused,
    StatusError,
    StorageError,
    UsageError,
)
from jetbox.core.text import counted
from jetbox.engine.resume import Resumption, begin, decide, resumed_round, status_sha
from jetbox.engine.startup import machine_file, prepare_repository
from jetbox.engine.trust import check_config, check_folder, folder_findings
from jetbox.engine.usercode import load_handlers, resolve_conditions
from jetbox.exec.process import pass_env_names, reap_strays
from jetbox.model.base import Model
from jetbox.model.factory import ollama_factory
from jetbox.model.host import check_before_work
from jetbox.round.approval import approval_mode, start_warnings
from jetbox.round.conditions import BUILT_IN
from jetbox.round.run import Round, Run
from jetbox.spec.config import Settings, resolve_settings, setting_source
from jetbox.spec.machine import MachineSpec, load_machine
from jetbox.spec.runtime import build_machine
from jetbox.store import kinds as k
from jetbox.store import records as rec
from jetbox.store.acts import StraysKilled
from jetbox.store.ledger import Ledger
from jetbox.store.root import chosen_workspace
from jetbox.store.status import StatusFile
from jetbox.store.workspace import Workspace, make_state_folder

if TYPE_CHECKING:
    from jetbox.engine.trust import ConfigTrust
    from jetbox.exec.interpreter import Interpreter
    from jetbox.probes.runner import Prober
    from jetbox.round.handler import Handler
    from jetbox.tools.toolbox import Toolbox


@dataclass(frozen=True)
class RunRequest:
    """What `jetbox run` was asked to do."""

    goal: str | None
    workspace: Path
    machine: Path | None = None
    fresh: bool = False
    cli_settings: Mapping[str, Any] | None = None
    quiet: bool = False
    verbose: bool = False
    trust_config: bool = False  # accept configuration that changed during the run
    answer: str = ""  # --answer: the person's answer to the question the run waits on
    state_dir: str | None = None  # "." or ".jetbox": where Jetbox keeps its files
    ask: Callable[[str], bool] | None = None  # a yes/no question to the person, on a terminal
    chosen: str = ""  # why the workspace is not the current folder, for the start line
    ask_trust: Callable[[str], bool] | None = None  # the same, asked even with --quiet


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
        """The checks first, then the round the run continues with (fresh probes on a
        resume past the initial state)."""
        if self.preflight is not None and not self.run.spec.is_final(self.state):
            self.preflight()
        self.now = resumed_round(self.run, self.now.status)
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
                self._save(k.StatusWritten)
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
        """Run one handler, which returns its outcome and the round as it leaves it, having
        changed and appended only what it declares (Handler.writes, .appends)."""
        before, seen = self.now, len(self.run.ledger.records())
        step = handler.run(self.run, self.now)
        if not (isinstance(step, tuple) and len(step) == 2 and isinstance(step[1], Round)):
            raise MachineError(f"handler of `{state}` returned {str(step)[:60]!r}, not "
                               f"(outcome, round); see README, \"Customizing machine.yaml\"")
        outcome, self.now = step
        problem = handler.undeclared(before, self.now, self.run.ledger.records()[seen:])
        if problem:
            raise MachineError(f"handler of `{state}` ({type(handler).__name__}) {problem}; "
                               f"declare it on the class (see docs/machine.md)")
        return outcome

    def _check_limits(self, state: str) -> None:
        settings = self.run.settings
        if state == self.run.spec.initial:
            if self.session_rounds >= settings.max_rounds:
                raise Paused(f"round limit: {counted(settings.max_rounds, 'round')} this session")
            self.session_rounds += 1
        self.run.check_timebox()

    def _on_transition(self, event: Any) -> None:
        """The round starts again at the initial state; status.txt follows every move."""
        source, dest = event.transition.source, event.transition.dest
        round_no = self.now.round + (1 if dest == self.run.spec.initial else 0)
        self.now = self.now.with_status(state=dest, round=round_no)
        self.run.ledger.append(k.Transition(source=source, dest=dest,
                                            outcome=event.event.name, round=round_no,
                                            status_sha=status_sha(self.now.status.render())))
        if dest == self.run.spec.initial:
            self.run.ledger.sync()  # a power cut costs at most the round that follows
        self.write_status()

    def write_status(self) -> None:
        """status.txt's one writer: at the start, on every transition and every stop."""
        self.run.status_file.write(self.now.status)

    def _save(self, kind: type[k.Stop], **fields: Any) -> None:
        status = self.now.status
        self.run.ledger.append(kind(state=self.state, round=status.round,
                                    status_sha=status_sha(status.render()), **fields))
        self.write_status()

    def stop(self, status: str, kind: type[k.Stop], **fields: Any) -> None:
        """Record why the run stopped; the state stays where the run will resume.

        Best effort: when the disk is what failed, recording the stop fails too, and that
        must not hide the error that stopped the run. The ledger is the truth either way."""
        self.now = self.now.with_status(status=status)
        try:
            self._save(kind, **fields)
        except (StorageError, StatusError, OSError) as exc:
            self.run.display.logger.error("could not record the stop (%s): %s", kind.KIND, exc)


@dataclass(frozen=True)
class Checked:
    """Everything open_run validated, before anything in the workspace changed."""

    workspace: Workspace
    spec: MachineSpec
    ledger: Ledger
    trust: ConfigTrust
    handlers: Mapping[str, Handler]
    settings: Settings
    toolbox: Toolbox
    prober: Prober
    python: Interpreter
    resumption: Resumption  # start afresh or continue, decided once (resume.decide)
    sandbox_source: str = ""  # where the sandbox setting came from (sandbox_line)
    folder_trusted: str | None = None  # what a person accepted for the folder just now


def require_folder(workspace: Path) -> None:
    """The workspace must be a folder before anything, its lock included, is made in it."""
    if not workspace.is_dir():
        raise UsageError(f"workspace {workspace} is not a folder")


def check_request(request: RunRequest, environ: Mapping[str, str], cwd: Path) -> Checked:
    """Validate the machine, the configuration and its trust, the settings and the tools."""
    from jetbox.exec.interpreter import find_interpreter
    from jetbox.exec.sandbox import resolve_sandbox
    from jetbox.probes.focused import FocusedProber
    from jetbox.tools.toolbox import Toolbox

    require_folder(request.workspace)
    workspace = Workspace.at(request.workspace, request.state_dir)
    ledger = Ledger(workspace.ledger_path)
    ledger.records()  # a damaged ledger stops us here, before anything changes
    # Before any handler module is imported or any setting obeyed.
    resumption = decide(request.goal, request.fresh, ledger, StatusFile(workspace.status_path),
                        request.ask)
    spec = load_machine(machine_file(request.machine, workspace.root, cwd, ledger,
                                     resumption.recorded))
    trust = check_config(spec, workspace.root, ledger, resumption.recorded,
                         request.trust_config)
    # What the folder brings (weakening settings, its machine file, handler code) is obeyed
    # or imported only once a person trusts it (remembered outside the folder).
    accepted = check_folder(folder_findings(spec, workspace.root, request.machine),
                            workspace.root, environ, request.trust_config, request.ask_trust)
    handlers = load_handlers(spec)
    settings = resolve_settings(spec.defaults, workspace.root, environ,
                                dict(request.cli_settings or {}), str(spec.path))
    sandbox = resolve_sandbox(settings.sandbox)
    source = setting_source("sandbox", spec.defaults, workspace.root, environ,
                            dict(request.cli_settings or {}))
    policy = replace(spec.tools, sandbox=sandbox).fitted(
        spec.compaction.latest_chars(settings.num_ctx))
    resolve_conditions(spec, BUILT_IN)  # every condition resolves, before anything runs
    python = find_interpreter(workspace.root, settings.python, environ, sandbox)
    pass_env = pass_env_names(settings.pass_env)
    prober = FocusedProber(workspace.root, spec.probes, sandbox=sandbox, python=python,
                           pass_env=pass_env)
    prober.focus_enabled = settings.probe_focus
    return Checked(workspace, spec, ledger, trust, handlers, settings,
                   Toolbox(workspace.root, ledger, policy, python, pass_env), prober, python,
                   resumption, source, accepted)


def open_run(request: RunRequest, environ: Mapping[str, str], cwd: Path, stream: TextIO,
             model_factory: Callable[[Settings, Display], Callable[[], Model]] | None = None,
             out: TextIO | None = None) -> Engine:
    """Validate everything, then start or resume: nothing runs before all checks pass."""
    c = check_request(request, environ, cwd)
    session_start = c.ledger.records()[-1].seq if c.ledger.records() else 0
    status_file = StatusFile(c.workspace.status_path)
    if c.workspace.in_state_dir:
        make_state_folder(c.workspace.root)  # never through a link (workspace.py)
    status = begin(c.resumption, request.goal, c.spec, c.ledger, status_file,
                   c.python.describe())
    c.trust.record(c.ledger)
    settings, mode = approval_mode(c.settings,
                                   (request.cli_settings or {}).get("approve") is not None,
                                   c.ledger.current_run())
    if mode is not None:
        c.ledger.append(mode)
    strays = reap_strays(c.workspace.root)
    if strays:
        c.ledger.append(StraysKilled(pids=strays))
    display = Display(open_log(c.workspace.log_path), stream, request.quiet, request.verbose, out)
    prepare_repository(c.workspace, display, cwd, not c.resumption.recorded)
    factory = (model_factory or ollama_factory)(settings, display)
    run = Run(settings, c.workspace, c.spec, c.ledger, status_file, c.toolbox, c.prober,
              display, factory, c.spec.compaction,
              session_start=session_start, answer=request.answer)
    for warning in start_warnings(run):
        display.warn(warning)
    if c.trust.reason and c.trust.reason.startswith("--trust-config"):
        display.warn(f"configuration accepted with --trust-config: "
                     f"{c.trust.reason.removeprefix('--trust-config: ')}")
    set_aside = rec.last(c.ledger.records(), rec.RUN_SUPERSEDED)
    if set_aside is not None and set_aside.seq > session_start:
        display.event("the previous run is set aside (its records stay in the ledger)")
    if c.folder_trusted:
        display.warn(f"folder trusted (remembered outside it): {c.folder_trusted}")
    verb = "resuming" if status.state != c.spec.initial or status.round > 1 else "starting"
    where = f"; workspace {c.workspace.root} ({request.chosen})" if request.chosen else ""
    sandbox = c.toolbox.policy.sandbox
    in_force = sandbox_line(sandbox, c.settings.sandbox, c.sandbox_source)
    display.note(f"{verb} at {status.state}, round {status.round}{where}; machine {c.spec.path}; "
                 f"python {c.python.describe()}; {in_force}")
    if sandbox != "bwrap":
        display.warn(NO_SANDBOX_WARNING)
    if not c.python.has_pytest:
        display.warn(c.python.pytest_missing_hint())
    return Engine(run, c.handlers, Round(status), None if model_factory else partial(
        check_before_work, settings.host, settings.model))  # a real server: asked first


def workspace_from(value: str | None) -> tuple[Path, str]:
    """-w as given; without it, the project the current folder is in (store/root.py)."""
    return chosen_workspace(value)


NO_SANDBOX_WARNING = ("no sandbox: the code this run runs (the project's tests, a conftest.py, "
                      "a script the model writes) runs with your rights and can read and "
                      "write anything you can")


def sandbox_line(sandbox: str, setting: str, source: str) -> str:
    """`sandbox: bwrap`, `sandbox: none (setting in pyproject.toml)`, `none (--sandbox)`."""
    if sandbox == "bwrap":
        return "sandbox: bwrap"
    if setting == "auto":
        return "sandbox: none (auto: bubblewrap is not usable here)"
    return f"sandbox: none ({source})"


