"""`jetbox demo`: Jetbox solving the seed's goal offline, killed and resumed on the way."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TextIO

HELP = "watch Jetbox solve a goal with no Ollama: killed once, resumed"
DESCRIPTION = """\
Starts Jetbox's offline Ollama server with a scripted model that solves the seed's mathx
goal, runs the real machine in a fresh temporary folder, kills it (kill -9) before it asks
the model in round 2, resumes it, and shows where its status.txt, ledger and log are."""
GOAL = "Create a package mathx with add(a, b), add tests, then make ruff and pytest pass."
# The model's name as the run reports it ("... replied in 0.1 s"): a script, said plainly.
MODEL = "scripted model (offline demo)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-w", "--workspace", metavar="DIR",
                        help="folder to use (default: a new temporary folder)")


def _jetbox(argv: list[str], workspace: Path, host: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jetbox", "run", *argv, "-w", str(workspace),
                             "--host", host, "--model", MODEL], cwd=workspace, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                            errors="replace")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from jetbox.offline import FakeModel, OfflineOllama
    from jetbox.offline.solvers import MathxSolver

    workspace = Path(args.workspace or tempfile.mkdtemp(prefix="jetbox-demo-")).resolve()
    workspace.mkdir(parents=True, exist_ok=True)
    source = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": source + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with OfflineOllama(MathxSolver(workspace), [FakeModel(MODEL)]) as server:
        out.write(f"== Jetbox demo in {workspace}\n== no real model: Jetbox's offline Ollama "
                  f"at {server.host} plays a script that knows how to solve:\n   {GOAL}\n\n")
        first = _jetbox([GOAL], workspace, server.host,
                        {**env, "JETBOX_FAILPOINT": "hold:before:Ask#2"})
        assert first.stdout is not None  # progress and summary, in the order written
        for line in first.stdout:
            if line.startswith("[failpoint]"):
                break
            out.write("   " + line)
        out.flush()
        first.kill()  # SIGKILL on POSIX, TerminateProcess on Windows: no cleanup runs
        first.wait()
        state = next((ln for ln in (workspace / "status.txt").read_text().splitlines()
                      if ln.startswith(("State:", "Round:"))), "")
        out.write(f"\n== killed Jetbox (kill -9) just before it asked the model in round 2; "
                  f"status.txt says {state}\n== running it again, with no goal: it resumes\n\n")
        second = _jetbox([], workspace, server.host, env)
        assert second.stdout is not None
        for line in second.stdout:
            out.write("   " + line)
        code = second.wait()
    out.write(f"\n== exit code {code}. What it left in {workspace}:\n"
              f"   status.txt        the state to resume from (read it, edit Next:/Notes:)\n"
              f"   agent_ledger.log  every transition, model reply, write and command\n"
              f"   agent.log         the human-readable log\n"
              f"   try: python -m jetbox status -w {workspace}\n")
    return code
