"""`jetbox log`: the ledger as a readable timeline, not raw JSON."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from jetbox.core.text import for_terminal
from jetbox.round.context import describe_call
from jetbox.store import kinds, queries
from jetbox.store.history import left_by_undo, run_changes, run_records, runs, undone
from jetbox.store.kinds import Record
from jetbox.store.ledger import read_from
from jetbox.store.root import chosen_workspace
from jetbox.store.workspace import Workspace

HELP = "show the ledger as a readable timeline"
DESCRIPTION = """\
Prints agent_ledger.log as a timeline: round, state, transitions, each tool call with its
result on one line, model timings and token counts, pauses and resumes."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-w", "--workspace", metavar="DIR",
                        help="the run's folder (default: the project the current folder is in)")
    parser.add_argument("-n", type=int, default=0, metavar="N", help="only the last N lines")
    parser.add_argument("--transitions", action="store_true",
                        help="also a line for each transition of the machine (six a round)")
    parser.add_argument("--runs", action="store_true",
                        help="list the runs in the folder, newest first, numbered as "
                             "`jetbox diff --run N` and `jetbox undo --run N` take them")
    parser.add_argument("-f", "--follow", action="store_true",
                        help="keep printing new entries as they are written (Ctrl-C to stop)")


def _reply(r: kinds.ModelReply) -> str:
    calls = ", ".join(call.name for call in r.calls) or "no tool call"
    return (f"model: {calls}; {r.prompt_tokens} tokens in, "
            f"{r.output_tokens} out, {r.duration_s:.1f} s "
            f"(first token {r.first_token_s:.1f} s"
            + (f", sent as {r.delivery}" if r.recovered and r.delivery
               else ", recovered from text" if r.recovered else "") + ")")


def _tool_result(r: kinds.ToolResult) -> str:
    first = str(r.output).splitlines()[:1]
    return (f"{describe_call(r.name, r.arguments)} -> {r.outcome}"
            + (f": {first[0][:80]}" if first and not r.ok else ""))


def _owner(r: kinds.LockTakenOver) -> object:
    return r.owner.get("pid") if isinstance(r.owner, dict) else None


# One line per kind of record a timeline shows; the other kinds are noise in it.
LINES: dict[type[Record], Callable[[Any], str]] = {
    kinds.Transition: lambda r: f"{r.source} -> {r.dest} ({r.outcome})",
    kinds.ModelReply: _reply,
    kinds.ToolResult: _tool_result,
    kinds.RunStart: lambda r: f"run started: {r.goal}",
    kinds.Resume: lambda r: f"resumed at {r.state}, round {r.round}" + (
        f" (it stood at {r.instead_of}: the round again from its start)" if r.instead_of else ""),
    kinds.Probed: lambda r: ("probes (reused): " if r.reused else "probes: ") + "; ".join(r.checks),
    kinds.FinishRefused: lambda r: "finish refused: " + "; ".join(r.reasons),
    kinds.Reflection: lambda r: f"status {r.status}"
    + (f"; warning: {r.warning}" if r.warning else ""),
    kinds.Compaction: lambda r: f"context compacted ({r.reason}; {r.chars} chars)",
    kinds.ApprovalMode: lambda r: f"approval mode: {r.mode}"
    + (f" (never asked: {'; '.join(r.skip)})" if r.skip else ""),
    kinds.Question: lambda r: f"ASKED the person{f' [{r.qid}]' if r.qid else ''}: {r.line}",
    kinds.Answered: lambda r: f"ANSWERED{f' [{r.qid}]' if r.qid else ''} {r.answer}"
    + (f": {r.reason}" if r.reason else "")
    + f" (via {r.via})",
    kinds.Paused: lambda r: f"PAUSED: {r.reason}",
    kinds.Interrupted: lambda r: f"interrupted ({r.by or 'Ctrl-C'})",
    kinds.Error: lambda r: f"ERROR: {r.error}",
    kinds.ModelUnavailable: lambda r: f"model unavailable: {r.error}",
    kinds.RunEnd: lambda r: f"DONE: {r.tests}",
    kinds.StatusRebuilt: lambda r: f"status.txt rebuilt from the ledger ({r.reason})",
    kinds.StatusDisagrees: lambda r: f"status.txt said {r.status_state}; the ledger's "
                                 f"{r.state} wins",
    kinds.StatusEdited: lambda r: "status.txt was edited by a person",
    kinds.RunSuperseded: lambda r: f"previous run set aside ({r.reason})",
    kinds.LockTakenOver: lambda r: f"took over a stale lock (pid {_owner(r)})",
    kinds.RunUndone: lambda r: f"undone: {r.restored} path(s) restored"
    + (f", not restored: {', '.join(r.left)}" if r.left else ""),
    kinds.StraysKilled: lambda r: f"killed leftover processes {r.pids}",
}


def describe(record: Record) -> str | None:
    """One line for a record, or None for records that are noise in a timeline (the
    caller escapes it: paths and commands in it come from the model)."""
    line = LINES.get(type(record))
    return None if line is None else line(record)


def timeline(records: Iterable[Record], transitions: bool = False) -> Iterator[str]:
    """One line per event. A round takes six transitions, which the state column already
    shows: they are lines of their own only with `transitions`."""
    state = ""
    for record in records:
        entered = queries.entered_state(record)
        if entered == "":  # a new run
            state = ""
        text = describe(record) if transitions or not isinstance(record, kinds.Transition) \
            else None
        when = time.strftime("%H:%M:%S", time.localtime(record.ts))
        round_no = queries.round_of(record)
        if text is not None:
            where = f"r{round_no}" if isinstance(round_no, int) else "  "
            yield for_terminal(f"{when} {where:>4} {state:<8} {text}")
        if entered:
            state = entered


def run_lines(records: list[Record]) -> Iterator[str]:
    """One line per run, newest first: its number, start, goal, files changed, and whether
    it was undone (a set-aside run is listed like any other: it can be diffed and undone)."""
    every = runs(records)
    for number in range(len(every), 0, -1):
        own = run_records(records, number)
        start = own[0]
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(start.ts))
        goal = start.goal if isinstance(start, kinds.RunStart) else ""
        state = "undone" if undone(own) and not left_by_undo(own) else \
            "partly undone" if undone(own) else "ended" if queries.last(own, queries.RUN_END) else \
            "set aside" if number < len(every) else "current"
        yield for_terminal(f"{number:>3}  {when}  {len(run_changes(own))} file(s)  "
                           f"{state:<13}  {goal}")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    workspace = Workspace.at(chosen_workspace(args.workspace)[0])
    records, offset = read_from(workspace.ledger_path, 0)
    if not records and not args.follow:
        out.write(for_terminal(f"no ledger in {workspace.root}: no run yet") + "\n")
        return 0
    if getattr(args, "runs", False):
        out.write("".join(f"{line}\n" for line in run_lines(records)))
        return 0
    lines = list(timeline(records, args.transitions))
    out.write("".join(f"{line}\n" for line in (lines[-args.n:] if args.n else lines)))
    out.flush()
    # `--follow | head`: once the reader is gone, following has no one to show lines to.
    while args.follow and not getattr(out, "reader_gone", False):
        time.sleep(0.3)
        new, offset = read_from(workspace.ledger_path, offset)
        records += new
        for line in list(timeline(records, args.transitions))[len(lines):]:
            out.write(line + "\n")
            lines.append(line)
        out.flush()
    return 0
