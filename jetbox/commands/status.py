"""`jetbox status`: status.txt, the machine file in use, and the ledger's last events."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from jetbox.commands.log import timeline
from jetbox.core.text import counted, for_terminal
from jetbox.engine.start import describe_machine
from jetbox.round.asking import waiting_question
from jetbox.store.kinds import Resume, RunStart
from jetbox.store.ledger import Ledger
from jetbox.store.queries import RESUME, RUN_START
from jetbox.store.root import chosen_workspace
from jetbox.store.workspace import Workspace

HELP = "print status.txt and the last events of the ledger"
DESCRIPTION = """\
Print the workspace's status.txt, the machine file its run uses, the project's Python and
the last events of the ledger, in the lines `jetbox log` prints."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-w", "--workspace", metavar="DIR",
                        help="the run's folder (default: the project the current folder is in)")
    parser.add_argument("-n", type=int, default=8, metavar="N",
                        help="last events of the ledger to show (as `jetbox log`)")
    parser.add_argument("--machine", metavar="PATH", help="machine.yaml to report on")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    workspace = Workspace.at(chosen_workspace(args.workspace)[0])
    if not workspace.status_path.exists():
        out.write(for_terminal(f"no {workspace.status_path.name} in {workspace.state_path}: "
                               f"no run yet") + "\n")
    else:
        text = workspace.status_path.read_bytes().decode("utf-8", "surrogateescape")
        out.write(for_terminal(text, multiline=True))
    ledger = Ledger(workspace.ledger_path)
    machine = describe_machine(Path(args.machine) if args.machine else None, workspace.root,
                               Path.cwd(), ledger)
    out.write(f"\nmachine: {for_terminal(machine)}\n")
    opened = ledger.last([RUN_START, RESUME])
    if isinstance(opened, RunStart | Resume) and opened.python:
        out.write(for_terminal(f"python: {opened.python}") + "\n")
    out.write(waiting_question(workspace.root, ledger.current_run()))  # whole, not cut
    # The same readable lines as `jetbox log`, never raw records cut mid-string.
    lines = list(timeline(ledger.records())) if args.n > 0 else []
    if lines:
        shown = lines[-args.n:]
        out.write(f"last {counted(len(shown), 'event')} of {len(lines)} "
                  f"(`jetbox log` shows them all):\n")
        out.write("".join(f"  {line}\n" for line in shown))
    return 0
