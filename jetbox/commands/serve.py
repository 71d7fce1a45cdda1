"""`jetbox serve`: Jetbox's offline Ollama-compatible server in the foreground, playing a
script the person chooses, until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from jetbox.model.host import Host
    from jetbox.offline.script import Responder

HELP = "run the offline Ollama-compatible server (a scripted model) until Ctrl-C"
DESCRIPTION = """\
Serves Ollama's API (chat, generate, embed, pull, show, tags, ps, version, delete, and the
OpenAI-compatible /v1 routes) on this machine with a scripted model instead of a real one,
until Ctrl-C. Point `jetbox run --host` (or any Ollama client, through OLLAMA_HOST) at it.

It listens on 127.0.0.1:11435, next to Ollama's 11434, so a forgotten `jetbox serve` never
stands in for a real Ollama; OLLAMA_HOST chooses the address as it does for `ollama serve`,
and --host/--port win over it. A port something already answers on is refused.

scripts:
  mathx          solves the demo goal (a package mathx with add and its tests) in the
                 workspace, deciding from the files on disk; survives kills and resumes
  chat           a polite model for any client: calls the first tool it is offered, else
                 echoes the question; `format` (json or a JSON schema) is honoured. With
                 Jetbox on any project: reads the project's folder, then finishes
  FILE.yaml      the turns a YAML file scripts, one model reply each, in order, e.g.
                   - calls: [{read_file: {path: README.md}}]
                   - calls: [{finish: {summary: read the README}}]
  --replay PATH  the model replies a recorded run's agent_ledger.log holds, in order: re-run
                 yesterday's run against an edited machine.yaml, or on another project"""
SCRIPTS = ("mathx", "chat")
# Not Ollama's 11434: a person who forgets this server is running keeps their real Ollama.
DEFAULT_PORT = 11435


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-H", "--host", metavar="HOST[:PORT]",
                        help=f"address to listen on; port 0 picks a free one (default: "
                             f"$OLLAMA_HOST as `ollama serve` reads it, else "
                             f"127.0.0.1:{DEFAULT_PORT}; a missing port is {DEFAULT_PORT})")
    parser.add_argument("-p", "--port", type=int, metavar="PORT",
                        help="port to listen on, over the one --host or OLLAMA_HOST gives")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-s", "--script", metavar="mathx|chat|FILE.yaml", default="mathx",
                       help="what the model does: a built-in script, or a YAML file of "
                            "turns (default: %(default)s)")
    group.add_argument("-r", "--replay", metavar="PATH",
                       help="replay the model replies of a run's ledger (the file or the "
                            "run's folder)")
    parser.add_argument("-w", "--workspace", metavar="DIR",
                        help="the folder the mathx script reads (default: .)")
    parser.add_argument("-m", "--model", action="append", metavar="NAME",
                        help="a model name to offer; repeat for more (default: gpt-oss:20b)")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from jetbox.core.errors import UsageError
    from jetbox.offline import FakeModel, OfflineOllama

    address = listen_address(args.host, args.port, os.environ.get("OLLAMA_HOST"))
    responder, what = _script(args)
    models = [FakeModel(name) for name in args.model or ["gpt-oss:20b"]]
    taken = who_answers(address)
    if taken:
        raise UsageError(f"cannot listen on {address.name}:{address.port}: {taken} answers "
                         f"there already; choose another port with --port PORT (or --host "
                         f"HOST:PORT)")
    server = OfflineOllama(responder, models, address=(address.name, address.port))
    try:
        server.start()
    except OSError as exc:
        raise UsageError(f"cannot listen on {address.name}:{address.port}: {exc.strerror or exc}"
                         f" (is Ollama already running there? choose another port with "
                         f"--port PORT)") from None
    out.write(f"jetbox serve: Jetbox offline server at {server.host}, speaking Ollama's API "
              f"(not a real Ollama)\n"
              f"  model{'s' if len(models) > 1 else ''}: {', '.join(m.name for m in models)}, "
              f"playing {what}\n"
              f"  point Jetbox at it:  jetbox run \"GOAL\" --host {server.host}\n"
              f"  other clients:       OLLAMA_HOST={server.host}\n"
              f"  OpenAI clients:      base_url={server.host}/v1\n"
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


def listen_address(host: str | None, port: int | None, env: str | None) -> Host:
    """Where to listen: --host, else OLLAMA_HOST (as `ollama serve` reads it), else
    127.0.0.1; the port written there, else 11435; --port over both."""
    from jetbox.model.host import parse_host

    address = parse_host(host or env, default_port=DEFAULT_PORT)
    if port is not None:
        if not 0 <= port <= 65535:
            from jetbox.core.errors import UsageError

            raise UsageError(f"--port {port}: give a number from 0 to 65535")
        address = replace(address, port=port)
    return address


def who_answers(address: Host) -> str:
    """What already listens at the address ("" for nothing): a server that binds the same
    port on another interface (Ollama on 0.0.0.0, or macOS, where a second bind succeeds)
    would otherwise go unnoticed, and half the requests would reach each."""
    if address.port == 0:
        return ""
    try:
        with socket.create_connection((address.connect_name, address.port), timeout=1):
            pass
    except OSError:
        return ""
    import httpx

    try:
        reply = httpx.get(f"{address.url}/api/version", timeout=2)
        version = reply.json().get("version")
    except (httpx.HTTPError, ValueError, AttributeError):
        return "another program"
    if "jetbox" in reply.headers.get("server", "").lower():
        return "another Jetbox offline server"
    return f"Ollama {version}" if version else "another program"


def _script(args: argparse.Namespace) -> tuple[Responder, str]:
    from jetbox.core.errors import UsageError
    from jetbox.offline.replay import ChatScript, ledger_turns, script_file_turns
    from jetbox.offline.script import ScriptResponder
    from jetbox.offline.solvers import MathxSolver

    if args.replay:
        turns = ledger_turns(Path(args.replay))
        return ScriptResponder(turns), f"the {len(turns)} replies recorded in {args.replay}"
    if args.script not in SCRIPTS:
        path = Path(args.script)
        if not path.is_file():
            raise UsageError(f"--script {args.script}: give {', '.join(SCRIPTS)} or a YAML "
                             f"file of turns")
        turns = script_file_turns(path)
        return ScriptResponder(turns), f"the {len(turns)} turns scripted in {path}"
    if args.script == "chat":
        return ChatScript(), "the chat script"
    workspace = Path(args.workspace or ".").resolve()
    return MathxSolver(workspace), f"the mathx solver on {workspace}"
