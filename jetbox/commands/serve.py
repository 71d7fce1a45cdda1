"""`jetbox serve`: Jetbox's offline Ollama-compatible server in the foreground, playing a
script the person chooses, until Ctrl-C."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from jetbox.offline.script import Responder

HELP = "run the offline Ollama-compatible server (a scripted model) until Ctrl-C"
DESCRIPTION = """\
Serves Ollama's API (chat, generate, embed, pull, show, tags, ps, version) on this machine
with a scripted model instead of a real one, until Ctrl-C. Point `jetbox run --host` (or any
Ollama client, through OLLAMA_HOST) at it.

scripts:
  mathx          solves the demo goal (a package mathx with add and its tests) in the
                 workspace, deciding from the files on disk; survives kills and resumes
  chat           a polite model for any client: calls the first tool it is offered, else
                 echoes the question; `format` (json or a JSON schema) is honoured
  --replay PATH  the model replies a recorded run's agent_ledger.log holds, in order: re-run
                 yesterday's run against an edited machine.yaml"""
SCRIPTS = ("mathx", "chat")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-H", "--host", metavar="HOST[:PORT]", default="127.0.0.1:11434",
                        help="address to listen on; port 0 picks a free one "
                             "(default: %(default)s, Ollama's own)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-s", "--script", choices=SCRIPTS, default="mathx",
                       help="what the model does (default: %(default)s)")
    group.add_argument("-r", "--replay", metavar="PATH",
                       help="replay the model replies of a run's ledger (the file or the "
                            "run's folder)")
    parser.add_argument("-w", "--workspace", metavar="DIR",
                        help="the folder the mathx script reads (default: .)")
    parser.add_argument("-m", "--model", action="append", metavar="NAME",
                        help="a model name to offer; repeat for more (default: gpt-oss:20b)")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from jetbox.core.errors import UsageError
    from jetbox.model.host import parse_host
    from jetbox.offline import FakeModel, OfflineOllama

    address = parse_host(args.host)
    responder, what = _script(args)
    models = [FakeModel(name) for name in args.model or ["gpt-oss:20b"]]
    server = OfflineOllama(responder, models, address=(address.name, address.port))
    try:
        server.start()
    except OSError as exc:
        raise UsageError(f"cannot listen on {address.name}:{address.port}: {exc.strerror or exc}"
                         f" (is Ollama already running there? choose another with "
                         f"--host 127.0.0.1:PORT)") from None
    out.write(f"jetbox serve: an offline Ollama at {server.host}\n"
              f"  model{'s' if len(models) > 1 else ''}: {', '.join(m.name for m in models)}, "
              f"playing {what}\n"
              f"  point Jetbox at it:  jetbox run \"GOAL\" --host {server.host}\n"
              f"  other clients:       OLLAMA_HOST={server.host}\n"
              f"  Ctrl-C stops it\n")
    out.flush()
    try:
        while True:  # until Ctrl-C; a sleep, because Windows delivers Ctrl-C to it at once
            time.sleep(0.5)
    except KeyboardInterrupt:
        out.write(f"\njetbox serve: stopped after {len(server.requests)} chat requests\n")
    finally:
        server.stop()
    return 0


def _script(args: argparse.Namespace) -> tuple[Responder, str]:
    from jetbox.offline.replay import Conversation, ledger_turns
    from jetbox.offline.script import ScriptResponder
    from jetbox.offline.solvers import MathxSolver

    if args.replay:
        turns = ledger_turns(Path(args.replay))
        return ScriptResponder(turns), f"the {len(turns)} replies recorded in {args.replay}"
    if args.script == "chat":
        return Conversation(), "the chat script"
    workspace = Path(args.workspace or ".").resolve()
    return MathxSolver(workspace), f"the mathx solver on {workspace}"
