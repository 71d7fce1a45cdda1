"""The command line: `main(argv) -> int`, one subcommand per job."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from jetbox.core.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, JetboxError, UsageError
from jetbox.core.text import for_terminal
from jetbox.store.records import LOCK_TAKEN_OVER, RESUME, RUN_START

DESCRIPTION = """\
Jetbox: a tiny local-first coding agent for Ollama, driven by the state machine in
machine.yaml. It works in a folder through seven safe tools, keeps its state in
plaintext (status.txt, agent_ledger.log, agent.log) and resumes exactly where it
stopped when it is killed."""


def _run_parser(sub: argparse._SubParsersAction) -> None:
    from jetbox.core.errors import EXIT_CODES_HELP

    p = sub.add_parser(
        "run", help="work towards a goal (or resume the run in the workspace)",
        description="Work towards GOAL in the workspace, or resume the run its status.txt "
                    "names. The same goal (or none) resumes; a different goal starts a new run.",
        epilog=EXIT_CODES_HELP + "\n\nsettings precedence: flag > environment > "
               "[tool.jetbox] in the workspace's pyproject.toml > machine.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("goal", nargs="?", help="what to achieve; omit to resume")
    p.add_argument("--workspace", "-w", metavar="DIR", help="folder to work in (default: .)")
    p.add_argument("--model", "-m", help="Ollama model (default: $OLLAMA_MODEL or gpt-oss:20b)")
    p.add_argument("--host", help="Ollama server URL (default: $OLLAMA_HOST or Ollama's default)")
    p.add_argument("--max-rounds", type=int, metavar="N", help="rounds before pausing (exit 3)")
    p.add_argument("--timebox", type=float, metavar="SECONDS", dest="timebox_s",
                   help="seconds before pausing (exit 3)")
    p.add_argument("--machine", metavar="PATH", help="machine.yaml to use")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "none"),
                   help="OS sandbox for commands and probes (default: auto)")
    p.add_argument("--python", metavar="PATH",
                   help="the project's Python (an interpreter or a venv folder) for its python, "
                        "pytest and pip (default: $VIRTUAL_ENV, else .venv/ or venv/ in the "
                        "workspace, else Jetbox's own)")
    p.add_argument("--known-failures", metavar="IDS",
                   help="comma-separated pytest ids known to fail; they do not block a finish")
    p.add_argument("--fresh", action="store_true",
                   help="start over: set an unfinished run aside (its ledger records stay)")
    p.add_argument("--state-dir", choices=(".", ".jetbox"),
                   help="where Jetbox keeps status.txt, agent_ledger.log and agent.log "
                        "(default: beside the code, or .jetbox/ when those names are taken)")
    p.add_argument("--trust-config", action="store_true",
                   help="accept machine.yaml or [tool.jetbox] changes made since the run "
                        "started (review them first)")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress output (warnings and errors still show)")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="every event as its own line, even on a terminal")


def version() -> str:
    """The installed distribution's version; the package's own when run from a checkout."""
    from importlib import metadata

    try:
        return metadata.version("jetbox")
    except metadata.PackageNotFoundError:
        from jetbox import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    from jetbox.core.errors import EXIT_CODES_HELP

    parser = argparse.ArgumentParser(prog="jetbox", description=DESCRIPTION,
                                     epilog=EXIT_CODES_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", "-V", action="version", version=f"jetbox {version()}",
                        help="print Jetbox's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _run_parser(sub)
    p = sub.add_parser("status", help="print status.txt and the last ledger entries",
                       description="Print the workspace's status and its last ledger entries.")
    p.add_argument("--workspace", "-w", metavar="DIR", help="folder (default: .)")
    p.add_argument("-n", type=int, default=8, metavar="N", help="ledger entries to show")
    p.add_argument("--machine", metavar="PATH", help="machine.yaml to report on")
    p = sub.add_parser("graph", help="draw the machine (Mermaid text, or dot/svg/png)",
                       description="Draw machine.yaml: Mermaid text by default (renders on "
                                   "GitHub, needs nothing); dot, svg and png through Graphviz. "
                                   "With --workspace, the state its status.txt names is "
                                   "highlighted and the states the run went through are marked.")
    p.add_argument("--machine", metavar="PATH", help="machine.yaml to draw")
    p.add_argument("--workspace", "-w", metavar="DIR",
                   help="a run's folder: mark its current state and path")
    p.add_argument("--format", "-f", choices=("mermaid", "dot", "svg", "png"), default="mermaid")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    for name, module_name in PLUGGED_COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.DESCRIPTION,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
    return parser


def main(argv: list[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage and 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(out)
        return EXIT_USAGE
    command = COMMANDS.get(args.command)
    if command is None:
        command = importlib.import_module(PLUGGED_COMMANDS[args.command]).command
    try:
        return command(args, out, err)
    except JetboxError as exc:
        err.write(f"jetbox: {for_terminal(exc)}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        err.write("jetbox: interrupted\n")
        return EXIT_INTERRUPTED
    except IsADirectoryError as exc:  # e.g. agent.log or status.txt made a folder
        err.write(f"jetbox: {exc.filename} is a folder where Jetbox keeps a file: move it "
                  f"away (e.g. rename it to {Path(str(exc.filename)).name}.bad) and run "
                  f"again\n")
        return EXIT_USAGE
    except OSError as exc:  # a file Jetbox needs (the lock, agent.log, ...) is not usable
        where = f" {exc.filename}" if exc.filename else ""
        err.write(f"jetbox: cannot use{where}: {exc.strerror or exc} (disk full, read-only or "
                  f"no permission?); fix that, then run again\n")
        return EXIT_ERROR
    except Exception as exc:  # a bug; a person still gets one line, not a traceback
        err.write(f"jetbox: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
                  f"(a bug in Jetbox: please report it with the command you ran)\n")
        return EXIT_ERROR


def _one_line(text: str) -> str:
    """Errors are one line on the terminal, whatever the exception's text held."""
    return " ".join(text.split())[:2000]


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from jetbox.engine.loop import RunRequest, execute, open_run, workspace_from
    from jetbox.store.lock import WorkspaceLock
    from jetbox.store.workspace import Workspace

    cli_settings = {"model": args.model, "host": args.host, "max_rounds": args.max_rounds,
                    "timebox_s": args.timebox_s, "sandbox": args.sandbox, "python": args.python,
                    "known_failures": args.known_failures}
    request = RunRequest(goal=args.goal, workspace=workspace_from(args.workspace),
                         machine=Path(args.machine) if args.machine else None,
                         fresh=args.fresh, cli_settings=cli_settings, quiet=args.quiet,
                         verbose=args.verbose, trust_config=args.trust_config,
                         state_dir=args.state_dir, ask=None if args.quiet else _terminal_ask(err))
    if not request.workspace.is_dir():
        raise UsageError(f"workspace {request.workspace} is not a folder")
    with WorkspaceLock(Workspace.at(request.workspace).lock_path) as lock:
        engine = open_run(request, os.environ, Path.cwd(), err)
        if lock.took_over:
            engine.run.ledger.append(LOCK_TAKEN_OVER, owner=lock.took_over)
            engine.run.display.event(lock.describe_takeover())
        return execute(engine)


def _terminal_ask(err: TextIO) -> Callable[[str], bool] | None:
    """A yes/no question on the terminal, or None when nobody is there to answer."""
    if not (sys.stdin.isatty() and err.isatty()):
        return None

    def ask(question: str) -> bool:
        err.write(f"jetbox: {for_terminal(question)} [y/N] ")
        err.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")
    return ask


def cmd_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from jetbox.engine.startup import describe_machine
    from jetbox.store.ledger import Ledger
    from jetbox.store.workspace import Workspace

    workspace = Workspace.at(Path(args.workspace or "."))
    if not workspace.status_path.exists():
        out.write(f"no {workspace.status_path.name} in {workspace.state_path}: no run yet\n")
    else:
        text = workspace.status_path.read_bytes().decode("utf-8", "surrogateescape")
        out.write(for_terminal(text, multiline=True))
    ledger = Ledger(workspace.ledger_path)
    machine = describe_machine(Path(args.machine) if args.machine else None, workspace.root,
                               Path.cwd(), ledger)
    out.write(f"\nmachine: {for_terminal(machine)}\n")
    opened = ledger.last([RUN_START, RESUME])
    if opened and opened.get("python"):
        out.write(f"python: {opened['python']}\n")
    records = ledger.records()
    if records:
        out.write(f"last {min(args.n, len(records))} of {len(records)} ledger entries:\n")
        for record in records[-args.n:]:
            out.write("  " + _ledger_line(record) + "\n")
    return 0


def _ledger_line(record: dict) -> str:
    skip = {"seq", "ts", "kind", "crc", "status_sha", "content", "thinking", "text", "status"}
    fields = ", ".join(f"{k}={str(v)[:60]}" for k, v in record.items() if k not in skip)
    return for_terminal(f"#{record['seq']} {record['kind']}: {fields}")


def cmd_graph(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from jetbox.commands.graph import render, run_path
    from jetbox.engine.startup import machine_file
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
        err.write(f"wrote {args.output} ({len(data)} bytes, {args.format})\n")
    else:
        out.write(data.decode("utf-8"))
    return 0


COMMANDS = {"run": cmd_run, "status": cmd_status, "graph": cmd_graph}

# Commands in modules of their own. Each module defines HELP, DESCRIPTION,
# add_arguments(parser) and command(args, out, err) -> int, and keeps heavy imports
# (the ollama client) inside functions so `jetbox --help` stays fast.
PLUGGED_COMMANDS: dict[str, str] = {"demo": "jetbox.commands.demo",
                                    "diag": "jetbox.commands.diag",
                                    "log": "jetbox.commands.log",
                                    "eval": "jetbox.commands.evaluate",
                                    "diff": "jetbox.commands.diff",
                                    "undo": "jetbox.commands.undo"}
