"""The command line: `main(argv) -> int`, one subcommand per job."""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO, cast

from jetbox.core.console import ClosedPipeSafe
from jetbox.core.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    JetboxError,
    Terminated,
    UsageError,
)
from jetbox.core.text import for_terminal

DESCRIPTION = """\
Jetbox: a tiny local-first coding agent for Ollama, driven by the state machine in
machine.yaml. It works in a folder through six safe tools, keeps its state in
plaintext (status.txt, agent_ledger.log, agent.log) and resumes exactly where it
stopped when it is killed."""


def version() -> str:
    """The installed distribution's version; the package's own when run from a checkout."""
    from importlib import metadata

    try:
        return metadata.version("jetbox")
    except metadata.PackageNotFoundError:
        from jetbox import __version__

        return __version__


class _Version(argparse.Action):
    """--version, looked up only when asked: importlib.metadata costs more than the rest of
    `jetbox --help`."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        sys.stdout.write(f"jetbox {version()}\n")  # on stdout, as argparse's own action
        parser.exit()

RUN_HELP = "work towards a goal (or resume the run in the workspace)"


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; a plugged command's module is imported only when argv names it
    (its help line for the overview is in PLUGGED_HELP), so `--help` imports none."""
    from jetbox.core.errors import EXIT_CODES_HELP

    parser = argparse.ArgumentParser(prog="jetbox", description=DESCRIPTION,
                                     epilog=EXIT_CODES_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-V", "--version", action=_Version, nargs=0,
                        help="print Jetbox's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _command_named(argv)
    if chosen == "run":
        from jetbox.engine.start import add_run_parser

        add_run_parser(sub, RUN_HELP)
    else:  # its options need Settings (dataclasses, inspect): a third of `--help`'s start-up
        sub.add_parser("run", help=RUN_HELP)
    p = sub.add_parser("graph", help="draw the machine (Mermaid text, or dot/svg/png)",
                       description="Draw machine.yaml: Mermaid text by default (renders on "
                                   "GitHub, needs nothing); dot, svg and png through Graphviz. "
                                   "With --workspace, the state its status.txt names is "
                                   "highlighted and the states the run went through are marked.")
    p.add_argument("--machine", metavar="PATH", help="machine.yaml to draw")
    p.add_argument("-w", "--workspace", metavar="DIR",
                   help="a run's folder: mark its current state and path")
    p.add_argument("-f", "--format", choices=("mermaid", "dot", "svg", "png"), default="mermaid")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    for name, module_name in PLUGGED_COMMANDS.items():
        if name != chosen:
            sub.add_parser(name, help=PLUGGED_HELP[name])
            continue
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.DESCRIPTION,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
    return parser


def _command_named(argv: list[str] | None) -> str | None:
    """The subcommand argv names: its first word that is not an option (the top level
    has no option that takes a value)."""
    words = sys.argv[1:] if argv is None else argv
    return next((w for w in words if not w.startswith("-")), None)


def entry() -> None:
    """The process's own entry (`python -m jetbox`, the `jetbox` script): main, then exit
    without the interpreter's last garbage collection. That pass walks every object the
    imports made (the model client's schemas above all): 60-130 ms at every exit, to free
    memory the OS takes back anyway. Frozen objects are left out of it; open files, atexit
    hooks and threads are closed as at any exit. Tests call main() and keep their GC."""
    code = main()
    gc.freeze()
    sys.exit(code)


def main(argv: list[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    # A reader that stops reading (`| head`) ends the output, never the work.
    out = cast(TextIO, ClosedPipeSafe(stdout or sys.stdout))
    err = cast(TextIO, ClosedPipeSafe(stderr or sys.stderr))
    parser = build_parser(argv)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args, extra = parser.parse_known_args(argv)
            if extra:  # as parse_args would say, with a hint for an unquoted goal
                parser.error(f"unrecognized arguments: {' '.join(extra)}"
                             + _quote_hint(args, extra))
    except SystemExit as exc:  # argparse exits 2 on bad usage and 0 on --help
        return int(exc.code or 0)
    if args.command is None:  # as argparse does for a missing argument: usage, exit 2
        parser.print_usage(err)
        err.write("jetbox: give a command. `jetbox demo` shows Jetbox at work with no model; "
                  "`jetbox --help` lists every command.\n")
        return EXIT_USAGE
    return _dispatch(args, out, err)


def _quote_hint(args: argparse.Namespace, extra: list[str]) -> str:
    """`jetbox run Fix the bug`: the shell made the goal three words, argparse took one."""
    if args.command != "run" or not args.goal or any(w.startswith("-") for w in extra):
        return ""
    goal = " ".join([args.goal, *extra]).replace('"', '\\"')
    return f'; the goal is one argument: quote it, as in jetbox run "{goal}"'


def _dispatch(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the command; every way it fails is one line and an exit code."""
    command = COMMANDS.get(args.command)
    if command is None:
        command = importlib.import_module(PLUGGED_COMMANDS[args.command]).command
    try:
        return command(args, out, err)
    except JetboxError as exc:
        err.write(f"jetbox: {for_terminal(exc)}\n")
        return exc.exit_code
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM during `run` (Terminated)
        err.write("jetbox: interrupted; run the same command again to resume\n")
        return EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
    except IsADirectoryError as exc:  # e.g. agent.log or status.txt made a folder
        err.write(for_terminal(f"jetbox: {exc.filename} is a folder where Jetbox keeps a "
                               f"file: move it away (e.g. rename it to "
                               f"{Path(str(exc.filename)).name}.bad) and run again") + "\n")
        return EXIT_USAGE
    except OSError as exc:  # a file Jetbox needs (the lock, agent.log, ...) is not usable
        where = f" {exc.filename}" if exc.filename else ""
        err.write(for_terminal(f"jetbox: cannot use{where}: {exc.strerror or exc} (disk full, "
                               f"read-only or no permission?); fix that, then run again")
                  + "\n")
        return EXIT_ERROR
    except Exception as exc:  # a bug; a person still gets one line, not a traceback
        err.write(for_terminal(f"jetbox: internal error: {type(exc).__name__}: "
                               f"{_one_line(str(exc))} (a bug in Jetbox: please report it "
                               f"with the command you ran)") + "\n")
        return EXIT_ERROR


def _one_line(text: str) -> str:
    """Errors are one line on the terminal, whatever the exception's text held."""
    return " ".join(text.split())[:2000]


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from jetbox.engine.drive import execute
    from jetbox.engine.start import RunRequest, open_run, require_folder, workspace_from
    from jetbox.exec.process import hide_own_environment
    from jetbox.store.kinds import LockTakenOver
    from jetbox.store.lock import WorkspaceLock
    from jetbox.store.workspace import Workspace

    cli_settings = {"model": args.model, "host": args.host, "max_rounds": args.max_rounds,
                    "timebox_s": args.timebox_s, "sandbox": args.sandbox, "python": args.python,
                    "known_failures": args.known_failures, "approve": args.approve,
                    "allow_test_changes": args.allow_test_changes}
    workspace, chosen = workspace_from(args.workspace)  # without -w: the project's root
    request = RunRequest(goal=args.goal, workspace=workspace, chosen=chosen,
                         machine=Path(args.machine) if args.machine else None,
                         fresh=args.fresh, cli_settings=cli_settings, quiet=args.quiet,
                         verbose=args.verbose, trust_config=args.trust_config,
                         answer=_answer(args.answer), state_dir=args.state_dir,
                         ask=None if args.quiet else _terminal_ask(err),
                         ask_trust=_terminal_ask(err))
    if args.goal and not request.workspace.exists():  # a new project starts in a new folder
        request.workspace.mkdir(parents=True)
        err.write(f"jetbox: created {request.workspace} for the new run\n")
    require_folder(request.workspace)
    hide_own_environment()  # before any child starts: they must not read ours in /proc
    with _sigterm_as_ctrl_c(), WorkspaceLock(Workspace.at(request.workspace).lock_path) as lock:
        engine = open_run(request, os.environ, Path.cwd(), err, out=out)
        if lock.took_over:
            engine.run.ledger.append(LockTakenOver(owner=lock.took_over))
            engine.run.display.note(lock.describe_takeover())
        return execute(engine)


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """`kill`, a CI cancel, `docker stop` and systemd send SIGTERM: the run stops as on
    Ctrl-C (summary, status.txt, lock released), with exit 143. A second SIGTERM during
    that cleanup ends the process at once, as the default handler does."""
    def stop(signum: int, _frame: object) -> None:
        signal.signal(signum, signal.SIG_DFL)
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (main() called by a test's thread)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _answer(text: str | None) -> str:
    """--answer, checked before anything runs."""
    from jetbox.round.approval import QUIT, parse_answer, split_qid

    if text is None:
        return ""
    answer = parse_answer(split_qid(text)[1])
    if answer is None or answer.verdict == QUIT:
        raise UsageError(f"--answer {text!r}: give the question's id and yes, no, no:REASON "
                         f"or always, e.g. q3=yes (a plain yes answers only a question "
                         f"you were shown before)")
    return text


def _terminal_ask(err: TextIO) -> Callable[[str], bool] | None:
    """A yes/no question on the terminal, or None when nobody is there to answer."""
    if not (sys.stdin.isatty() and err.isatty()):
        return None

    def ask(question: str) -> bool:
        err.write(f"jetbox: {for_terminal(question)} [y/N] ")
        err.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")
    return ask


def cmd_graph(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from jetbox.commands.graph import render, run_path
    from jetbox.engine.start import machine_file
    from jetbox.spec.machine import load_machine
    from jetbox.store.ledger import Ledger
    from jetbox.store.status import StatusFile
    from jetbox.store.workspace import Workspace

    workspace = Workspace.at(Path(args.workspace or "."))
    # A run's own machine file, whatever the current folder; else the usual search.
    machine = machine_file(Path(args.machine) if args.machine else None, workspace.root,
                           Path.cwd(), Ledger(workspace.ledger_path), bool(args.workspace))
    spec = load_machine(machine)
    current, path = None, []
    if args.workspace:
        status_file = StatusFile(workspace.status_path)
        if status_file.exists():
            state = status_file.read().state
            current = state if state in spec.state_names else None
        path = [s for s in run_path(workspace.ledger_path) if s in spec.state_names]
    if args.format == "png" and not args.output:
        raise UsageError("PNG is binary: give -o FILE")
    data = render(spec, args.format, current, path)
    if args.output:
        Path(args.output).write_bytes(data)
        err.write(for_terminal(f"wrote {args.output} ({len(data)} bytes, {args.format})") + "\n")
    else:
        out.write(data.decode("utf-8"))
    return 0


COMMANDS = {"run": cmd_run, "graph": cmd_graph}

# Commands in modules of their own. Each module defines HELP, DESCRIPTION,
# add_arguments(parser) and command(args, out, err) -> int, and keeps heavy imports
# (the ollama client) inside functions so `jetbox --help` stays fast.
PLUGGED_COMMANDS: dict[str, str] = {"status": "jetbox.commands.status",
                                    "demo": "jetbox.commands.demo",
                                    "diag": "jetbox.commands.diag",
                                    "log": "jetbox.commands.log",
                                    "eval": "jetbox.commands.evaluate",
                                    "serve": "jetbox.commands.serve",
                                    "diff": "jetbox.commands.diff",
                                    "undo": "jetbox.commands.undo",
                                    "trust": "jetbox.commands.trust"}
# Their overview lines (each module's HELP, checked equal by the tests).
PLUGGED_HELP: dict[str, str] = {
    "status": "print status.txt and the last events of the ledger",
    "demo": "watch Jetbox solve a goal with no Ollama: killed once, resumed",
    "diag": "check the Ollama server and model, and time a few short chats",
    "log": "show the ledger as a readable timeline",
    "eval": "run a suite of small tasks against a model and report success, rounds, tokens, time",
    "serve": "run the offline Ollama-compatible server (a scripted model) until Ctrl-C",
    "diff": "show what the last run changed (a unified diff per file)",
    "undo": "put back every file the last run changed, exactly as it was before the run",
    "trust": "trust a folder's own Jetbox settings, machine.yaml and handler code (once per "
             "change)",
}
