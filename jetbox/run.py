"""Run: everything one invocation works with; it is also the `transitions` model."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jetbox.config import Settings
from jetbox.context import CompactionPolicy, Conversation
from jetbox.display import Display
from jetbox.ledger import Ledger
from jetbox.machine import MachineSpec
from jetbox.model import Model, Reply
from jetbox.status import Status, StatusFile
from jetbox.verdict import Baseline, Verdict, judge
from jetbox.workspace import Workspace

if TYPE_CHECKING:
    from jetbox.probe import Prober, ProbeReport
    from jetbox.tools import Toolbox, ToolResult


class Run:
    """The state of one invocation. Handlers read and change it; the ledger and
    status.txt are its durable half, everything else here can be rebuilt from them."""

    state: str  # set by `transitions`
    CONDITIONS = ("finish_requested", "probes_green")  # the built-in predicates below

    def __init__(self, settings: Settings, workspace: Workspace, spec: MachineSpec,
                 ledger: Ledger, status_file: StatusFile, status: Status,
                 model_factory: Callable[[], Model], toolbox: Toolbox, prober: Prober,
                 display: Display) -> None:
        self.settings = settings
        self.workspace = workspace
        self.spec = spec
        self.ledger = ledger
        self.status_file = status_file
        self.status = status
        self.toolbox = toolbox
        self.prober = prober
        self.display = display
        records = ledger.records()
        self.session_start = records[-1]["seq"] if records else 0  # counts derive from here
        self.started = time.monotonic()
        self.session_rounds = 0
        self.report: ProbeReport | None = None
        self.messages: list[dict[str, Any]] = []
        self.reply: Reply | None = None  # the last Act's reply, until Compact folds it in
        self.conversation: Conversation | None = None  # None: compact on the next Compact
        self.compaction = CompactionPolicy.from_mapping(spec.sections.get("compaction"))
        self.results: list[ToolResult] = []
        self.scratch: dict[str, Any] = {}  # for a user's own handlers
        self._model_factory = model_factory
        self._model: Model | None = None

    @property
    def model(self) -> Model:
        """Created on first use, so `status`, `graph` and resumes past Act never load it."""
        if self._model is None:
            self._model = self._model_factory()
        return self._model

    @property
    def round(self) -> int:
        return self.status.round

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def event(self, text: str) -> None:
        self.display.event(text, self.status.round, getattr(self, "state", None))

    def probe_report(self) -> ProbeReport:
        """The latest probe results, probing now if this invocation has none yet."""
        if self.report is None:
            self.report = self.prober.run(None)
        return self.report

    # Conditions for machine.yaml transitions: each a question about the run.
    def finish_requested(self) -> bool:
        """The model's latest reply called `finish` and it was not refused since."""
        for record in reversed(self.ledger.current_run()):
            if record["kind"] == "finish_refused":
                return False
            if record["kind"] == "model_reply":
                return any(c.get("name") == "finish" for c in record.get("calls", []))
        return False

    def probes_green(self) -> bool:
        """The probes pass against the run's baseline: no new ruff findings, every test
        passing but those a person marked known, none lost."""
        return self.verdict().ok

    def baseline(self) -> Baseline:
        """What the first probe of this run saw (recorded by Probe)."""
        record = self.ledger.last(["baseline"])
        return Baseline.from_record(record) if record else Baseline.of(self.probe_report())

    def known_failures(self) -> tuple[str, ...]:
        from_setting = [t.strip() for t in self.settings.known_failures.split(",") if t.strip()]
        return (*from_setting, *self.status.known)

    def verdict(self) -> Verdict:
        return judge(self.probe_report(), self.baseline(), self.known_failures(),
                     self.status.goal)

    def acted_since_probe(self) -> bool:
        """A write, edit or command since the last probe: its results cannot be reused."""
        for record in reversed(self.ledger.current_run()):
            if record["kind"] == "probe":
                return False
            if record["kind"] == "intent":
                return True
        return True

    def conditions(self) -> dict[str, Callable[[], bool]]:
        return {
            "finish_requested": self.finish_requested,
            "probes_green": self.probes_green,
        }
