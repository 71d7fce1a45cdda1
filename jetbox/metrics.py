"""What a run did, counted from its ledger records: for Done's summary and for eval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunMetrics:
    rounds: int
    model_calls: int
    tokens_in: int
    tokens_out: int
    model_s: float
    files_written: tuple[str, ...]
    commands: int
    refusals: int
    tool_errors: int
    wall_s: float

    @classmethod
    def from_records(cls, records: Sequence[dict[str, Any]], now: float | None = None,
                     ) -> RunMetrics:
        replies = [r for r in records if r["kind"] == "model_reply"]
        landed = {r.get("intent") for r in records if r["kind"] == "result" and r.get("ok")}
        writes = {r["path"]: None for r in records if r["kind"] == "intent"
                  and r.get("action") in ("write", "edit") and r["seq"] in landed}
        rounds = max((r.get("round", 0) for r in records if isinstance(r.get("round"), int)),
                     default=0)
        end = now if now is not None else (records[-1]["ts"] if records else 0.0)
        return cls(
            rounds=rounds,
            model_calls=len(replies),
            tokens_in=sum(r.get("prompt_tokens", 0) for r in replies),
            tokens_out=sum(r.get("output_tokens", 0) for r in replies),
            model_s=round(sum(r.get("duration_s", 0.0) for r in replies), 3),
            files_written=tuple(writes),
            commands=sum(r["kind"] == "intent" and r.get("action") == "cmd" for r in records),
            refusals=sum(r["kind"] == "refusal" for r in records),
            tool_errors=sum(r["kind"] == "tool_result" and not r.get("ok") and
                            not r.get("refused") for r in records),
            wall_s=round(end - records[0]["ts"], 3) if records else 0.0,
        )

    def line(self) -> str:
        return (f"{self.rounds} rounds, {self.model_calls} model calls "
                f"({self.tokens_in} tokens in, {self.tokens_out} out, {self.model_s:.1f} s), "
                f"{len(self.files_written)} files written, {self.commands} commands, "
                f"{self.refusals} refusals, {self.wall_s:.1f} s wall")


def completed_rounds(records: list[dict[str, Any]], initial: str) -> int:
    """Rounds that ran to their end: each ends with the transition back to the initial state."""
    return sum(r["kind"] == "transition" and r.get("dest") == initial for r in records)


def summary_rows(run: Any, reason: str) -> list[tuple[str, str]]:
    """The rows of the summary every invocation ends with: this session, and the whole run."""
    import time

    records = run.ledger.current_run()
    session = [r for r in records if r["seq"] > run.session_start]
    whole = RunMetrics.from_records(records, time.time())
    c = RunMetrics.from_records(session, time.time())
    initial = run.spec.initial
    return [
        ("exit reason", reason),
        ("rounds completed", f"{completed_rounds(session, initial)} this session, "
                             f"{completed_rounds(records, initial)} in the run"),
        ("stopped in", f"round {run.status.round}, state {run.status.state}"),
        ("model calls", f"{c.model_calls} this session, {whole.model_calls} in the run"),
        ("tokens in / out", f"{c.tokens_in} / {c.tokens_out} this session"),
        ("files written", f"{len(c.files_written)} this session, "
                          f"{len(whole.files_written)} in the run"),
        ("commands run", f"{c.commands} this session"),
        ("refusals", f"{c.refusals} this session"),
        ("verdict", run.verdict().line if run.report else "not probed"),
        ("python", run.prober.python.describe() if run.prober.python else "Jetbox's own"),
        ("wall time", f"{run.elapsed_s():.1f} s this session, {whole.wall_s:.1f} s in the run"),
    ]
