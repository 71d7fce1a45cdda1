"""`jetbox graph`, `jetbox status` and `--help`: what a person sees."""

from __future__ import annotations

import re
from pathlib import Path

from jetbox.offline import OfflineOllama
from jetbox.spec.machine import load_machine
from tests.conftest import MATHX_GOAL, ROOT, run_cli


def test_mermaid_lists_every_state_and_transition() -> None:
    result = run_cli("graph", "--machine", str(ROOT / "jetbox/machine.yaml"))
    assert result.code == 0
    assert result.out.splitlines()[0:4] == ["---", "title: Jetbox machine (machine.yaml)", "---",
                                            "stateDiagram-v2"]
    spec = load_machine(ROOT / "jetbox/machine.yaml")
    for state in spec.state_names:
        assert re.search(rf'^\s*state "{state}" as {state}$', result.out, re.M), state
    for t in spec.transitions:
        label = t.trigger + (f" [{' & '.join(t.conditions)}]" if t.conditions else "")
        for source in t.sources:  # parallel edges share one line: `wait | quit`
            edge = re.search(rf"^\s*{source} --> {t.dest}: (.*)$", result.out, re.M)
            assert edge is not None and label in edge.group(1).split(" | "), (source, label)
    assert "[*] --> Probe" in result.out


def test_one_machine_yaml_the_packaged_one() -> None:
    """jetbox/machine.yaml is what every install runs and what the README links for people to
    read and copy: there is no second copy in the repository to drift from it."""
    elsewhere = {".git", "tests", "bench", ".venv", "venv", "build", "dist"}  # not sources
    tracked = [p.relative_to(ROOT).as_posix() for p in ROOT.glob("**/machine.yaml")
               if not elsewhere & set(p.relative_to(ROOT).parts)]
    assert tracked == ["jetbox/machine.yaml"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](jetbox/machine.yaml)" in readme and "](machine.yaml)" not in readme


def test_help_explains_commands_and_exit_codes() -> None:
    result = run_cli("run", "--help")
    assert result.code == 0
    for text in ("--workspace", "--max-rounds", "--timebox", "--fresh", "exit codes",
                 "paused at a limit", "model server is unreachable"):
        assert text in result.out


def test_status_prints_status_and_last_ledger_entries(workspace: Path,
                                                      mathx_server: OfflineOllama) -> None:
    run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
            "--max-rounds", "1", "--sandbox", "none")
    result = run_cli("status", "-w", str(workspace), "-n", "3")
    assert result.code == 0
    assert f"Goal: {MATHX_GOAL}" in result.out and "State: Probe" in result.out
    assert "last 3 events of" in result.out and "machine:" in result.out


def test_status_without_a_run_says_so(workspace: Path) -> None:
    result = run_cli("status", "-w", str(workspace))
    assert result.code == 0 and "no run yet" in result.out
