"""`jetbox graph` pictures, `jetbox log`, the live line and the summary: what a person sees."""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jetbox.commands.graph import mermaid
from jetbox.core.display import Display
from jetbox.engine.start import NO_SANDBOX_WARNING
from jetbox.offline import OfflineOllama
from jetbox.spec.machine import load_machine
from tests.conftest import ROOT, run_cli
from tests.enginekit import MATHX_DATA_GOAL, data_probes

ID = r"[A-Za-z_][A-Za-z0-9_]*"
MERMAID_RULES = [
    r"---", r"title: [^\n]+", r"stateDiagram-v2", r"direction (LR|TB|RL|BT)",
    rf"classDef {ID} [a-z-]+:[#\w]+(,[a-z-]+:[#\w]+)*", rf'state "[^"]+" as {ID}',
    rf"class {ID} {ID}", rf"({ID}|\[\*\]) --> ({ID}|\[\*\])(: [^:;#]+)?", r"",
]


def check_mermaid(text: str) -> None:
    """The statement forms of Mermaid's stateDiagram grammar that Jetbox's output uses."""
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "---" and lines[2] == "---" and lines[3] == "stateDiagram-v2"
    for number, line in enumerate(lines, start=1):
        assert any(re.fullmatch(rule, line) for rule in MERMAID_RULES), f"line {number}: {line!r}"
    declared = set(re.findall(rf'^\s*state "[^"]+" as ({ID})$', text, re.M))
    used = set(re.findall(rf"^\s*(?:class ({ID}) )", text, re.M))
    ends = {n for pair in re.findall(rf"^\s*({ID}|\[\*\]) --> ({ID}|\[\*\])", text, re.M)
            for n in pair} - {"[*]"}
    definitions = re.findall(rf"^\s*classDef ({ID})", text, re.M)
    assert len(definitions) == len(set(definitions)), "a class is defined twice"
    classes = set(definitions)
    assert used <= declared and ends <= declared
    assert set(re.findall(rf"^\s*class {ID} ({ID})$", text, re.M)) <= classes


def test_default_mermaid_is_valid_and_marks_start_and_final() -> None:
    text = mermaid(load_machine(ROOT / "jetbox/machine.yaml"))
    check_mermaid(text)
    assert "  [*] --> Probe" in text and "  Done --> [*]" in text
    assert "s_active" not in text.split("classDef s_active")[1]  # nothing is active with no run


def test_graph_of_a_run_highlights_its_state_and_marks_its_path(
        workspace: Path, mathx_server: OfflineOllama) -> None:
    run_cli("run", MATHX_DATA_GOAL, "-w", str(workspace), "--host", mathx_server.host,
            "--max-rounds", "1", "--sandbox", "none", *data_probes(workspace))
    result = run_cli("graph", "-w", str(workspace), "--machine", str(ROOT / "jetbox/machine.yaml"))
    check_mermaid(result.out)
    assert "class Probe s_active" in result.out
    for state in ("Compact", "Plan", "Ask", "Calls", "Reflect", "Persist"):
        assert f"class {state} s_previous" in result.out
    assert "class Done s_default" in result.out and "[*] --> Probe" in result.out


def test_svg_contains_every_state_and_png_is_a_png(tmp_path: Path) -> None:
    pytest.importorskip("graphviz", reason="the graph extra is not installed")
    svg = run_cli("graph", "--machine", str(ROOT / "jetbox/machine.yaml"), "--format", "svg")
    if svg.code == 2 and "Graphviz is needed" in svg.err:
        pytest.skip("the `dot` program is not installed (.ci/run installs graphviz)")
    assert svg.code == 0 and svg.out.lstrip().startswith("<?xml")
    for state in load_machine(ROOT / "jetbox/machine.yaml").state_names:
        assert f">{state}</text>" in svg.out
    assert "probed [finish_requested &amp; probes_green]" in svg.out
    png = tmp_path / "m.png"
    result = run_cli("graph", "--machine", str(ROOT / "jetbox/machine.yaml"), "-f", "png",
                     "-o", str(png))
    assert result.code == 0 and png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    dot = run_cli("graph", "--machine", str(ROOT / "jetbox/machine.yaml"), "-f", "dot")
    assert dot.out.startswith("digraph") and "Probe -> Compact" in dot.out


def test_without_graphviz_the_message_names_what_to_install() -> None:
    code = ("import sys; sys.modules['graphviz'] = None\n"
            "from jetbox.cli import main\n"
            f"sys.exit(main(['graph', '--machine', {str(ROOT / 'jetbox/machine.yaml')!r}, "
            f"'-f', 'svg']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert 'pip install "jetbox[graph]"' in proc.stderr and "apt install graphviz" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_png_needs_an_output_file() -> None:
    result = run_cli("graph", "--machine", str(ROOT / "jetbox/machine.yaml"), "-f", "png")
    assert result.code == 2 and "give -o FILE" in result.err


def test_readme_diagram_matches_the_machine() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```mermaid\n(.*?)```", readme, re.S)
    assert block, "README has no mermaid block"
    assert block.group(1) == mermaid(load_machine(ROOT / "jetbox/machine.yaml")), \
        "regenerate it: python -m jetbox graph --machine machine.yaml"


@pytest.mark.slow
def test_log_is_a_readable_timeline(workspace: Path, mathx_server: OfflineOllama) -> None:
    run_cli("run", MATHX_DATA_GOAL, "-w", str(workspace), "--host", mathx_server.host,
            "--sandbox", "none", *data_probes(workspace))
    result = run_cli("log", "-w", str(workspace))
    assert result.code == 0 and "{" not in result.out.split("run started")[0]
    text = result.out
    assert f"run started: {MATHX_DATA_GOAL}" in text
    assert re.search(r"r1\s+Ask\s+model: write_file; \d+ tokens in, \d+ out", text)
    assert re.search(r"r1\s+Calls\s+write_file mathx/__init__.py -> ok", text)
    assert "DONE: ruff: clean; pytest: 2 passed" in text
    # A round's six transitions are in the state column; lines of their own on request.
    assert "Probe -> Compact" not in text
    assert "Probe -> Compact (probed)" in run_cli("log", "-w", str(workspace),
                                                  "--transitions").out
    last = run_cli("log", "-w", str(workspace), "-n", "2")
    assert len(last.out.splitlines()) == 2


@pytest.mark.slow
def test_log_follow_prints_new_entries(workspace: Path, mathx_server: OfflineOllama) -> None:
    follower = subprocess.Popen([sys.executable, "-m", "jetbox", "log", "-w", str(workspace),
                                 "--follow"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        run_cli("run", MATHX_DATA_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                "--sandbox", "none", *data_probes(workspace))
        assert follower.stdout is not None
        seen = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            seen.append(follower.stdout.readline())
            if "DONE:" in seen[-1]:
                break
        assert any("run started" in line for line in seen) and "DONE:" in seen[-1]
    finally:
        follower.kill()
        follower.wait()


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_keeps_every_event_and_a_live_line_only_for_progress() -> None:
    logger = logging.getLogger("test.display")
    tty, pipe = FakeTerminal(), io.StringIO()
    for stream in (tty, pipe):
        display = Display(logger, stream)
        display.event("probing", 1, "Probe")
        display.progress("gpt-oss:20b: 12 chunks, 1.5 s")
        display.event("write_file a.py -> ok", 1, "Act")
        display.warn("careful")
    # Three lines that stay (two events, the warning); the progress drawn once, then cleared.
    assert tty.getvalue().count("\n") == 3 and tty.getvalue().count("\r\x1b[K") == 2
    assert "r1 Probe: probing\n" in tty.getvalue()
    assert "r1 Act: write_file a.py -> ok\n" in tty.getvalue()
    assert pipe.getvalue().splitlines()[1].endswith("r1 Act: write_file a.py -> ok")
    assert "12 chunks" not in pipe.getvalue() and len(pipe.getvalue().splitlines()) == 3


@pytest.mark.slow
def test_quiet_and_verbose(workspace: Path, mathx_server: OfflineOllama) -> None:
    quiet = run_cli("run", MATHX_DATA_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                    "--sandbox", "none", *data_probes(workspace), "--quiet")
    # --quiet keeps warnings, and running without a sandbox is one at every start (issue 30).
    assert quiet.code == 0
    assert quiet.err.splitlines() == [f"warning: {NO_SANDBOX_WARNING}"]
    logger = logging.getLogger("test.verbose")
    tty = FakeTerminal()
    display = Display(logger, tty, verbose=True)
    display.event("a", 1, "Probe")
    display.event("b", 1, "Act")
    assert tty.getvalue().count("\n") == 2


@pytest.mark.slow
def test_the_run_ends_with_a_summary_table(workspace: Path, mathx_server: OfflineOllama) -> None:
    result = run_cli("run", MATHX_DATA_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                     "--sandbox", "none", *data_probes(workspace))
    table = result.out.split("run summary (done)")[1]  # the summary is on stdout
    for row in ("exit reason", "rounds", "model calls", "tokens in / out", "files written",
                "commands run", "refusals", "verdict", "python", "wall time"):
        assert row in table
    assert re.search(r"files written\s+2 this session", table)
    assert re.search(r"verdict\s+ruff: clean; pytest: 2 passed, 0 regressions", table)
