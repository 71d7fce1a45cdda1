"""Run: the services of one invocation; Round: what one round carries between handlers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

from jetbox.core.display import Display
from jetbox.core.errors import PauseRun
from jetbox.core.prompts import say
from jetbox.model.base import Model
from jetbox.probes.verdict import Verdict, baseline_of, judge, pinned_config
from jetbox.round.conversation import Conversation
from jetbox.spec.compaction import CompactionPolicy
from jetbox.spec.config import Settings
from jetbox.spec.machine import MachineSpec
from jetbox.store import kinds, queries
from jetbox.store.ledger import Ledger
from jetbox.store.status import Status, StatusFile
from jetbox.store.workspace import Workspace

if TYPE_CHECKING:
    from jetbox.probes.runner import Prober, ProbeReport
    from jetbox.probes.testconfig import TestConfig
    from jetbox.tools.toolbox import Toolbox, ToolResult


@dataclass(frozen=True)
class Round:
    """What a round carries from handler to handler: each handler receives it and returns
    the next one. Only `status` is durable (the engine writes it to status.txt on every
    transition); the rest is rebuilt from the ledger and real probes after a resume."""

    status: Status
    report: ProbeReport | None = None  # Probe's: the latest probe results
    verdict: Verdict | None = None  # Probe's: those results judged against the baseline
    conversation: Conversation | None = None  # Compact's: the request so far, folded
    reply: kinds.ModelReply | None = None  # Ask's: the latest reply, until Compact folds it in
    results: tuple[ToolResult, ...] = ()  # Calls': what the reply's calls returned

    @property
    def round(self) -> int:
        return self.status.round

    def with_status(self, **fields: object) -> Round:
        return replace(self, status=self.status.with_(**fields))


@dataclass(frozen=True)
class Run:
    """The services of one invocation, fixed once it starts. The ledger and status.txt are
    the durable state; everything a round changes travels in its `Round`."""

    settings: Settings
    workspace: Workspace
    spec: MachineSpec
    ledger: Ledger
    status_file: StatusFile
    toolbox: Toolbox
    prober: Prober
    display: Display
    model_factory: Callable[[], Model]
    compaction: CompactionPolicy
    started: float = field(default_factory=time.monotonic)
    session_start: int = 0  # the seq of the last record before this invocation
    answer: str = ""  # `--answer`: for the question the run was waiting on when it started

    @cached_property
    def model(self) -> Model:
        """Created on first use, so `status`, `graph` and resumes into Calls never load it."""
        return self.model_factory()

    def records(self) -> queries.Records:
        """The ledger records of the current run, oldest first."""
        return self.ledger.current_run()

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def check_timebox(self, then: str = "") -> None:
        """Past the session's timebox, pause (`then`: what the resume will do)."""
        if self.elapsed_s() >= self.settings.timebox_s:
            raise PauseRun(say("pause.timebox", seconds=self.settings.timebox_s, then=then))

    def event(self, now: Round, text: str) -> None:
        self.display.event(text, now.status.round, now.status.state)

    def judged(self, now: Round, report: ProbeReport) -> Round:
        """The round with these probe results and their verdict: what Probe hands on (and
        the resume, when a run resumes past Probe). Nothing else probes or judges."""
        return replace(now, report=report, verdict=self._verdict(replace(now, report=report)))

    def pinned(self) -> TestConfig | None:
        """The test and lint configuration the baseline recorded, which every probe uses."""
        return pinned_config(queries.last_of(self.records(), kinds.Baseline))

    def baseline(self, now: Round) -> kinds.Baseline:
        """What the first probe of this run saw (recorded by Probe)."""
        record = queries.last_of(self.records(), kinds.Baseline)
        if record is not None:
            return record
        assert now.report is not None, "Probe records the baseline before anything needs it"
        return baseline_of(now.report)

    def known_failures(self, status: Status) -> tuple[str, ...]:
        from_setting = [t.strip() for t in self.settings.known_failures.split(",") if t.strip()]
        return (*from_setting, *status.known)

    def _verdict(self, now: Round) -> Verdict:
        """The probes of `now` against the baseline: no new ruff findings, every test
        passing but those a person marked known."""
        assert now.report is not None
        return judge(now.report, self.baseline(now), self.known_failures(now.status),
                     now.status.goal, self.settings.allow_test_changes)


def pending_reply(records: queries.Records, state: str) -> queries.JournaledReply | None:
    """The reply this visit of `state` works on, if there is one, and how far its calls got:
    journaled since the run entered it (Ask, resumed after the reply was journaled), or just
    before (Calls)."""
    return queries.journaled_reply(records, state) or queries.reply_to_run(records, state)
