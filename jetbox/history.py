"""`jetbox log`: the ledger as a readable timeline, not raw JSON."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from jetbox.context import describe_call
from jetbox.ledger import parse_line
from jetbox.text import for_terminal
from jetbox.workspace import Workspace

HELP = "show the ledger as a readable timeline"
DESCRIPTION = """\
Prints agent_ledger.log as a timeline: round, state, transitions, each tool call with its
result on one line, model timings and token counts, pauses and resumes."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", "-w", metavar="DIR", help="folder (default: .)")
    parser.add_argument("-n", type=int, default=0, metavar="N", help="only the last N lines")
    parser.add_argument("--follow", "-f", action="store_true",
                        help="keep printing new entries as they are written (Ctrl-C to stop)")


def describe(record: dict[str, Any]) -> str | None:
    """One line for a record, or None for records that are noise in a timeline (the
    caller escapes it: paths and commands in it come from the model)."""
    kind = record["kind"]
    if kind == "transition":
        return f"{record['source']} -> {record['dest']} ({record['outcome']})"
    if kind == "model_reply":
        calls = ", ".join(c["name"] for c in record.get("calls", [])) or "no tool call"
        return (f"model: {calls}; {record.get('prompt_tokens', 0)} tokens in, "
                f"{record.get('output_tokens', 0)} out, {record.get('duration_s', 0):.1f} s "
                f"(first token {record.get('first_token_s', 0):.1f} s"
                + (", recovered from text" if record.get("recovered") else "") + ")")
    if kind == "tool_result":
        verdict = "ok" if record.get("ok") else "refused" if record.get("refused") else "failed"
        first = str(record.get("output", "")).splitlines()[:1]
        return (f"{describe_call(record['name'], record.get('arguments'))} -> {verdict}"
                + (f": {first[0][:80]}" if first and verdict != "ok" else ""))
    simple = {
        "run_start": lambda r: f"run started: {r['goal']}",
        "resume": lambda r: f"resumed at {r['state']}, round {r['round']}",
        "probe": lambda r: ("probes (reused): " if r.get("reused") else "probes: ")
        + "; ".join(r.get("checks", [])),
        "finish_refused": lambda r: "finish refused: " + "; ".join(r.get("reasons", [])),
        "reflection": lambda r: f"status {r['status']}"
        + (f"; warning: {r['warning']}" if r.get("warning") else ""),
        "compaction": lambda r: f"context compacted ({r['reason']}; {r['chars']} chars)",
        "paused": lambda r: f"PAUSED: {r['reason']}",
        "interrupted": lambda r: "interrupted (Ctrl-C)",
        "error": lambda r: f"ERROR: {r['error']}",
        "model_unavailable": lambda r: f"model unavailable: {r['error']}",
        "run_end": lambda r: f"DONE: {r.get('tests', '')}",
        "status_rebuilt": lambda r: f"status.txt rebuilt from the ledger ({r['reason']})",
        "status_disagrees": lambda r: f"status.txt said {r['status_state']}; the ledger's "
                                      f"{r['state']} wins",
        "status_edited": lambda r: "status.txt was edited by a person",
        "run_superseded": lambda r: f"previous run set aside ({r['reason']})",
        "lock_taken_over": lambda r: f"took over a stale lock (pid {r['owner'].get('pid')})",
        "strays_killed": lambda r: f"killed leftover processes {r['pids']}",
    }
    return simple[kind](record) if kind in simple else None


def timeline(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    state = ""
    for record in records:
        if record["kind"] == "run_start":
            state = ""
        text = describe(record)
        when = time.strftime("%H:%M:%S", time.localtime(record.get("ts", 0)))
        round_no = record.get("round")
        if text is not None:
            where = f"r{round_no}" if isinstance(round_no, int) else "  "
            yield for_terminal(f"{when} {where:>4} {state:<8} {text}")
        if record["kind"] == "transition":
            state = record["dest"]
        elif record["kind"] in ("resume",):
            state = record["state"]


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
        out.write(f"no ledger in {workspace.root}: no run yet\n")
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
