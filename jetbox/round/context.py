"""The model's context, cache-aware: a stable prefix, the compacted state, then the rounds since.

Ollama reuses its prompt cache for the longest unchanged prefix of a request, so rounds
are appended to the previous request; only a compaction rebuilds the part after the
stable prefix. Everything is rebuilt from real state (probes, status, ledger) on resume.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jetbox.core.prompts import say
from jetbox.model.base import to_message
from jetbox.round import notes
from jetbox.round.conversation import Conversation, fold
from jetbox.store import queries

if TYPE_CHECKING:
    from jetbox.round.run import Round, Run
    from jetbox.spec.compaction import CompactionPolicy
    from jetbox.store.kinds import ModelReply
    from jetbox.tools.toolbox import ToolResult

RECAP_ITEMS = 8
ELIDE_WRITES = 200  # a written file's content longer than this is not sent back


def request_chars(messages: Sequence[Mapping[str, Any]], tools: Sequence[Any]) -> int:
    return len(json.dumps({"tools": list(tools), "messages": list(messages)}, ensure_ascii=False))


def prefix_messages(goal: str) -> tuple[dict[str, Any], ...]:
    """The stable prefix: never changes within a run, so Ollama's cache always hits it."""
    return ({"role": "system", "content": say("system")},
            {"role": "user", "content": say("goal", goal=goal)})


def describe_call(name: str, arguments: Any) -> str:
    """A short human line for a tool call (the model reads it too)."""
    if isinstance(arguments, dict):
        if name == "read_file" and "start_line" in arguments:
            return say("call.read_lines", path=arguments.get("path", "?"),
                       start=arguments.get("start_line"), end=arguments.get("end_line", "end"))
        if name in ("read_file", "write_file", "list_dir", "edit_file"):
            return say("call.on_path", tool=name, path=arguments.get("path", "?"))
        if name == "search":
            return say("call.search", pattern=arguments.get("pattern", "?"),
                       path=arguments.get("path", "."))
        if name == "run_cmd":
            cmd = arguments.get("cmd")
            return say("call.run", command=" ".join(map(str, cmd)) if isinstance(cmd, list)
                       else str(cmd))
    return say("call.other", tool=name, arguments=json.dumps(arguments, ensure_ascii=False)[:80])


def recap(records: queries.Records) -> list[str]:
    """What was done this run, deduplicated into a checklist (newest last)."""
    newest_first: dict[str, None] = {}  # walked back: a long run costs no more
    for record in queries.tool_results_newest_first(records):
        newest_first.setdefault(say("context.call_ok" if record.ok else "context.call_failed",
                                    call=describe_call(record.name, record.arguments)))
        if len(newest_first) == RECAP_ITEMS:
            break
    return list(reversed(newest_first))


def notices(run: Run, now: Round) -> dict[str, str]:
    """Short things the model must hear this round, by topic: probes, plan, refusals, loops.
    `now` must have Probe's report and verdict."""
    assert now.report is not None and now.verdict is not None
    records = run.records()
    found = notes.probe_topics(now.report, now.verdict)
    if now.status.next:  # before the first Plan there is none: no empty section
        found["plan"] = say("context.plan") + "\n" + "\n".join(
            f"- {s}" for s in notes.plan_lines(now.status.next, now.verdict, now.status.goal))
    refused = queries.unanswered_refusal(records)
    if refused is not None:
        found["refusal"] = say("context.finish_refused", reasons="; ".join(refused))
    warning = queries.latest_warning(records)
    if warning:
        found["warning"] = say("context.warning", warning=warning)
    paused = queries.unanswered_pause(records)
    if paused is not None:
        found["paused"] = say("context.paused", reason=paused)
    return found


def state_message(run: Run, now: Round, policy: CompactionPolicy,
                  found: Mapping[str, str]) -> dict[str, Any]:
    """The compacted state: status snapshot, checklist of what was done, and the notices
    `found` (plan, probes, refusal, warning, pause)."""
    status, records = now.status, run.records()
    parts = [say("context.status", status=status.status, round=status.round)]
    ours = queries.jetbox_notes(records)
    # Told apart by the ledger's record of what Jetbox wrote, like the plan's `Next:` items.
    parts += [say("context.jetbox_note" if note in ours else "context.person_note", note=note)
              for note in status.notes[-3:]]
    done = recap(records)
    parts.append(say("context.done_so_far") + "\n" + "\n".join(f"- {item}" for item in done)
                 if done else "")
    parts += [found[topic] for topic in ("plan", "verdict") if topic in found]
    parts.append(project_files(run, now, records))
    parts += [found[topic] for topic in ("blocking", "refusal", "warning", "paused")
              if topic in found]
    assert now.report is not None and now.verdict is not None
    parts.append(notes.pre_existing(now.report, now.verdict, status.goal))
    text = "\n\n".join(p for p in parts if p)
    if len(text) > policy.max_state_chars:
        cut = "\n" + say("context.cut")
        text = text[: policy.max_state_chars - 2 - len(cut)] + cut
    results = queries.latest_results(records)
    if results:
        keep = policy.latest_chars(run.settings.num_ctx) // len(results)
        lines = [say("context.latest_result", call=describe_call(r.name, r.arguments),
                     output=fold(str(r.output), keep)) for r in results]
        text += "\n\n" + say("context.latest_results") + "\n" + "\n".join(lines)
    return {"role": "user", "content": text}


def project_files(run: Run, now: Round, records: queries.Records) -> str:
    """The file tree as it matters to this run: its files, those the goal, the plan and
    the failing tests name, then the rest counted per folder."""
    assert now.report is not None and now.verdict is not None
    files, verdict = now.report.files, now.verdict
    key = {*queries.files_written(records), *notes.test_files(verdict.failing),
           *notes.named_in([now.status.goal, *now.status.next, *verdict.new_findings], files)}
    return notes.tree_summary(files, key)


def compact(run: Run, now: Round) -> Conversation:
    """Fold everything into a fresh state message after the unchanged prefix."""
    found = notices(run, now)
    return Conversation(prefix_messages(now.status.goal),
                        state_message(run, now, run.compaction, found), shown=found)


def exchange(reply: ModelReply, results: Sequence[ToolResult], keep_chars: int,
             ) -> list[dict[str, Any]]:
    """One round as the protocol expects: the assistant turn, then one tool message per call.
    The results stay whole while together they fit in keep_chars."""
    messages: list[dict[str, Any]] = [written_elided(to_message(reply), results)]
    share = keep_chars // max(1, len(results))
    whole = sum(len(r.output) for r in results) <= keep_chars
    for call, result in zip(reply.calls, results, strict=False):
        output = result.output if whole else fold(result.output, share)
        messages.append({"role": "tool", "content": output, "tool_name": call.name})
    if not reply.calls or reply.problem:  # why (part of) the reply did not run
        messages.append({"role": "user", "content": reply.problem or say("reply.no_call")})
    return messages


def written_elided(message: dict[str, Any], results: Sequence[ToolResult]) -> dict[str, Any]:
    """The assistant turn with the content of each file it wrote (and that was written)
    replaced by its size: the file is on disk, where read_file shows it; sending it back
    every round would cost as much as the write itself, again."""
    calls = message.get("tool_calls")
    if not calls:
        return message
    kept = []
    for call, result in zip(calls, [*results, *[None] * len(calls)], strict=False):
        arguments = call["function"]["arguments"]
        content = arguments.get("content") if call["function"]["name"] == "write_file" else None
        if isinstance(content, str) and len(content) > ELIDE_WRITES and result is not None \
                and result.ok:
            arguments = {**arguments, "content": say("context.written_elided",
                                                     chars=len(content))}
        kept.append({"function": {**call["function"], "arguments": arguments}})
    return {**message, "tool_calls": kept}


def compaction_reason(conversation: Conversation | None, policy: CompactionPolicy,
                      next_chars: int, budget_chars: int) -> str | None:
    if conversation is None:
        return "start of this invocation"
    if conversation.rounds > policy.history_keep:
        return f"more than {policy.history_keep} rounds since the last compaction"
    if next_chars > budget_chars:
        return f"next request ({next_chars} chars) would exceed the budget ({budget_chars})"
    return None
