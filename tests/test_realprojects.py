"""Jetbox on two real open-source projects it did not write (vendored sdists, see
tests/projects/README.md): a scripted model that works like a good one finds a planted
one-line bug with `search`, reads it with a line range, fixes it with `edit_file` and
finishes; Jetbox verifies against the run's baseline and exits 0 with a one-line diff."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from jetbox.exec.sandbox import bwrap_usable
from jetbox.offline import FakeModel, OfflineOllama
from jetbox.offline.solvers import LineFixer
from tests.conftest import run_cli, status_fields
from tests.realprojects import PROJECTS, make_venv, plant_bug, unpack

pytestmark = pytest.mark.slow


def checked_out(name: str, tmp_path: Path) -> tuple[Path, LineFixer]:
    root = unpack(name, tmp_path)
    bug = plant_bug(name, root)
    fixer = LineFixer(root, bug.path, bug.pattern, bug.broken.strip(), bug.original.strip())
    return root, fixer


def changed_lines(root: Path) -> list[str]:
    diff = subprocess.run(["git", "diff", "-U0"], cwd=root, capture_output=True, text=True,
                          check=True).stdout
    return [line for line in diff.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def ledger(root: Path) -> list[dict]:
    return [json.loads(line) for line in
            (root / "agent_ledger.log").read_text(encoding="utf-8").splitlines()]


def fix_with(root: Path, fixer: LineFixer, *models: FakeModel) -> object:
    with OfflineOllama(fixer, models=models or (FakeModel(),)) as server:
        return run_cli("run", "Fix the bug that makes the tests fail", "-w", str(root),
                       "--host", server.host, "--sandbox", "none")


def test_a_project_with_lint_debt_and_hundreds_of_tests(tmp_path: Path) -> None:
    root, fixer = checked_out("a", tmp_path)
    result = fix_with(root, fixer)
    assert result.code == 0, result.err
    assert fixer.calls == {"search": 1, "read_file": 1, "edit_file": 1, "finish": 1}
    bug = PROJECTS["a"].bug
    assert changed_lines(root) == [f"-{bug.broken}", f"+{bug.original}"]
    baseline = next(r for r in ledger(root) if r["kind"] == "baseline")
    assert len(baseline["findings"]) >= 10          # its own ruff config finds lint debt
    assert sum(o == "passed" for o in baseline["outcomes"].values()) >= 300
    status = status_fields(root)["Status"]
    assert status.startswith("green - done: ruff: 0 new (")
    assert "pre-existing, not yours); pytest: 318 passed, 88 skipped, 0 regressions" in status
    read = next(r for r in ledger(root) if r["kind"] == "tool_result"
                and r["name"] == "read_file")
    assert f"{bug.path}: lines " in read["output"] and f"{bug.line}| " in read["output"]


def test_a_project_whose_dependencies_live_only_in_its_own_venv(tmp_path: Path) -> None:
    root, fixer = checked_out("b", tmp_path)
    try:
        make_venv(root)
    except RuntimeError as exc:
        pytest.skip(f"cannot build the project's venv offline here: {exc}")
    result = fix_with(root, fixer)
    assert result.code == 0, result.err
    assert ".venv/bin/python (.venv/ in the workspace)" in result.err.splitlines()[0]
    bug = PROJECTS["b"].bug
    assert changed_lines(root) == [f"-{bug.broken}", f"+{bug.original}"]
    assert "pytest: 139 passed, 1 skipped, 0 regressions" in status_fields(root)["Status"]
    assert "No module named" not in json.dumps(ledger(root))


def test_the_same_fix_through_the_json_protocol(tmp_path: Path) -> None:
    root, fixer = checked_out("a", tmp_path)
    toolless = FakeModel(capabilities=("completion",))
    result = fix_with(root, fixer, toolless)
    assert result.code == 0, result.err
    assert any(r["kind"] == "model_reply" for r in ledger(root))
    assert fixer.calls["edit_file"] == 1
    assert len(changed_lines(root)) == 2


@pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap is not usable here")
@pytest.mark.parametrize("where", ["inside", "outside"])
def test_the_sandbox_runs_the_project_venv_inside_or_outside_the_workspace(
        where: str, tmp_path: Path) -> None:
    root, fixer = checked_out("b", tmp_path / "checkout")
    try:
        python = make_venv(root)
    except RuntimeError as exc:
        pytest.skip(f"cannot build the project's venv offline here: {exc}")
    extra: tuple[str, ...] = ()
    if where == "outside":  # under /tmp, which the sandbox replaces with a private one
        outside = tmp_path / "envs" / "slugify"
        outside.parent.mkdir()
        (root / ".venv").rename(outside)
        python = make_venv_elsewhere(root, outside)
        extra = ("--python", str(outside))
    with OfflineOllama(fixer) as server:
        result = run_cli("run", "Fix the bug that makes the tests fail", "-w", str(root),
                         "--host", server.host, "--sandbox", "bwrap", *extra)
    assert result.code == 0, result.err
    assert str(python.parent.parent) in result.err.splitlines()[0]
    assert "pytest: 139 passed, 1 skipped, 0 regressions" in status_fields(root)["Status"]


def make_venv_elsewhere(root: Path, venv: Path) -> Path:
    """The project's venv, moved out of the project: its python and site-packages still
    work there (its console scripts would not, and Jetbox does not use them)."""
    python = venv / "bin" / "python"
    assert subprocess.run([str(python), "-c", "import text_unidecode, pytest"],
                          check=False).returncode == 0
    return python
