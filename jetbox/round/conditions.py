"""The built-in conditions machine.yaml's transitions can name. Each is a question about the
run and the round, `(run, now) -> bool`, like a person's own `module:function`: they only
read what the handlers computed (Probe's verdict, the ledger), never probe or judge."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from jetbox.store import queries

if TYPE_CHECKING:
    from jetbox.round.run import Round, Run

Condition = Callable[["Run", "Round"], bool]


def finish_requested(run: Run, now: Round) -> bool:
    """The model's latest reply called `finish` and it was not refused since."""
    return queries.finish_requested(run.records())


def probes_green(run: Run, now: Round) -> bool:
    """Probe's verdict of this round: no new ruff findings, every test passing but those a
    person marked known, none lost. False in a round Probe has not judged."""
    return now.verdict is not None and now.verdict.ok


BUILT_IN: dict[str, Condition] = {"finish_requested": finish_requested,
                                  "probes_green": probes_green}
