"""What a run did, counted from its ledger records: for Done's summary and for eval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jetbox.core.text import counted
from jetbox.store import queries
from jetbox.store.queries import Tally

if TYPE_CHECKING:
    from jetbox.round.run import Round, Run


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
    def from_records(cls, records: Sequence[queries.Record], now: float | None = None,
                     ) -> RunMetrics:
        replies = queries.model_replies(records)
        rounds = max((n for r in records if (n := queries.round_of(r)) is not None), default=0)
        end = now if now is not None else (records[-1].ts if records else 0.0)
        return cls(
            rounds=rounds,
            model_calls=len(replies),
            tokens_in=sum(r.prompt_tokens for r in replies),
            tokens_out=sum(r.output_tokens for r in replies),
            model_s=round(sum(r.duration_s for r in replies), 3),
            files_written=queries.files_written(records),
            commands=queries.count(records, queries.INTENT, action="cmd"),
            refusals=queries.count(records, queries.REFUSAL),
            tool_errors=queries.tool_errors(records),
            wall_s=round(end - records[0].ts, 3) if records else 0.0,
        )

    def line(self) -> str:
        calls = counted(self.model_calls, "model call", "model calls")
        return (f"{counted(self.rounds, 'round')}, {calls} "
                f"({self.tokens_in} tokens in, {self.tokens_out} out, {self.model_s:.1f} s), "
                f"{counted(len(self.files_written), 'file written')}, "
                f"{counted(self.commands, 'command')}, {counted(self.refusals, 'refusal')}, "
                f"{self.wall_s:.1f} s wall")


def summary_rows(run: Run, now: Round, reason: str) -> list[tuple[str, str]]:
    """The rows of the summary every invocation ends with: this session, and the whole run."""
    import time

    records = run.records()
    session = [r for r in records if r.seq > run.session_start]
    whole = RunMetrics.from_records(records, time.time())
    c = RunMetrics.from_records(session, time.time())
    initial = run.spec.initial
    verdict = now.verdict
    return [
        ("exit reason", reason),
        ("rounds completed", f"{queries.completed_rounds(session, initial)} this session, "
                             f"{queries.completed_rounds(records, initial)} in the run"),
        ("stopped in", f"round {now.status.round}, state {now.status.state}"),
        ("model calls", f"{c.model_calls} this session, {whole.model_calls} in the run"),
        ("tokens in / out", f"{c.tokens_in} / {c.tokens_out} this session"),
        ("files written", f"{len(c.files_written)} this session, "
                          f"{len(whole.files_written)} in the run"),
        ("commands run", f"{c.commands} this session"),
        ("refusals", f"{c.refusals} this session"),
        *([("approvals", f"{Tally.of(session).line()} this session; "
                         f"{Tally.of(records).asked} asked in the run")]
          if run.settings.approve != "never" or Tally.of(records).asked else []),
        ("verdict", verdict.line if verdict else "not probed"),
        ("changed", verdict.changes if verdict and verdict.changes else "not probed"),
        ("python", run.prober.python.describe() if run.prober.python else "Jetbox's own"),
        ("wall time", f"{run.elapsed_s():.1f} s this session, {whole.wall_s:.1f} s in the run"),
    ]
