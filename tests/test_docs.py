"""Every fenced block in README.md and docs/*.md is run, checked, or marked as one that cannot
be: the test fails on any block it does not know how to handle.

- run: a python block runs in a fresh folder (one that serves, `input(...)`, serves Jetbox's
  offline model until Enter, and `jetbox run` is pointed at it); a shell block runs line by
  line in a small project against Jetbox's offline server (slow tier), a `jetbox serve` line
  in the background (the docs say: in one terminal).
- checked (quick tier): every `jetbox ...` line of any block, and every `jetbox ...` code span
  in the prose, parses with Jetbox's own command
  line (its subcommand and flags exist); a toml block is read as [tool.jetbox] settings; a yaml
  block is the file another block uses (`# NAME.yaml`), an excerpt of machine.yaml, a sketch
  of a machine (its keys and handlers exist) or an eval task (its keys); the README's diagram
  is what `jetbox graph` draws, the architecture diagram names modules that exist.
- marked: an HTML comment on the line before the fence (or ending it, where a line counts:
  the README stays under 250 lines): `<!-- needs a real model -->`,
  `<!-- output -->` (sample output; `$ jetbox ...` lines in it are still checked) or
  `<!-- not run: REASON -->` (needs the network, sudo, Windows...); their `jetbox` lines are
  still checked.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import shlex
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ollama
import pytest
import yaml

from jetbox.cli import build_parser
from jetbox.commands.graph import mermaid
from jetbox.offline import OfflineOllama
from jetbox.offline.solvers import MathxSolver
from jetbox.spec.config import pyproject_settings, resolve_settings
from jetbox.spec.machine import load_machine
from jetbox.tools.schemas import tool_specs
from tests.conftest import MATHX_GOAL, ROOT
from tests.enginekit import MATHX_DATA_GOAL, data_probes

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\n(?P<code>.*?)\n(?P=indent)```$",
                   re.S | re.M)
SHELL = {"sh": "shell", "shell": "shell", "bash": "shell", "console": "shell", "": "shell"}
MARKER = re.compile(r"<!-- (needs a real model|output|not run: .+?) -->$")
MACHINE = ROOT / "jetbox" / "machine.yaml"
def child_env() -> dict[str, str]:
    """The environment as the test sees it (tests/conftest.py isolated_env: its own HOME
    and config folder, no installed pytest plugins), not as it was at import."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    kind: str  # python | shell | yaml | toml | mermaid | text ...
    code: str
    marker: str | None  # needs a real model | output | not run: REASON

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}:{self.kind}"

    @property
    def serves(self) -> bool:
        return self.kind == "python" and "input(" in self.code


def page_blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        marker = MARKER.search(before)
        code = textwrap.dedent("\n".join(
            line[len(match["indent"]):] for line in match["code"].split("\n")))
        found.append(Block(page.relative_to(ROOT).as_posix(),
                           text.count("\n", 0, match.start("lang")) + 1,
                           SHELL.get(match["lang"], match["lang"]), code,
                           marker[1] if marker else None))
    return found


BLOCKS = [block for page in PAGES for block in page_blocks(page)]


def handling(block: Block) -> str:
    """run | checked | marked, or unknown: a block this test cannot vouch for."""
    if block.marker:
        return "marked"
    if block.kind == "python":
        return "run"
    if block.kind == "shell":
        prompts = any(line.startswith("$ ") for line in block.code.splitlines())
        return "unknown" if prompts else "run"  # a transcript: mark it `<!-- output -->`
    if block.kind in ("toml", "yaml", "mermaid") and checker(block) is not None:
        return "checked"
    return "unknown"


def test_every_block_in_the_docs_is_run_checked_or_marked() -> None:
    assert {b.page for b in BLOCKS} >= {"README.md", "docs/models.md"}
    unknown = [b.id for b in BLOCKS if handling(b) == "unknown"]
    assert not unknown, (
        f"blocks this test can neither run nor check: {unknown}; if one cannot run here, "
        "put `<!-- needs a real model -->`, `<!-- output -->` or `<!-- not run: REASON -->` "
        "on the line before its fence")
    assert all(b.serves for b in BLOCKS if b.kind == "python" and b.page == "docs/models.md")


# --- checked: the commands exist ------------------------------------------------------------

def jetbox_commands(block: Block) -> list[str]:
    """Each `jetbox ...` (or `python -m jetbox ...`) command the block shows; in output only
    the ones after a `$ ` prompt."""
    found = []
    for line in block.code.splitlines():
        if block.marker == "output":
            if not line.startswith("$ "):
                continue
            line = line[2:]
        for part in line.split("&&"):
            part = part.strip()
            if part.startswith(("jetbox ", "python -m jetbox ")) or part == "jetbox":
                found.append(part)
    return found


def inline_commands(page: Path) -> list[str]:
    """`jetbox ...` in the prose's code spans; a usage line's `[--flag X]` and its capital
    placeholders (N, SUITE) are read as the flag given a value."""
    prose = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    found = []
    for span in re.findall(r"`((?:python -m )?jetbox [^`]+)`", prose):  # not the name alone
        words = shlex.split(span.replace("[", " ").replace("]", " "), comments=True)
        found.append(shlex.join("1" if re.fullmatch(r"[A-Z][A-Z_]*", w) else w
                                for w in words))
    return sorted(set(found))


COMMANDS = [pytest.param(command, id=f"{b.id}:{command[:40]}")
            for b in BLOCKS if b.kind == "shell" for command in jetbox_commands(b)] + [
    pytest.param(command, id=f"{page.relative_to(ROOT).as_posix()}:inline:{command[:40]}")
    for page in PAGES for command in inline_commands(page)]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_jetbox_command_shown_parses(command: str) -> None:
    """Its subcommand and every flag exist and take the values given (`jetbox X --help` would
    list them; parsing also catches a flag given the wrong kind of value)."""
    argv = shlex.split(command, comments=True)
    # The shell's part (`2>&1 | head -4`, `> patch.diff`) is not Jetbox's to parse.
    shell = next((i for i, word in enumerate(argv)
                  if word in ("|", "||", "&&", ";") or word.startswith((">", "2>", "<"))), None)
    argv = argv[:shell]
    argv = argv[3:] if argv[0] == "python" else argv[1:]
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            args = build_parser(argv).parse_args(argv)
    except SystemExit as exc:
        assert exc.code == 0, f"`{command}` does not parse: {errors.getvalue()}"
        return
    assert args.command is not None, f"`{command}` names no command"


def script_commands() -> list[str]:
    """`python bench/X.py ...` and `python scripts/X.py ...` as the docs show them."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        found += [" ".join(span.split()) for span in
                  re.findall(r"`(python3?\s+(?:bench|scripts)/[^`]+)`", text)]
    return sorted(set(found))


@pytest.mark.parametrize("command", script_commands())
def test_every_bench_or_script_command_shown_exists_with_its_flags(command: str) -> None:
    """The script is there and defines each `--flag` shown (the flags its `--help` lists;
    read from its source: a bench's own run takes minutes)."""
    script = ROOT / command.split()[1]
    assert script.is_file(), command
    source = script.read_text(encoding="utf-8")
    for flag in re.findall(r"(?<![\w-])--[\w-]+", command):
        assert f'"{flag}"' in source, f"{script.name} has no {flag}"


# --- checked: files and diagrams ------------------------------------------------------------

def used_file(block: Block) -> bool:
    """A `# NAME.yaml` block that a run block on the same page uses."""
    first = block.code.splitlines()[0]
    name = first[2:]
    return bool(re.fullmatch(r"# [\w.-]+\.ya?ml", first)) and any(
        name in b.code for b in BLOCKS
        if b.page == block.page and b.kind in ("shell", "python") and not b.marker)


def check_settings(block: Block, tmp: Path) -> None:
    """Read as a workspace's pyproject.toml, the way a run reads it (names and values)."""
    (tmp / "pyproject.toml").write_text(block.code + "\n", encoding="utf-8")
    assert pyproject_settings(tmp), "no [tool.jetbox] settings in the block"
    resolve_settings({}, tmp, {}, {})


def check_machine_excerpt(block: Block, tmp: Path) -> None:
    machine = MACHINE.read_text(encoding="utf-8").splitlines()
    for line in block.code.splitlines():
        assert line == "..." or line in machine, f"not in jetbox/machine.yaml: {line!r}"


def check_machine_sketch(block: Block, tmp: Path) -> None:
    data = yaml.safe_load(block.code)
    assert set(data) <= set(yaml.safe_load(MACHINE.read_text(encoding="utf-8"))), set(data)
    for state in data["states"]:
        module, name = state["handler"].split(":")
        assert hasattr(importlib.import_module(f"jetbox.{module}"), name), state


def check_eval_task(block: Block, tmp: Path) -> None:
    """The task format as `jetbox eval` reads it (its loader rejects an unknown key)."""
    from jetbox.commands.evaluate import load_task

    (tmp / "task.yaml").write_text(block.code + "\n", encoding="utf-8")
    task = load_task(tmp / "task.yaml")
    assert task.goal and task.check and task.offline_script and task.max_rounds == 10


def check_readme_diagram(block: Block, tmp: Path) -> None:
    assert block.code == mermaid(load_machine(ROOT / "jetbox/machine.yaml")).rstrip("\n"), \
        "regenerate it: python -m jetbox graph --machine machine.yaml"


def check_module_diagram(block: Block, tmp: Path) -> None:
    """Each box `name/<br/>a, b, c` names jetbox/name/a.py ... and `jetbox/x.py` exists."""
    for folder, names in re.findall(r'"(\w+)/<br/>([^"]*)"', block.code):
        for name in re.split(r",\s*|<br/>", re.sub(r"\(.*?\)", "", names)):
            name = name.strip()
            if name and name != "the handlers":
                assert (ROOT / "jetbox" / folder / f"{name}.py").exists() or \
                    (ROOT / "jetbox" / folder / name).is_dir(), f"jetbox/{folder}/{name}"
    for path in re.findall(r"jetbox/[\w/]+\.py", block.code):
        assert (ROOT / path).exists(), path


def checker(block: Block):  # noqa: ANN201 - one of the check_* functions above, or None
    if block.kind == "toml" and "[tool.jetbox]" in block.code:
        return check_settings
    if block.kind == "yaml":
        if used_file(block):
            return lambda block, tmp: None  # checked by the run of the block that uses it
        if "..." in block.code.splitlines():
            return check_machine_excerpt
        data = yaml.safe_load(block.code)
        if isinstance(data, dict) and "goal" in data:
            return check_eval_task
        if isinstance(data, dict) and "states" in data:
            return check_machine_sketch
    if block.kind == "mermaid":
        if "stateDiagram" in block.code:
            return check_readme_diagram
        if "flowchart" in block.code:
            return check_module_diagram
    return None


@pytest.mark.parametrize("block", [pytest.param(b, id=b.id) for b in BLOCKS
                                   if handling(b) == "checked"])
def test_a_file_or_diagram_block_is_true(block: Block, tmp_path: Path) -> None:
    check = checker(block)
    assert check is not None
    check(block, tmp_path)


# --- run ------------------------------------------------------------------------------------

def files(page: str, tmp: Path) -> None:
    """The files the page's blocks create (a yaml block starting `# NAME.yaml`)."""
    for block in BLOCKS:
        first = block.code.splitlines()[0]
        if block.page == page and block.kind == "yaml" and \
                re.fullmatch(r"# [\w.-]+\.ya?ml", first):
            (tmp / first[2:]).write_text(block.code + "\n", encoding="utf-8")


def project(page: str, tmp: Path) -> Path:
    tmp.mkdir(exist_ok=True)
    (tmp / "pkg").mkdir()
    (tmp / "pkg" / "__init__.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp / "tests").mkdir()
    (tmp / "tests" / "test_pkg.py").write_text(
        "from pkg import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    files(page, tmp)
    return tmp


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


RUN = [b for b in BLOCKS if handling(b) == "run"]


@pytest.mark.parametrize("block", [pytest.param(b, id=b.id) for b in RUN
                                   if b.kind == "python" and not b.serves])
def test_a_python_block_runs(block: Block, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", block.code], cwd=tmp_path, env=child_env(),
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A python block running in a fresh folder: its host, until Enter is pressed."""
    block: Block = request.param
    process = subprocess.Popen([sys.executable, "-c", block.code],
                               cwd=project(block.page, tmp_path), env=child_env(),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdin is not None
    host = process.stdout.readline().strip()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", host), \
            host + (process.stderr.read() if process.poll() is not None else "")
        yield host, tmp_path
        assert process.poll() is None, "the server stopped before Enter was pressed"
    finally:
        out, err = process.communicate("\n", timeout=20)
    assert process.returncode == 0, err


SERVING = [pytest.param(b, id=b.id) for b in RUN if b.serves]


@pytest.mark.parametrize("served", SERVING, indirect=True)
def test_a_python_block_serves_a_scripted_model_until_enter(
        served: tuple[str, Path]) -> None:
    host, _ = served
    reply = ollama.Client(host=host, timeout=10).chat(
        model="gpt-oss:20b", stream=False, tools=tool_specs(),
        messages=[{"role": "user", "content": "go"}])
    assert reply.message.tool_calls or "[TOOL_CALLS]" in reply.message.content


# What `jetbox run` each serving block's comment describes, on the folder it names.
RUNS = {"Call": ("Look around", "."), "MathxSolver": (MATHX_GOAL, "my-folder")}


@pytest.mark.slow
@pytest.mark.parametrize("served", SERVING, indirect=True)
def test_jetbox_runs_against_each_serving_block_as_its_comment_says(
        served: tuple[str, Path], request: pytest.FixtureRequest) -> None:
    host, folder = served
    block = request.node.callspec.params["served"]
    goal, workspace = next(v for k, v in RUNS.items() if f"import {k}" in block.code)
    result = subprocess.run([sys.executable, "-m", "jetbox", "run", goal, "-w", workspace,
                             "--host", host, "--sandbox", "none"], cwd=folder, env=child_env(),
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]


def earlier_run(folder: Path, name: str) -> None:
    """What a block takes as given: `../NAME/agent_ledger.log`, a run that solved the mathx
    goal (scripted; its probes are data, only its replies are replayed), and machine.yaml
    beside it to edit."""
    earlier = folder.parent / name
    earlier.mkdir()
    with OfflineOllama(MathxSolver(earlier)) as server:
        result = subprocess.run([sys.executable, "-m", "jetbox", "run", MATHX_DATA_GOAL, "-w",
                                 str(earlier), "--host", server.host, "--sandbox", "none",
                                 *data_probes(earlier)], cwd=folder, env=child_env(),
                                capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    (folder / "machine.yaml").write_bytes(MACHINE.read_bytes())


@pytest.mark.slow
@pytest.mark.parametrize("block", [pytest.param(b, id=b.id) for b in RUN
                                   if b.kind == "shell"])
def test_a_shell_block_runs_in_a_project(block: Block, tmp_path: Path) -> None:
    folder, port = project(block.page, tmp_path / "project"), free_port()
    for name in re.findall(r"\.\./(\w+)/agent_ledger\.log", block.code):
        earlier_run(folder, name)
    env = {**child_env(), "OLLAMA_HOST": f"127.0.0.1:{port}"}  # not the page's: others may use it
    servers: list[subprocess.Popen[str]] = []
    try:
        for line in block.code.splitlines():
            line = re.sub(r"--port \d+", f"--port {port}", line)
            argv = shlex.split(re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{port}", line),
                               comments=True)
            if argv[0] == "jetbox":
                argv = [sys.executable, "-m", "jetbox", *argv[1:]]
            if argv[3:4] == ["serve"]:  # the docs run it in a terminal of its own
                servers.append(subprocess.Popen(argv, cwd=folder, env=env, text=True,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE))
                banner = servers[-1].stdout.readline() if servers[-1].stdout else ""
                assert f"127.0.0.1:{port}" in banner, banner + servers[-1].stderr.read()
                continue
            result = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True,
                                    timeout=300, check=False)
            assert result.returncode == 0, f"{line}\n{result.stderr[-3000:]}"
    finally:
        for server in servers:
            server.kill()
            server.communicate(timeout=20)


# --- docs/performance.md is a reference -----------------------------------------------------

def test_performance_names_every_bench_and_reads_as_a_reference() -> None:
    """Each bench in bench/ has its place (what it measures, how to run it, its figures or
    that none are recorded); no diary of changes ("this stop", "re-measured")."""
    text = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    benches = {p.name for p in (ROOT / "bench").glob("*.py")} - {"__init__.py", "common.py"}
    missing = sorted(name for name in benches if f"bench/{name}" not in text)
    assert not missing, f"benches docs/performance.md does not describe: {missing}"
    for diary in ("this stop", "last stop", "re-measured", "this change", "this work",
                  "this round", "this session"):
        assert diary not in text.lower(), diary
