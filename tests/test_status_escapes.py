"""`jetbox status` escapes everything it prints, the ledger's lines and its own, with the
one rule of jetbox/core/text.py: no ESC, BEL or bidi control reaches the terminal (issue 18,
item 15)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from jetbox.core.text import for_terminal
from tests.attackkit import attack, turn
from tests.conftest import run_cli

# An OSC title change ended by BEL, a screen clear, and the Arabic letter mark (U+061C), a
# bidi control like U+200F that reorders what follows it.
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\u061c\u202e"
RAW = ("\x1b", "\x07", "\u061c", "\u202e")


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="a venv made by a symlink to python")
def test_status_prints_no_control_character_from_the_ledger_or_the_paths(tmp_path: Path) -> None:
    workspace = tmp_path / f"repo{HOSTILE}"  # a folder name nobody checked, as cloned
    workspace.mkdir()
    venv = workspace / ".venv"  # so the `python:` line names a path inside that folder
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {Path(sys.executable).parent}\n")
    (venv / "bin" / "python").symlink_to(sys.executable)
    turns = [turn("read_file", path=f"notes{HOSTILE}.txt"),
             turn("search", pattern=f"x{HOSTILE}")]
    run = attack(workspace, turns, "--sandbox", "none")
    shown = run_cli("status", "-w", str(workspace), "-n", "30")
    assert shown.code == 0, shown.err
    assert "notes" in shown.out and "python: " in shown.out
    for char in RAW:
        assert char not in shown.out, f"{char!r} reached the terminal"
        assert char not in run.err, f"{char!r} reached the terminal during the run"
        assert char not in run.out, f"{char!r} reached the terminal in the summary"
    assert "\\u061c" in shown.out and "\\x1b" in shown.out  # shown as its escape instead


def test_the_arabic_letter_mark_is_escaped_like_every_bidi_control() -> None:
    assert for_terminal("a\u061cb") == "a\\u061cb"
