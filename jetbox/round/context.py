"""The model's context, cache-aware: a stable prefix, the compacted state, then the rounds since.

Ollama reuses its prompt cache for the longest unchanged prefix of a request, so rounds
are appended to the previous request; only a compaction rebuilds the part after the
stable prefix. Everything is rebuilt from real state (probes, status, ledger) on resume.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from jetbox.core.errors import ConfigError
from jetbox.probes.verdict import explain
from jetbox.store import records as rec

if TYPE_CHECKING:
    from jetbox.model.base import Reply
    from jetbox.round.run import Round, Run
    from jetbox.tools.toolbox import ToolResult

SYSTEM_PROMPT = """\
You are Jetbox, a careful coding agent working inside one project folder.
You see the goal, then the state of the work (status, what was done, the plan, fresh probe \
results from ruff and pytest), then each round your tool calls, their results and what changed.
Act by calling tools; paths are relative to the project folder. Tools, with an example each:
- search{pattern, path?}: find code by regular expression. {"pattern": "def parse_date"}
- read_file{path, start_line?, end_line?}: numbered lines. \
{"path": "pkg/core.py", "start_line": 90, "end_line": 140}
- edit_file{path, old, new}: replace one exact, unique passage (copy `old` from read_file, \
without the numbers). {"path": "pkg/core.py", "old": "    return a - b", "new": "    return a + b"}
- write_file{path, content}: create a new file with its whole content.
- list_dir{path}: see a folder. {"path": "."}
- run_cmd{cmd}: python, pytest, ruff or pip, as a list. \
{"cmd": ["pytest", "-q", "tests/test_core.py"]}
- finish{summary}: when the goal is met. Jetbox checks ruff and pytest against where the run \
started and refuses an early finish.
Search, then read only the lines you need, then edit; never rewrite a whole existing file. \
Lint findings marked pre-existing are not yours: leave unrelated code alone. \
Never repeat a call that already succeeded."""

RECAP_ITEMS = 8


@dataclass(frozen=True)
class CompactionPolicy:
    """machine.yaml `compaction:`: when the rounds since the last compaction are folded."""

    history_keep: int = 8           # rounds of exchanges kept before compacting
    budget_share: float = 0.6       # share of num_ctx one request may use
    chars_per_token: float = 3.0    # conservative size estimate (code is ~3-4 chars/token)
    max_result_chars: int = 1500    # an older tool result as kept in the exchanges
    max_state_chars: int = 3000     # the compacted state message, without the latest results
    latest_share: float = 0.5       # share of the budget the latest round's results keep whole

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> CompactionPolicy:
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in (data or {}).items():
            if key not in known:
                raise ConfigError(f"machine.yaml: compaction: unknown key `{key}`; known: "
                                  f"{', '.join(known)}")
            try:
                values[key] = type(known[key].default)(value)
            except (TypeError, ValueError):
                raise ConfigError(f"machine.yaml: compaction: `{key}` has a bad value "
                                  f"{value!r}") from None
        return cls(**values)

    def budget_chars(self, num_ctx: int) -> int:
        return int(num_ctx * self.budget_share * self.chars_per_token)

    def latest_chars(self, num_ctx: int) -> int:
        """What the latest round's results may use, whole: the tools' outputs fit in it."""
        return max(self.max_result_chars, int(self.budget_chars(num_ctx) * self.latest_share))


@dataclass(frozen=True)
class Conversation:
    """The request being built up: prefix + compacted state + exchanges since. A value:
    each change returns a new one, which the round carries."""

    prefix: tuple[dict[str, Any], ...]
    state: dict[str, Any]
    exchanges: tuple[dict[str, Any], ...] = ()
    rounds: int = 0  # exchanges appended since the last compaction
    shown: Mapping[str, str] = field(default_factory=dict)  # what the model last saw, by topic
    latest: tuple[int, ...] = ()  # exchanges holding the latest results

    def messages(self) -> list[dict[str, Any]]:
        return [*self.prefix, self.state, *self.exchanges]

    def with_round(self, messages: Sequence[dict[str, Any]], fold_chars: int) -> Conversation:
        """A round appended; the round before it is folded to fold_chars per result, so only
        the newest results are whole (the model has acted on the older ones)."""
        exchanges = list(self.exchanges)
        for index in self.latest:
            message = exchanges[index]
            exchanges[index] = {**message, "content": fold(message["content"], fold_chars)}
        start = len(exchanges)
        exchanges.extend(messages)
        latest = tuple(start + i for i, m in enumerate(messages) if m.get("role") == "tool")
        return replace(self, exchanges=tuple(exchanges), latest=latest, rounds=self.rounds + 1)

    def with_note(self, found: Mapping[str, str]) -> Conversation:
        """A note appended with what changed since the model last saw it, if anything did."""
        changed = [text for topic, text in found.items() if self.shown.get(topic) != text]
        note = ({"role": "user", "content": "\n\n".join(changed)},) if changed else ()
        return replace(self, exchanges=(*self.exchanges, *note), shown=dict(found))


def request_chars(messages: Sequence[Mapping[str, Any]], tools: Sequence[Any]) -> int:
    return len(json.dumps({"tools": list(tools), "messages": list(messages)}, ensure_ascii=False))


def prefix_messages(goal: str) -> tuple[dict[str, Any], ...]:
    """The stable prefix: never changes within a run, so Ollama's cache always hits it."""
    return ({"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Goal: {goal}"})


def describe_call(name: str, arguments: Any) -> str:
    """A short human line for a tool call."""
    if isinstance(arguments, dict):
        if name == "read_file" and "start_line" in arguments:
            return (f"read_file {arguments.get('path', '?')} lines "
                    f"{arguments.get('start_line')}-{arguments.get('end_line', 'end')}")
        if name in ("read_file", "write_file", "list_dir", "edit_file"):
            return f"{name} {arguments.get('path', '?')}"
        if name == "search":
            return f"search {arguments.get('pattern', '?')!r} in {arguments.get('path', '.')}"
        if name == "run_cmd":
            cmd = arguments.get("cmd")
            return "run " + (" ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd))
    return f"{name} {json.dumps(arguments, ensure_ascii=False)[:80]}"


def recap(records: rec.Records) -> list[str]:
    """What was done this run, deduplicated into a checklist (newest last)."""
    items: dict[str, None] = {}
    for record in rec.tool_results(records):
        verdict = "ok" if record.get("ok") else "failed"
        line = f"{describe_call(record['name'], record.get('arguments'))} ({verdict})"
        items.pop(line, None)
        items[line] = None
    return list(items)[-RECAP_ITEMS:]


def notices(run: Run, now: Round) -> dict[str, str]:
    """Short things the model must hear this round, by topic: probes, plan, refusals, loops.
    `now` must have probe results (run.probed)."""
    assert now.report is not None
    records = run.records()
    found = {"probes": "Probes now:\n" + explain(now.report, run.verdict(now))}
    if now.status.next:  # before the first Plan there is none: no empty section
        found["plan"] = "Plan:\n" + "\n".join(f"- {s}" for s in now.status.next)
    refused = rec.unanswered_refusal(records)
    if refused is not None:
        found["refusal"] = f"Your finish was refused: {'; '.join(refused)}. Fix that first."
    warning = rec.latest_warning(records)
    if warning:
        found["warning"] = f"Warning: {warning}"
    paused = rec.unanswered_pause(records)
    if paused is not None:
        found["paused"] = (f"The run was paused ({paused}) and a person resumed it: "
                           f"do not repeat that; read the status notes and try another way.")
    return found


def state_message(run: Run, now: Round, policy: CompactionPolicy,
                  found: Mapping[str, str]) -> dict[str, Any]:
    """The compacted state: status snapshot, checklist of what was done, and the notices
    `found` (plan, probes, refusal, warning, pause)."""
    status, records = now.status, run.records()
    parts = [f"Status: {status.status} (round {status.round})"]
    ours = rec.jetbox_notes(records)
    # Told apart by the ledger's record of what Jetbox wrote, like the plan's `Next:` items.
    parts += [f"Note: {note}" if note in ours else f"Note from the person: {note}"
              for note in status.notes[-3:]]
    done = recap(records)
    parts.append("Done so far:\n" + ("\n".join(f"- {item}" for item in done) or "- nothing yet"))
    parts += [found[topic] for topic in ("plan", "probes", "refusal", "warning", "paused")
              if topic in found]
    text = "\n\n".join(parts)
    if len(text) > policy.max_state_chars:
        text = text[: policy.max_state_chars - 12] + "\n... (cut)"
    results = rec.latest_results(records)
    if results:
        keep = policy.latest_chars(run.settings.num_ctx) // len(results)
        lines = [f"- {describe_call(r['name'], r.get('arguments'))} ->\n"
                 f"{fold(str(r.get('output', '')), keep)}" for r in results]
        text += "\n\nResults of your last calls:\n" + "\n".join(lines)
    return {"role": "user", "content": text}


def compact(run: Run, now: Round) -> Conversation:
    """Fold everything into a fresh state message after the unchanged prefix."""
    found = notices(run, now)
    return Conversation(prefix_messages(now.status.goal),
                        state_message(run, now, run.compaction, found), shown=found)


def fold(text: str, max_chars: int) -> str:
    """Head and tail of a result, saying how much was left out of the middle."""
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    return f"{text[:half]}\n... [{len(text) - 2 * half} chars elided] ...\n{text[-half:]}"


def exchange(reply: Reply, results: Sequence[ToolResult], keep_chars: int,
             ) -> list[dict[str, Any]]:
    """One round as the protocol expects: the assistant turn, then one tool message per call.
    The results stay whole while together they fit in keep_chars."""
    messages: list[dict[str, Any]] = [reply.to_message()]
    share = keep_chars // max(1, len(results))
    whole = sum(len(r.output) for r in results) <= keep_chars
    for call, result in zip(reply.tool_calls, results, strict=False):
        output = result.output if whole else fold(result.output, share)
        messages.append({"role": "tool", "content": output, "tool_name": call.name})
    if not reply.tool_calls or reply.problem:  # why (part of) the reply did not run
        messages.append({"role": "user", "content": reply.problem or "No tool call in your "
                                                    "reply. Reply with one or more tool calls."})
    return messages


def compaction_reason(conversation: Conversation | None, policy: CompactionPolicy,
                      next_chars: int, budget_chars: int) -> str | None:
    if conversation is None:
        return "start of this invocation"
    if conversation.rounds > policy.history_keep:
        return f"more than {policy.history_keep} rounds since the last compaction"
    if next_chars > budget_chars:
        return f"next request ({next_chars} chars) would exceed the budget ({budget_chars})"
    return None
