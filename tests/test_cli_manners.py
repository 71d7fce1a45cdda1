"""The command line's manners: usage on a bare `jetbox`, short options listed first, the
defaults shown, and misspelled settings caught with their line and a suggestion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jetbox.cli import PLUGGED_COMMANDS
from tests.conftest import ROOT, run_cli

COMMANDS = ["run", "status", "graph", *PLUGGED_COMMANDS]


def test_bare_jetbox_is_a_usage_error_with_a_hint() -> None:
    result = run_cli()
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("usage: jetbox ") and "`jetbox demo`" in result.err
    assert "`jetbox --help`" in result.err


@pytest.mark.parametrize("command", COMMANDS)
def test_help_lists_the_short_option_before_the_long_one(command: str) -> None:
    result = run_cli(command, "--help")
    assert result.code == 0
    option_lines = [ln for ln in result.out.splitlines() if re.match(r"\s+-", ln)]
    assert option_lines
    for line in option_lines:
        assert not re.match(r"\s+--\S+( \S+)?, -[a-zA-Z]\b", line), line


def test_run_help_shows_the_limits_defaults() -> None:
    text = " ".join(run_cli("run", "--help").out.split())
    assert "--max-rounds N rounds before pausing, exit 3 (default: 20" in text
    assert "--timebox SECONDS seconds before pausing, exit 3 (default: 900" in text


@pytest.mark.parametrize("section, wrong, right", [
    ("limits", "max_round", "max_rounds"), ("settings", "modle", "model"),
    ("settings", "temprature", "temperature")])
def test_a_misspelled_setting_names_its_line_and_the_likely_one(
        tmp_path: Path, section: str, wrong: str, right: str) -> None:
    text = (ROOT / "jetbox/machine.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    header = lines.index(f"{section}:")
    lines.insert(header + 1, f"  {wrong}: 3")
    machine = tmp_path / "machine.yaml"
    machine.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_cli("graph", "--machine", str(machine))
    assert result.code == 2
    assert f"{machine}:{header + 2}: unknown setting `{wrong}`" in result.err
    assert f"(did you mean `{right}`?)" in result.err


def test_a_misspelled_top_level_key_gets_a_suggestion(tmp_path: Path) -> None:
    machine = tmp_path / "machine.yaml"
    text = (ROOT / "jetbox/machine.yaml").read_text(encoding="utf-8")
    machine.write_text(text.replace("\ntransitions:", "\ntransitons:"), encoding="utf-8")
    result = run_cli("graph", "--machine", str(machine))
    assert result.code == 2 and "(did you mean `transitions`?)" in result.err


def test_a_new_goal_in_a_folder_that_does_not_exist_creates_it(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "project"
    result = run_cli("run", "Write hello.py", "-w", str(folder), "--host", "127.0.0.1:9",
                     "--sandbox", "none")
    assert folder.is_dir() and f"created {folder}" in result.err
    assert result.code == 4  # then it went on, and found no model server
    resume = run_cli("run", "-w", str(tmp_path / "missing"))
    assert resume.code == 2 and "is not a folder" in resume.err
