"""The pytest probe's outcome channel: Jetbox's own plugin (outcomes_plugin.py) writes each
test's outcome as JSON to a folder outside the workspace, and pytest's exit status must agree
with it. A test's name or printed output cannot reach this channel; the text of the run is
only shown, never trusted."""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from jetbox.core.prompts import say

PLUGIN = Path(__file__).with_name("outcomes_plugin.py")
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "deselected")
FAILING = ("failed", "error")
# pytest's summary order, so the verdict line reads like pytest's own.
COUNT_ORDER = (("failed", "failed"), ("passed", "passed"), ("skipped", "skipped"),
               ("deselected", "deselected"), ("xfailed", "xfailed"), ("xpassed", "xpassed"),
               ("error", "errors"))
# pytest's exit codes that say why it stopped: the prompt `probe.exit_<meaning>` says so
EXIT_MEANING = {2: "interrupted", 3: "internal_error", 4: "bad_options"}
MAX_REPORT_BYTES = 64 << 20


@dataclass(frozen=True)
class OutcomeReport:
    """What the plugin wrote: outcome per test id, the session's exit status, and the plugin
    modules (conftest files included) pytest loaded from inside the project."""

    outcomes: Mapping[str, str] = field(default_factory=dict)
    exitstatus: int = -1
    plugins: tuple[str, ...] = ()
    late_plugins: tuple[str, ...] = ()  # registered while the tests ran


class OutcomeChannel:
    """A fresh folder holding a copy of the plugin under a random module name; `read` parses
    what the plugin wrote there. Removed on exit."""

    def __enter__(self) -> OutcomeChannel:
        self.folder = Path(tempfile.mkdtemp(prefix="jetbox-outcomes-"))
        self.module = f"jetbox_outcomes_{secrets.token_hex(8)}"
        shutil.copyfile(PLUGIN, self.folder / f"{self.module}.py")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def args(self) -> tuple[str, ...]:
        return ("-p", self.module)

    @property
    def env(self) -> dict[str, str]:
        return {"PYTHONPATH": str(self.folder)}

    def read(self) -> OutcomeReport | None:
        """None when the plugin wrote nothing usable (pytest stopped early, or something
        else answered for pytest)."""
        path = self.folder / "outcomes.json"
        try:
            if path.stat().st_size > MAX_REPORT_BYTES:
                return None
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return parse_report(data)


def parse_report(data: object) -> OutcomeReport | None:
    if not isinstance(data, dict):
        return None
    outcomes, status, plugins = data.get("outcomes"), data.get("exitstatus"), data.get("plugins")
    if not isinstance(outcomes, dict) or not isinstance(status, int) \
            or not isinstance(plugins, list):
        return None
    if not all(isinstance(k, str) and v in OUTCOMES for k, v in outcomes.items()):
        return None
    late = data.get("late_plugins")
    return OutcomeReport(dict(outcomes), status, tuple(str(p) for p in plugins),
                         tuple(str(p) for p in late) if isinstance(late, list) else ())


def count_outcomes(outcomes: Mapping[str, str]) -> dict[str, int]:
    tally = {key: sum(o == word for o in outcomes.values()) for word, key in COUNT_ORDER}
    return {key: n for key, n in tally.items() if n}


def disagreements(report: OutcomeReport | None, returncode: int | None) -> tuple[str, ...]:
    """Why the outcomes cannot be trusted, or (): the report exists and pytest's exit status
    agrees with it."""
    if returncode is None:
        return ()  # timed out: the verdict says so
    if report is None:
        return (say("probe.no_report", code=returncode),)
    failing = sum(o in FAILING for o in report.outcomes.values())
    problems = []
    if report.late_plugins:
        problems.append(say("probe.late_plugins", plugins=", ".join(report.late_plugins)))
    if report.exitstatus != returncode:
        problems.append(say("probe.session_status", code=returncode, status=report.exitstatus))
    if returncode in EXIT_MEANING:
        problems.append(say(f"probe.exit_{EXIT_MEANING[returncode]}", code=returncode))
    elif returncode == 0 and failing:
        problems.append(say("probe.failed_in_report", count=failing))
    elif returncode == 1 and not failing:
        problems.append(say("probe.none_failed"))
    elif returncode == 5 and any(o == "passed" for o in report.outcomes.values()):
        problems.append(say("probe.passed_in_report"))
    elif returncode not in (0, 1, 5):
        problems.append(say("probe.strange_exit", code=returncode))
    return tuple(problems)


def test_file_digests(root: Path, outcomes: Mapping[str, str]) -> dict[str, str]:
    """A digest of each file holding a test id: a test the run changed in place is seen."""
    from jetbox.probes.changes import file_digest

    files = {test_id.split("::", 1)[0] for test_id in outcomes}
    return {f: file_digest(str(root / f))[:32] for f in sorted(files) if (root / f).is_file()}


# `python -m pytest` puts the workspace first on sys.path: a module of these names there
# answers instead of pytest, and could write any report it likes.
PYTEST_MODULES = ("pytest", "_pytest", "pluggy", "py")


def shadowing(root: Path) -> tuple[str, ...]:
    """Why the workspace could answer for pytest itself, or ()."""
    found = [name for module in PYTEST_MODULES for name in (f"{module}.py", module)
             if (root / name).exists()]
    return tuple(f"the workspace has `{name}`, which Python would import instead of "
                 f"pytest's own: remove it" for name in found)
