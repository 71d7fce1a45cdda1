"""The model's context, rebuilt each round from real state: never a growing history."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jetbox.run import Run

SYSTEM_PROMPT = """\
You are Jetbox, a careful coding agent working inside one project folder.
Each turn you see the goal, the current status, a recap of what was already done, \
the plan, fresh probe results (files, ruff, pytest) and the results of your last tool calls.
Act by calling tools; paths are relative to the project folder.
- list_dir{path}, read_file{path}: look before you change things.
- write_file{path, content}: write the whole file.
- run_cmd{cmd}: run python, pytest, ruff or pip as an argument list, e.g. ["pytest", "-q"].
- finish{summary}: only when the goal is met, ruff is clean and pytest passes; \
Jetbox checks this and refuses an early finish.
Keep code small, typed where natural, and ruff-clean. Do not repeat a call that already \
succeeded."""

MAX_RESULT_CHARS = 2000
RECAP_ITEMS = 8


def describe_call(name: str, arguments: Any) -> str:
    """A short human line for a tool call."""
    if isinstance(arguments, dict):
        if name in ("read_file", "write_file", "list_dir"):
            return f"{name} {arguments.get('path', '?')}"
        if name == "run_cmd":
            cmd = arguments.get("cmd")
            return "run " + (" ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd))
    return f"{name} {json.dumps(arguments, ensure_ascii=False)[:80]}"


def recap(run: Run) -> list[str]:
    """What was done this run, deduplicated into a checklist (newest last)."""
    items: dict[str, None] = {}
    for record in run.ledger.current_run():
        if record["kind"] == "tool_result" and record.get("name") != "finish":
            verdict = "ok" if record.get("ok") else "failed"
            line = f"{describe_call(record['name'], record.get('arguments'))} ({verdict})"
            items.pop(line, None)
            items[line] = None
    return list(items)[-RECAP_ITEMS:]


def last_results(run: Run) -> list[dict[str, Any]]:
    """The tool results of the latest model reply, read back from the ledger."""
    records = run.ledger.current_run()
    out: list[dict[str, Any]] = []
    for record in reversed(records):
        if record["kind"] == "model_reply":
            break
        if record["kind"] == "tool_result":
            out.append(record)
    return list(reversed(out))


def finish_refusal(run: Run) -> str | None:
    record = run.ledger.last(["finish_refused", "model_reply"])
    if record and record["kind"] == "finish_refused":
        return "; ".join(record.get("reasons", []))
    return None


def state_text(run: Run) -> str:
    status = run.status
    parts = [f"Goal: {status.goal}", f"Status: {status.status}", f"Round: {status.round}"]
    parts += [f"Note: {note}" for note in status.notes[-3:]]
    done = recap(run)
    parts.append("Done so far:\n" + ("\n".join(f"- {item}" for item in done) or "- nothing yet"))
    parts.append("Plan:\n" + ("\n".join(f"- {step}" for step in status.next) or "- (none)"))
    parts.append("Probes:\n" + run.probe_report().summary_text())
    results = last_results(run)
    if results:
        lines = [f"- {describe_call(r['name'], r.get('arguments'))} -> "
                 f"{str(r.get('output', ''))[:MAX_RESULT_CHARS]}" for r in results]
        parts.append("Results of your last calls:\n" + "\n".join(lines))
    refusal = finish_refusal(run)
    if refusal:
        parts.append(f"Your finish was refused: {refusal}. Fix that first.")
    return "\n\n".join(parts)


def build_messages(run: Run) -> list[dict[str, Any]]:
    """system prompt + one user message holding the compacted state."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": state_text(run)},
    ]
