"""Starting a run, in one place: `jetbox run`'s command line (`add_run_parser`), everything
checked before anything in the workspace changes (`check_request`), then the run opened or
resumed (`open_run`) with what it settles first so the person's repository stays theirs:
which machine file it uses (the one it started with, from any folder), Jetbox's files kept
out of `git status`, and one-line notices (where the files are, a machine.yaml passed over,
work not committed). The loop that then runs the rounds is loop.py's Engine."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from jetbox.core.display import Display, open_log
from jetbox.core.errors import UsageError
from jetbox.engine.loop import Engine
from jetbox.engine.resume import Resumption, begin, decide, machine_digest, recorded_machine
from jetbox.engine.trust import check_config, check_folder, folder_findings
from jetbox.engine.usercode import load_handlers, resolve_conditions
from jetbox.exec.gitrepo import exclude_own_files, uncommitted
from jetbox.exec.process import pass_env_names, reap_strays
from jetbox.model.base import Model
from jetbox.round.approval import approval_mode, start_warnings
from jetbox.round.conditions import BUILT_IN
from jetbox.round.run import Round, Run
from jetbox.spec.config import Settings, resolve_settings, setting_source
from jetbox.spec.machine import MachineSpec, load_machine
from jetbox.spec.runtime import find_machine_file, foreign_machine_notice
from jetbox.store import queries
from jetbox.store.kinds import Resume, StraysKilled
from jetbox.store.ledger import Ledger
from jetbox.store.root import chosen_workspace
from jetbox.store.status import StatusFile
from jetbox.store.workspace import LOCK_NAME, Workspace, make_state_folder

if TYPE_CHECKING:
    from jetbox.engine.trust import ConfigTrust
    from jetbox.exec.interpreter import Interpreter
    from jetbox.probes.runner import Prober
    from jetbox.round.handler import Handler
    from jetbox.tools.toolbox import Toolbox

UNCOMMITTED_SHOWN = 3


def machine_file(explicit: Path | None, workspace: Path, cwd: Path, ledger: Ledger,
                 resumes: bool) -> Path:
    """--machine; else, on a resume, the file the run started with (whatever the current
    folder: trust.py then checks its digest); else the usual search."""
    if explicit is None and resumes:
        recorded = recorded_machine(ledger)
        if recorded is not None and recorded[0].is_file():
            return recorded[0]
    return find_machine_file(explicit, workspace, cwd)


def own_files(workspace: Workspace) -> list[str]:
    """Jetbox's files and folders, as info/exclude lines relative to the workspace."""
    names = [*workspace.own_paths(), LOCK_NAME + ".takeover"]
    return list(dict.fromkeys(names))


def prepare_repository(workspace: Workspace, display: Display, cwd: Path,
                       starting: bool) -> None:
    """Keep Jetbox's files out of git, and say what a person should know before it works."""
    if workspace.notice:
        display.event(workspace.notice)
    notice = foreign_machine_notice(workspace.root, cwd)
    if notice:
        display.event(notice)
    # Said once a run, when it starts: a resume writes the same lines, or cannot again.
    exclude_own_files(workspace.root, own_files(workspace), display.warn if starting else None)
    if not starting:
        return
    changed = uncommitted(workspace.root)
    if changed:
        shown = ", ".join(changed[:UNCOMMITTED_SHOWN]) + \
            (f" and {len(changed) - UNCOMMITTED_SHOWN} more" if len(changed) > UNCOMMITTED_SHOWN
             else "")
        display.warn(f"the work tree has uncommitted changes ({shown}); `jetbox undo` takes "
                     f"back only this run's changes: commit or stash yours to keep them apart")


def describe_machine(explicit: Path | None, workspace: Path, cwd: Path, ledger: Ledger) -> str:
    """For `jetbox status`: the machine file the run uses (the one it started with), and
    whether it changed since; with no run, the one a run started here would use."""
    recorded = recorded_machine(ledger) if explicit is None else None
    if recorded is None:
        return str(find_machine_file(explicit, workspace, cwd))
    path, digest = recorded
    if not path.is_file():
        return f"{path} (the run's; missing now)"
    changed = bool(digest) and machine_digest(path) != digest
    return f"{path}" + (" (changed since the run started)" if changed else "")


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
    # Here, not at the top: `status` and `graph` use this module and never talk to a model.
    from jetbox.model.factory import ollama_factory
    from jetbox.model.host import check_before_work

    c = check_request(request, environ, cwd)
    session_start = c.ledger.records()[-1].seq if c.ledger.records() else 0
    status_file = StatusFile(c.workspace.status_path)
    if c.workspace.in_state_dir:
        make_state_folder(c.workspace.root)  # never through a link (workspace.py)
    status = begin(c.resumption, request.goal, c.spec, c.ledger, status_file,
                   c.python.describe(), [s for s, h in c.handlers.items() if h.resumes_here()])
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
    set_aside = queries.last(c.ledger.records(), queries.RUN_SUPERSEDED)
    if set_aside is not None and set_aside.seq > session_start:
        display.event("the previous run is set aside (its records stay in the ledger)")
    if c.folder_trusted:
        display.warn(f"folder trusted (remembered outside it): {c.folder_trusted}")
    verb = "resuming" if c.resumption.resumes else "starting"
    where = f"; workspace {c.workspace.root} ({request.chosen})" if request.chosen else ""
    sandbox = c.toolbox.policy.sandbox
    in_force = sandbox_line(sandbox, c.settings.sandbox, c.sandbox_source)
    display.note(f"{verb} at {status.state}, round {status.round}{where}; machine {c.spec.path}; "
                 f"python {c.python.describe()}; {in_force}")
    resumed = queries.last(c.ledger.records(), queries.RESUME)
    if isinstance(resumed, Resume) and resumed.instead_of and resumed.seq > session_start:
        display.event(f"status.txt stood at {resumed.instead_of}, which reads what the round's "
                      f"earlier states make: round {status.round} again from {status.state}")
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


# `jetbox run`'s command line: the goal, where, which model, the limits, and what a person
# decides for the run.
def add_run_parser(sub: argparse._SubParsersAction, help_line: str) -> None:
    """`run` and its options (`help_line`: its line in `jetbox --help`, which imports none
    of this)."""
    from jetbox.core.errors import EXIT_CODES_HELP
    from jetbox.spec.config import Settings

    p = sub.add_parser(
        "run", help=help_line,
        description="Work towards GOAL in the workspace, or resume the run its status.txt "
                    "names. The same goal (or none) resumes; a different goal starts a new run.",
        epilog=EXIT_CODES_HELP + "\n\nsettings precedence: flag > environment > "
               "[tool.jetbox] in the workspace's pyproject.toml > your config.toml > "
               "machine.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("goal", nargs="?", help="what to achieve; omit to resume")
    p.add_argument("-w", "--workspace", metavar="DIR",
                   help="folder to work in, as given (default: the project the current folder "
                        "is in: the nearest git root or folder with pyproject.toml, setup.cfg "
                        "or setup.py above it)")
    p.add_argument("-m", "--model", help="Ollama model (default: $JETBOX_MODEL, "
                                         "$OLLAMA_MODEL, the settings, gpt-oss:20b)")
    p.add_argument("--host", help="Ollama server: HOST[:PORT] or a URL (default: $JETBOX_HOST, "
                                  "$OLLAMA_HOST, the settings, else 127.0.0.1:11434)")
    defaults = Settings()
    p.add_argument("--max-rounds", type=int, metavar="N",
                   help=f"rounds before pausing, exit 3 (default: {defaults.max_rounds}, or "
                        f"what machine.yaml's limits say)")
    p.add_argument("--timebox", type=float, metavar="SECONDS", dest="timebox_s",
                   help=f"seconds before pausing, exit 3 (default: {defaults.timebox_s:g}, or "
                        f"what machine.yaml's limits say)")
    p.add_argument("--machine", metavar="PATH", help="machine.yaml to use")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "none"),
                   help="OS sandbox for commands and probes (default: auto); with none, the "
                        "code a run runs (tests, scripts) has your rights")
    p.add_argument("--python", metavar="PATH",
                   help="the project's Python (an interpreter or a venv folder) for its python, "
                        "pytest and pip (default: $VIRTUAL_ENV, else .venv/ or venv/ in the "
                        "workspace, else Jetbox's own)")
    judgement_options(p)
    p.add_argument("--fresh", action="store_true",
                   help="start over: set an unfinished run aside (its ledger records stay)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress output (warnings and errors still show)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="no live line at a terminal either: only the events' lines")


def judgement_options(p: argparse.ArgumentParser) -> None:
    """What a person decides for the run: known failures, test changes, approvals."""
    p.add_argument("--known-failures", metavar="IDS",
                   help="comma-separated pytest ids known to fail; they do not block a finish")
    p.add_argument("--approve", choices=("never", "commands", "changes", "all"),
                   help="ask a person before calls: commands (run_cmd, and writes of test "
                        "code), changes (also writes, edits, deletes) or all (default: never)")
    p.add_argument("--answer", metavar="qN=yes|no[:REASON]|always[ PREFIX]",
                   help="answer question qN the run is waiting on (status.txt `Approve [qN]:`); "
                        "a plain yes only answers a question you were shown before")
    p.add_argument("--allow-test-changes", action="store_true", default=None,
                   help="let the run remove, skip or deselect tests and change test config "
                        "(for a goal that asks for it); the summary lists each change")
    p.add_argument("--state-dir", choices=(".", ".jetbox"),
                   help="where Jetbox keeps status.txt, agent_ledger.log and agent.log "
                        "(default: beside the code, or .jetbox/ when those names are taken)")
    p.add_argument("--trust-config", action="store_true",
                   help="accept machine.yaml or [tool.jetbox] changes made since the run "
                        "started, and trust what the folder brings as `jetbox trust` does "
                        "(review them first)")
