"""The probes' ruff: pinned to one minor series, recorded with the baseline, and a run
says so when the ruff it probes with is not the one the baseline was taken with."""

from __future__ import annotations

import json
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.store import kinds
from jetbox.store.ledger import Ledger
from tests.conftest import ROOT, run_cli

PAUSE = Turn(calls=(Call("read_file", {"path": "pkg/__init__.py"}),))


def test_the_ruff_requirement_has_an_upper_bound_the_installed_one_meets() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (ruff,) = [Requirement(r) for r in project["dependencies"] if r.startswith("ruff")]
    assert any(s.operator == "<" for s in ruff.specifier), ruff
    assert ruff.specifier.contains(version("ruff")), (str(ruff), version("ruff"))


def test_an_older_baseline_reads_without_the_version_and_a_new_one_keeps_it() -> None:
    assert kinds.Baseline().ruff_version is None
    assert "ruff_version" not in kinds.Baseline().to_body()
    assert kinds.Baseline(ruff_version="0.17.6").to_body()["ruff_version"] == "0.17.6"


@pytest.mark.slow
def test_a_resumed_run_says_when_ruff_changed_since_the_baseline(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("def add(a, b):\n    return a + b\n")
    with OfflineOllama(ScriptResponder([PAUSE, PAUSE, PAUSE])) as server:
        argv = ("run", "Look at add", "-w", str(tmp_path), "--host", server.host,
                "--sandbox", "none", "--max-rounds", "1")
        first = run_cli(*argv)
        lines = (tmp_path / "agent_ledger.log").read_text(encoding="utf-8").splitlines()
        (baseline,) = [r for r in map(json.loads, lines) if r["kind"] == "baseline"]
        assert baseline["ruff_version"] == version("ruff"), first.err
        same = run_cli(*argv[:-1], "2")
        # The same run, as if its baseline had been taken by an older ruff.
        Ledger(tmp_path / "agent_ledger.log").append(kinds.Baseline(
            round=1, findings=baseline["findings"], outcomes=baseline["outcomes"],
            fingerprint=baseline["fingerprint"], ruff_version="0.16.0"))
        changed = run_cli(*argv[:-1], "3")
    assert "ruff is" not in first.err + same.err
    notice = f"ruff is {version('ruff')} now, the baseline was taken with ruff 0.16.0"
    assert changed.err.count(notice) == 1, changed.err
