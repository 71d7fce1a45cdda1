"""The README stays true for a newcomer: every `jetbox ...` command it shows parses, the
two set-up lines are the ones CI runs, and it holds nothing that goes stale."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from jetbox.cli import build_parser
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_commands() -> list[str]:
    """Commands in code blocks (each line, split at &&) and in inline code spans."""
    found: list[str] = []
    for block in re.findall(r"```\n(.*?)```", README, re.S):
        for line in block.splitlines():
            found += [part.strip() for part in line.split("&&")]
    found += re.findall(r"`(jetbox [^`]*)`", README)
    return sorted({c for c in found if c.startswith("jetbox ") or c == "jetbox"})


def test_the_readme_shows_the_commands_a_newcomer_needs() -> None:
    shown = " ".join(readme_commands())
    for command in ("jetbox demo", "jetbox run", "jetbox diag", "jetbox serve", "jetbox log"):
        assert command in shown


@pytest.mark.parametrize("command", readme_commands())
def test_every_command_in_the_readme_parses(command: str) -> None:
    argv = shlex.split(command)[1:]
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            args = build_parser(argv).parse_args(argv)
    except SystemExit as exc:
        assert exc.code == 0, f"`{command}` does not parse: {errors.getvalue()}"
        return
    assert args.command is not None, f"`{command}` names no command"


TOOL_LINE = "pipx install . && jetbox run "
TEST_LINE = ('python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[dev,graph]" '
             '&& python -m pytest -n auto --dist loadgroup')


def test_the_set_up_lines_are_the_ones_ci_runs() -> None:
    """Two set-up lines at the top: the tool install (tests/test_install.py runs it from a
    fresh clone) and the tests in a virtual environment (what .ci/run runs)."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    blocks = re.findall(r"```\n(.*?)```", README, re.S)
    assert blocks[0].startswith(TOOL_LINE) and blocks[0].count("\n") == 1
    assert blocks[1] == TEST_LINE + "\n"
    assert f"# {TEST_LINE}\n" in ci, "the README's test line is no longer what .ci/run runs"
    for step in ('python3 -m venv "$venv"', '. "$venv/bin/activate"',
                 'python -m pip install -q -e ".[dev,graph]"',
                 "python -m pytest -n auto --dist loadgroup"):
        assert step in ci, step
    assert README.index(blocks[1]) < README.index("## ")


def test_ci_gates_on_mypy_which_the_dev_extra_installs() -> None:
    """Types are checked, not only written: .ci/run runs mypy on the package after ruff and
    before the tests (set -e: an error fails CI), and the dev extra the README's test line
    installs brings mypy and the stubs it needs; a bare `mypy` checks the same files."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    steps = [line for line in ci.splitlines() if line and not line.startswith(("#", "echo"))]
    assert "set -euo pipefail" in steps
    assert steps.index("ruff check .") < steps.index("mypy jetbox states") \
        < steps.index("python -m pytest -n auto --dist loadgroup -q -p no:cacheprovider")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dev = {re.split(r"[<>=\[]", r)[0].lower() for r in
           project["project"]["optional-dependencies"]["dev"]}
    assert {"mypy", "types-pyyaml", "types-psutil"} <= dev
    assert project["tool"]["mypy"]["files"] == ["jetbox", "states"]
    assert "mypy" in README and "mypy jetbox states" in README


def workspaces_shown() -> list[str]:
    """Every folder the README gives to -w or --workspace."""
    return re.findall(r"(?:-w|--workspace)[ =]([^\s`]+)", README)


def test_every_workspace_in_the_readme_lies_outside_the_checkout() -> None:
    """A project made inside the checkout would inherit Jetbox's own pyproject.toml (ruff
    settings, pytest's rootdir) and write into Jetbox's own .git/info/exclude."""
    shown = workspaces_shown()
    assert shown and len(set(shown)) == 1, f"one example everywhere, not {sorted(set(shown))}"
    for folder in shown:
        home = Path("/nonexistent-home")  # `~` is the person's home, never the checkout
        path = (home / folder[2:] if folder.startswith("~/") else ROOT / folder).resolve()
        assert not path.is_relative_to(ROOT.resolve()), f"-w {folder} is inside the checkout"


def test_nothing_that_goes_stale() -> None:
    assert len(README.splitlines()) <= 250
    # "442 tests", "253 passed in 13 s": the suite's size, which changes with every commit
    assert not re.search(r"\b\d+ tests\b|\d+ passed in \d", README), "test counts go stale"
    for word in ("as before", "after the redesign", "the seed"):
        assert word not in README.lower()
