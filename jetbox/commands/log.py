"""`jetbox log`: the ledger as a readable timeline, not raw JSON."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from jetbox.core.text import for_terminal
from jetbox.round.context import describe_call
from jetbox.store import records as rec
from jetbox.store.ledger import parse_line
from jetbox.store.records import Record
from jetbox.store.workspace import Workspace

HELP = "show the ledger as a readable timeline"
DESCRIPTION = """\
Prints agent_ledger.log as a timeline: round, state, transitions, each tool call with its
result on one line, model timings and token counts, pauses and resumes."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-w", "--workspace", metavar="DIR", help="folder (default: .)")
    parser.add_argument("-n", type=int, default=0, metavar="N", help="only the last N lines")
    parser.add_argument("-f", "--follow", action="store_true",
                        help="keep printing new entries as they are written (Ctrl-C to stop)")


def _reply(r: Record) -> str:
    calls = ", ".join(c["name"] for c in r.get("calls", [])) or "no tool call"
    return (f"model: {calls}; {r.get('prompt_tokens', 0)} tokens in, "
            f"{r.get('output_tokens', 0)} out, {r.get('duration_s', 0):.1f} s "
            f"(first token {r.get('first_token_s', 0):.1f} s"
            + (f", sent as {r['delivery']}" if r.get("recovered") and r.get("delivery")
               else ", recovered from text" if r.get("recovered") else "") + ")")


def _tool_result(r: Record) -> str:
    verdict = "ok" if r.get("ok") else "declined" if r.get("declined") else \
        "refused" if r.get("refused") else "failed"
    first = str(r.get("output", "")).splitlines()[:1]
    return (f"{describe_call(r['name'], r.get('arguments'))} -> {verdict}"
            + (f": {first[0][:80]}" if first and verdict != "ok" else ""))


# One line per kind of record a timeline shows; the other kinds are noise in it.
LINES: dict[str, Callable[[Record], str]] = {
    rec.TRANSITION: lambda r: f"{r['source']} -> {r['dest']} ({r['outcome']})",
    rec.MODEL_REPLY: _reply,
    rec.TOOL_RESULT: _tool_result,
    rec.RUN_START: lambda r: f"run started: {r['goal']}",
    rec.RESUME: lambda r: f"resumed at {r['state']}, round {r['round']}",
    rec.PROBE: lambda r: ("probes (reused): " if r.get("reused") else "probes: ")
    + "; ".join(r.get("checks", [])),
    rec.FINISH_REFUSED: lambda r: "finish refused: " + "; ".join(r.get("reasons", [])),
    rec.REFLECTION: lambda r: f"status {r['status']}"
    + (f"; warning: {r['warning']}" if r.get("warning") else ""),
    rec.COMPACTION: lambda r: f"context compacted ({r['reason']}; {r['chars']} chars)",
    rec.APPROVAL: lambda r: f"approval mode: {r['mode']}",
    rec.QUESTION: lambda r: f"ASKED the person: {r['line']}",
    rec.ANSWER: lambda r: f"ANSWERED {r['answer']}" + (f": {r['reason']}" if r.get("reason")
                                                       else "") + f" (via {r['via']})",
    rec.PAUSED: lambda r: f"PAUSED: {r['reason']}",
    rec.INTERRUPTED: lambda r: "interrupted (Ctrl-C)",
    rec.ERROR: lambda r: f"ERROR: {r['error']}",
    rec.MODEL_UNAVAILABLE: lambda r: f"model unavailable: {r['error']}",
    rec.RUN_END: lambda r: f"DONE: {r.get('tests', '')}",
    rec.STATUS_REBUILT: lambda r: f"status.txt rebuilt from the ledger ({r['reason']})",
    rec.STATUS_DISAGREES: lambda r: f"status.txt said {r['status_state']}; the ledger's "
                                    f"{r['state']} wins",
    rec.STATUS_EDITED: lambda r: "status.txt was edited by a person",
    rec.RUN_SUPERSEDED: lambda r: f"previous run set aside ({r['reason']})",
    rec.LOCK_TAKEN_OVER: lambda r: f"took over a stale lock (pid {r['owner'].get('pid')})",
    rec.STRAYS_KILLED: lambda r: f"killed leftover processes {r['pids']}",
}


def describe(record: Record) -> str | None:
    """One line for a record, or None for records that are noise in a timeline (the
    caller escapes it: paths and commands in it come from the model)."""
    line = LINES.get(record["kind"])
    return None if line is None else line(record)


def timeline(records: Iterable[Record]) -> Iterator[str]:
    state = ""
    for record in records:
        entered = rec.entered_state(record)
        if entered == "":  # a new run
            state = ""
        text = describe(record)
        when = time.strftime("%H:%M:%S", time.localtime(record.get("ts", 0)))
        round_no = record.get("round")
        if text is not None:
            where = f"r{round_no}" if isinstance(round_no, int) else "  "
            yield for_terminal(f"{when} {where:>4} {state:<8} {text}")
        if entered:
            state = entered


def _read(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Whole new lines from `offset`; a line still being written is left for later."""
    if not path.exists():
        return [], offset
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    end = data.rfind(b"\n") + 1
    records = [r for r in (parse_line(line) for line in data[:end].splitlines()) if r]
    return records, offset + end


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    workspace = Workspace.at(Path(args.workspace or "."))
    records, offset = _read(workspace.ledger_path, 0)
    if not records and not args.follow:
        out.write(for_terminal(f"no ledger in {workspace.root}: no run yet") + "\n")
        return 0
    lines = list(timeline(records))
    out.write("".join(f"{line}\n" for line in (lines[-args.n:] if args.n else lines)))
    out.flush()
    while args.follow:
        time.sleep(0.3)
        new, offset = _read(workspace.ledger_path, offset)
        records += new
        for line in list(timeline(records))[len(lines):]:
            out.write(line + "\n")
            lines.append(line)
        out.flush()
    return 0
