"""Every machine.yaml mistake is reported with file and line, exit 2, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetbox.offline import OfflineOllama, ScriptResponder
from tests.conftest import ROOT, run_cli

DEFAULT = (ROOT / "jetbox/machine.yaml").read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


CASES = {
    "unknown state in a transition": (
        DEFAULT.replace("source: Compact, dest: Plan", "source: Compact, dest: Plna"),
        "dest: Plna", "names unknown state `Plna`"),
    "unreachable state": (
        DEFAULT.replace("source: Plan, dest: Ask}", "source: Plan, dest: Reflect}")
               .replace("- {trigger: asked, source: Ask, dest: Calls}",
                        "- {trigger: asked, source: Ask, dest: Ask}"),
        "- name: Ask ", "state `Ask` is unreachable"),
    "no path to a final state": (
        DEFAULT.replace("  - name: Done\n", "  - name: Trap\n    handler: states.model:Plan\n"
                                            "  - name: Done\n")
               .replace("transitions:\n", "transitions:\n  - {trigger: probed, source: Probe, "
                        "dest: Trap, unless: probes_green}\n  - {trigger: planned, source: Trap,"
                        " dest: Trap}\n"),
        "- name: Trap", "state `Trap` has no path to a final state"),
    "handler that cannot be imported": (
        DEFAULT.replace("states.model:Plan", "states.nowhere:Plan"),
        "states.nowhere:Plan", "cannot be imported"),
    "handler module from before the grouping": (
        DEFAULT.replace("states.model:Plan", "states.plan:Plan"),
        "states.plan:Plan", "no handler module `states.plan`; `Plan` is states.model:Plan"),
    "handler that is not a handler": (
        DEFAULT.replace("states.model:Plan", "jetbox.store.status:Status"),
        "jetbox.store.status:Status", "is not a handler"),
    "outcome with no transition": (
        DEFAULT.replace("- {trigger: planned, source: Plan, dest: Ask}",
                        "- {trigger: planed, source: Plan, dest: Ask}"),
        "handler: states.model:Plan", "can return `planned` but no transition"),
    "unknown condition": (
        DEFAULT.replace("[finish_requested, probes_green]", "[finish_requested, tests_pass]"),
        "tests_pass", "unknown condition `tests_pass`"),
    "a condition in a module that does not exist": (
        DEFAULT.replace("[finish_requested, probes_green]",
                        "[finish_requested, 'jetbox.verdict:judge']"),
        "jetbox.verdict:judge", "No module named 'jetbox.verdict'"),
    "bad YAML": (
        DEFAULT.replace("  - name: Compact ", "  - name: [Compact "),
        "name: [Compact", "invalid YAML"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_machine_error_names_file_and_line_and_exits_2(case: str, tmp_path: Path,
                                                       workspace: Path) -> None:
    text, needle, message = CASES[case]
    machine = tmp_path / "machine.yaml"
    machine.write_text(text, encoding="utf-8")
    result = run_cli("run", "goal", "-w", str(workspace), "--machine", str(machine),
                     "--host", "http://127.0.0.1:9")
    assert result.code == 2, result.err
    assert message in result.err
    assert "Traceback" not in result.err
    if case != "bad YAML":
        assert f"{machine}:{line_of(text, needle)}:" in result.err
    else:
        assert f"{machine}:" in result.err
    assert not (workspace / "status.txt").exists(), "nothing may run before validation passes"


def test_missing_machine_file_is_a_clear_error(workspace: Path, tmp_path: Path) -> None:
    result = run_cli("run", "goal", "-w", str(workspace), "--machine", str(tmp_path / "no.yaml"))
    assert result.code == 2 and "cannot read machine file" in result.err


def test_graph_reports_validation_errors_too(tmp_path: Path) -> None:
    machine = tmp_path / "machine.yaml"
    machine.write_text(DEFAULT.replace("dest: Plan}", "dest: Nowhere}"), encoding="utf-8")
    result = run_cli("graph", "--machine", str(machine))
    assert result.code == 2 and "Nowhere" in result.err


def test_an_unknown_top_level_key_is_an_error_with_its_line(tmp_path: Path) -> None:
    from jetbox.core.errors import ConfigError
    from jetbox.spec.machine import load_machine

    machine = tmp_path / "machine.yaml"
    text = (ROOT / "jetbox/machine.yaml").read_text(encoding="utf-8")
    machine.write_text(text + "predicates:\n  ready: mymod:ready\n", encoding="utf-8")
    line = len(text.splitlines()) + 1  # the line after the default file
    with pytest.raises(ConfigError, match=rf"machine.yaml:{line}: unknown top-level key"):
        load_machine(machine)


OLD_STYLE = '''from jetbox.round.handler import Handler


class Cheer(Handler):
    outcomes = ("planned",)

    def run(self, run):
        return "planned"
'''


def test_a_handler_written_for_the_old_signature_is_a_clear_error(tmp_path: Path,
                                                                   workspace: Path) -> None:
    (tmp_path / "cheer.py").write_text(OLD_STYLE, encoding="utf-8")
    machine = tmp_path / "machine.yaml"
    machine.write_text(DEFAULT.replace("states.model:Plan", "cheer:Cheer"), encoding="utf-8")
    result = run_cli("run", "goal", "-w", str(workspace), "--machine", str(machine))
    assert result.code == 2 and "Traceback" not in result.err
    assert f"{machine}:{line_of(DEFAULT, 'states.model:Plan')}:" in result.err
    assert "`cheer:Cheer.run` must take (self, run, now)" in result.err
    assert not (workspace / "status.txt").exists()


def test_a_handler_that_returns_only_an_outcome_stops_with_a_clear_error(
        tmp_path: Path, workspace: Path) -> None:
    (tmp_path / "cheer.py").write_text(OLD_STYLE.replace("def run(self, run)",
                                                         "def run(self, run, now)"))
    machine = tmp_path / "machine.yaml"
    machine.write_text(DEFAULT.replace("states.model:Plan", "cheer:Cheer"), encoding="utf-8")
    # A server that answers (the run checks it first) and is never asked: Plan fails first.
    with OfflineOllama(ScriptResponder([])) as server:
        result = run_cli("run", "goal", "-w", str(workspace), "--machine", str(machine),
                         "--host", server.host, "--sandbox", "none")
    assert result.code == 1 and "Traceback" not in result.err  # the run's error, recorded
    assert "handler of `Plan` returned 'planned', not (outcome, round)" in result.err
    assert "not (outcome, round)" in (workspace / "status.txt").read_text(encoding="utf-8")


def test_a_handler_importing_a_missing_module_is_a_clear_error(tmp_path: Path,
                                                              workspace: Path) -> None:
    """A person's handler that imports a module Jetbox does not have (`jetbox.handler`)."""
    (tmp_path / "cheer.py").write_text(OLD_STYLE.replace("jetbox.round.handler", "jetbox.handler"),
                                       encoding="utf-8")
    machine = tmp_path / "machine.yaml"
    machine.write_text(DEFAULT.replace("states.model:Plan", "cheer:Cheer"), encoding="utf-8")
    result = run_cli("run", "goal", "-w", str(workspace), "--machine", str(machine))
    assert result.code == 2 and "Traceback" not in result.err
    assert "No module named 'jetbox.handler'" in result.err
