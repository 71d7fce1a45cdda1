"""One round can be read in one sitting: docs/round.md lists its files, in reading order, and
they stay few and short, and hold every handler machine.yaml names."""

from __future__ import annotations

import re

from jetbox.spec.machine import load_machine
from tests.conftest import ROOT

MAX_FILES = 8
MAX_LINES = 1_200  # non-blank lines: a blank line costs a reader nothing
LISTED = re.compile(r"^\d+\. \[`([^`]+)`\]", re.MULTILINE)


def round_files() -> list[str]:
    return LISTED.findall((ROOT / "docs" / "round.md").read_text(encoding="utf-8"))


def test_a_round_is_at_most_eight_files_and_1200_lines() -> None:
    files = round_files()
    assert files[0] == "jetbox/machine.yaml" and len(files) == len(set(files))
    lines = {name: sum(1 for line in (ROOT / name).read_text(encoding="utf-8").splitlines()
                       if line.strip()) for name in files}
    assert len(files) <= MAX_FILES, files
    assert sum(lines.values()) <= MAX_LINES, lines


def test_every_handler_module_of_the_machine_is_on_the_reading_list() -> None:
    files = set(round_files())
    spec = load_machine(ROOT / "jetbox/machine.yaml")
    for state in spec.states:
        module = state.handler.partition(":")[0]
        path = "jetbox/" + module.replace(".", "/") + ".py"
        assert path in files, f"{state.name}: {path} is not in docs/round.md"
