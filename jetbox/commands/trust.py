"""`jetbox trust`: accept what a folder brings (settings that weaken safety or redirect
traffic, its own machine.yaml and handler code), remembered outside the folder."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TextIO

from jetbox.core.text import for_terminal

HELP = "trust a folder's own Jetbox settings, machine.yaml and handler code (once per change)"
DESCRIPTION = """\
A folder whose [tool.jetbox] sets sandbox, pass_env, approve, approve_skip, host or python,
or that brings its own machine.yaml or handler modules, is obeyed only once you trust it.
This shows what the folder brings and records your acceptance in your own configuration
folder ($JETBOX_CONFIG_DIR, else $XDG_CONFIG_HOME/jetbox or ~/.config/jetbox; %APPDATA%\\jetbox
on Windows), keyed by the folder and the sha256 of what you accepted: a change asks again."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-w", "--workspace", metavar="DIR",
                   help="folder to trust (default: the project the current folder is in, as "
                        "run finds it)")
    p.add_argument("--machine", metavar="PATH",
                   help="the machine.yaml the run will be given (default: the usual search)")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from jetbox.engine.start import require_folder, workspace_from
    from jetbox.engine.trust import describe_findings, folder_findings, is_trusted, remember_trust
    from jetbox.spec.machine import load_machine
    from jetbox.spec.runtime import find_machine_file

    workspace, _why = workspace_from(args.workspace)  # the folder `run` would work in
    require_folder(workspace)
    explicit = Path(args.machine) if args.machine else None
    spec = load_machine(find_machine_file(explicit, workspace, Path.cwd()))
    findings = folder_findings(spec, workspace, explicit)
    where = workspace.resolve()
    if not findings:
        out.write(for_terminal(f"{where} brings nothing that needs trust") + "\n")
        return 0
    lines = describe_findings(findings)
    if is_trusted(workspace, findings, os.environ):
        out.write(for_terminal(f"{where} is trusted already, with:") + "\n")
    else:
        path = remember_trust(workspace, findings, os.environ)
        out.write(for_terminal(f"trusted {where} (recorded in {path}), with:") + "\n")
    for line in lines:
        out.write("  " + for_terminal(line) + "\n")
    return 0
