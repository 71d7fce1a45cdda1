"""The workspace side of a round: Probe establishes its real state without the model, and
Done, once a finish is verified, says so and sums up the run."""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from jetbox.core.prompts import say
from jetbox.probes import room
from jetbox.probes.goal import ruff_rule_names
from jetbox.probes.testconfig import snapshot
from jetbox.probes.verdict import FAILING, baseline_of
from jetbox.round.handler import Handler, Step
from jetbox.round.metrics import RunMetrics
from jetbox.store import kinds, queries
from jetbox.store.kinds import FilesChanged, ProtectedRemoved

if TYPE_CHECKING:
    from jetbox.probes.runner import ProbeReport
    from jetbox.round.run import Round, Run


class Probe(Handler):
    """Reads: the workspace (files, ruff, pytest); from the ledger, whether the model asked
    to finish and whether anything was written or run since the last probe.
    Returns: the round with the new probe report.
    Writes: a `baseline` record at the run's first probe (outcomes, findings and the test
    and lint configuration later probes are held to); a `probe` record with the verdict
    against that baseline; `protected_removed` when the probes created .git, machine.yaml,
    ... (the prober removed them); `files_changed` for what changed while the probes ran
    (so undo takes it back); `finish_refused` when the model asked to finish and the
    verdict says no. Done is reached only through the `probed` transition guarded by
    `finish_requested` and `probes_green`."""

    outcomes = ("probed",)
    reads = ("status", "report")
    writes = ("report", "verdict")
    appends = (kinds.Baseline.KIND, kinds.Probed.KIND, ProtectedRemoved.KIND, FilesChanged.KIND,
               kinds.FinishRefused.KIND)

    def run(self, run: Run, now: Round) -> Step:
        records = run.records()
        finishing = queries.finish_requested(records)
        # Results are reused only in a round with no action, and never to verify a finish.
        reuse = not finishing and not queries.acted_since_probe(records)
        baseline = queries.last_of(records, kinds.Baseline)
        room = baseline if finishing and isinstance(baseline, kinds.Baseline) and baseline.tree \
            else None
        # A test (the project's or one the model wrote) may change files: watched like a
        # command, so diff and undo show and take back what changed while the probes ran.
        # The clean room runs in a scratch tree: nothing there is the person's.
        watch = run.toolbox.watch
        before = None if reuse or room else watch.snapshot()
        names = ", ".join(p.name for p in run.spec.probes)
        with run.display.working(f"running {names}", now.round, "Probe"):  # a live line
            report = run.prober.verify(room.tree or "", room.room_findings,
                                       run.settings.allow_test_changes, run.pinned()) \
                if room else self._probe(run, now, reuse, full=finishing or baseline is None)
        if before is not None and not report.reused:
            watch.record(run.ledger, 0, before, during=f"the probes (round {now.round})")
        if baseline is None:
            run.ledger.append(first_baseline(run, now, report))
        else:
            self._say_if_ruff_changed(run, baseline)
        now = run.judged(now, report)
        verdict = now.verdict
        assert verdict is not None
        failures = sum(c.counts.get("failed", 0) + c.counts.get("errors", 0)
                       + (0 if c.ok else 1) for c in report.checks)
        run.ledger.append(kinds.Probed(round=now.round, green=verdict.ok, reused=report.reused,
                                  failures=failures, checks=[c.summary for c in report.checks],
                                  verdict=verdict.line, subprocesses=run.prober.runs,
                                  changes=verdict.changes))
        if run.prober.removed:
            run.ledger.append(ProtectedRemoved(names=run.prober.removed, round=now.round,
                                               by="probes"))
        run.event(now, ("reused: " if report.reused else "") + verdict.line)
        if finishing and not verdict.ok:
            run.ledger.append(kinds.FinishRefused(round=now.round, reasons=list(verdict.blockers)))
            run.event(now, "finish refused: " + "; ".join(verdict.blockers))
        return "probed", now

    def _say_if_ruff_changed(self, run: Run, baseline: kinds.Baseline) -> None:
        """Once per invocation: the baseline's findings came from another ruff release, so
        findings may appear or vanish that no edit made."""
        if getattr(self, "_ruff_checked", False):
            return
        self._ruff_checked = True
        then, now = baseline.ruff_version, ruff_version()
        if then and now and then != now:
            run.display.warn(ruff_changed(then, now))

    @staticmethod
    def _probe(run: Run, now: Round, reuse: bool, full: bool) -> ProbeReport:
        """The whole suite at the baseline and to verify a finish; between edits, what the
        change can affect, the tests failing at the start or last time first. Always under
        the test and lint configuration the baseline recorded."""
        pinned = run.pinned()
        if full or now.report is None:
            return run.prober.run(now.report, reuse=reuse, pinned=pinned)
        failing = [t for t, o in run.baseline(now).outcomes.items() if o in FAILING]
        failing += [t for c in now.report.checks for t, o in c.outcomes.items() if o in FAILING]
        return run.prober.run(now.report, reuse=reuse, pinned=pinned, full=False,
                              failing=failing)


def first_baseline(run: Run, now: Round, report: ProbeReport) -> kinds.Baseline:
    """The baseline record: the outcomes and findings, and the test and lint configuration
    (conftest.py files, pytest and ruff settings) every later probe is held to."""
    config = snapshot(run.workspace.root, run.prober.changes.snapshot()[0])
    codes = {f.partition(": ")[2].split(" ", 1)[0] for c in report.checks for f in c.findings}
    return baseline_of(report, config, ruff_rule_names(codes),
                       room.snapshot(run.workspace.root), run.prober.lint_baseline(),
                       now.round, ruff_version())


def ruff_version() -> str:
    """The ruff the probes run (Jetbox's own, `python -m ruff`); "" if it is missing."""
    try:
        return version("ruff")
    except PackageNotFoundError:
        return ""


def ruff_changed(then: str, now: str) -> str:
    return (f"ruff is {now} now, the baseline was taken with ruff {then}: findings may "
            f"differ from the baseline's without any edit (pyproject.toml pins a compatible "
            f"range; `jetbox run --fresh` takes a new baseline)")


class Done(Handler):
    """Reads: the ledger: the verdict of the probe that let the run finish (its `probe`
    record, so a resume here needs no probe), the run's records for its totals.
    Returns: the round with `Status: green - done: ...`, no outcome (a final state).
    Writes: a `run_end` record with the run's metrics, once; a summary."""

    outcomes = ()
    reads = ("status",)
    writes = ("status",)
    appends = (kinds.RunEnd.KIND,)

    def run(self, run: Run, now: Round) -> Step:
        probed = queries.last_of(run.records(), kinds.Probed)
        checks = probed.verdict if probed is not None else say("status.no_probe_ran")
        now = now.with_status(status=say("status.done", checks=checks), next=(), active=())
        metrics = RunMetrics.from_records(run.records(), time.time())
        if queries.unanswered(run.records(), queries.RUN_END, queries.RUN_START,
                              queries.RESUME) is None:
            run.ledger.append(kinds.RunEnd(outcome="done", round=now.round, tests=checks,
                                       metrics=metrics.__dict__ | {"files_written":
                                                                   list(metrics.files_written)}))
        run.event(now, f"done in round {now.round}: {checks}")
        run.event(now, f"run summary: {metrics.line()}")
        return None, now
