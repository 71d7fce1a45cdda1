"""Every python and shell snippet in docs/models.md runs as the page says it does (a block
that needs a real model says so in an HTML comment just above it: `<!-- needs a real model
-->`). Python snippets serve until Enter; shell snippets run line by line in a small project,
a `jetbox serve` line in the background (the docs say: in one terminal)."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ollama
import pytest

from jetbox.tools.specs import tool_specs
from tests.conftest import MATHX_GOAL, ROOT

PAGE = ROOT / "docs" / "models.md"
FENCE = re.compile(r"(?P<before>[^\n]*)\n```(?P<lang>\w*)\n(?P<code>.*?)\n```", re.S)
RUNNABLE = {"python": "python", "sh": "shell", "shell": "shell", "bash": "shell",
            "console": "shell"}
NEEDS_MODEL = "<!-- needs a real model -->"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@dataclass(frozen=True)
class Snippet:
    kind: str  # python | shell | a file another snippet uses (yaml: its first line names it)
    code: str
    line: int
    needs_model: bool

    @property
    def id(self) -> str:
        return f"models.md:{self.line}:{self.kind}"


def snippets() -> list[Snippet]:
    text = PAGE.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        kind = RUNNABLE.get(match["lang"], match["lang"])
        found.append(Snippet(kind, match["code"], text.count("\n", 0, match.start("lang")) + 1,
                             NEEDS_MODEL in match["before"]))
    return found


def files(tmp: Path) -> None:
    """The files the page's blocks create (a yaml block starting `# NAME.yaml`)."""
    for snippet in snippets():
        first = snippet.code.splitlines()[0]
        if snippet.kind == "yaml" and re.fullmatch(r"# [\w.-]+\.ya?ml", first):
            (tmp / first[2:]).write_text(snippet.code + "\n", encoding="utf-8")


def project(tmp: Path) -> Path:
    (tmp / "pkg").mkdir()
    (tmp / "pkg" / "__init__.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp / "tests").mkdir()
    (tmp / "tests" / "test_pkg.py").write_text(
        "from pkg import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    files(tmp)
    return tmp


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


RUNNABLE_SNIPPETS = [s for s in snippets() if s.kind in ("python", "shell")]


def test_the_page_has_snippets_and_every_one_is_run_or_marked() -> None:
    kinds = {s.kind for s in RUNNABLE_SNIPPETS}
    assert kinds == {"python", "shell"}, [s.id for s in snippets()]
    unknown = [s.id for s in snippets() if s.kind not in ("python", "shell", "yaml", "text")]
    assert not unknown, f"blocks this test does not know how to check: {unknown}"


@pytest.fixture
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A python snippet running in a fresh folder: its host, until Enter is pressed."""
    snippet: Snippet = request.param
    if snippet.needs_model:
        pytest.skip(f"{snippet.id} needs a real model")
    process = subprocess.Popen([sys.executable, "-c", snippet.code], cwd=project(tmp_path),
                               env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
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


PYTHON = [pytest.param(s, id=s.id) for s in RUNNABLE_SNIPPETS if s.kind == "python"]


@pytest.mark.parametrize("served", PYTHON, indirect=True)
def test_a_python_snippet_serves_a_scripted_model_until_enter(
        served: tuple[str, Path]) -> None:
    host, _ = served
    reply = ollama.Client(host=host, timeout=10).chat(
        model="gpt-oss:20b", stream=False, tools=tool_specs(),
        messages=[{"role": "user", "content": "go"}])
    assert reply.message.tool_calls or "[TOOL_CALLS]" in reply.message.content


# What `jetbox run` each python snippet's comment describes, on the folder it names.
RUNS = {"Call": ("Look around", "."), "MathxSolver": (MATHX_GOAL, "my-folder")}


@pytest.mark.slow
@pytest.mark.parametrize("served", PYTHON, indirect=True)
def test_jetbox_runs_against_each_python_snippet_as_its_comment_says(
        served: tuple[str, Path], request: pytest.FixtureRequest) -> None:
    host, folder = served
    snippet = request.node.callspec.params["served"]
    goal, workspace = next(v for k, v in RUNS.items() if f"import {k}" in snippet.code)
    result = subprocess.run([sys.executable, "-m", "jetbox", "run", goal, "-w", workspace,
                             "--host", host, "--sandbox", "none"], cwd=folder, env=ENV,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("snippet", [pytest.param(s, id=s.id) for s in RUNNABLE_SNIPPETS
                                     if s.kind == "shell"])
def test_a_shell_snippet_runs_in_a_project(snippet: Snippet, tmp_path: Path) -> None:
    if snippet.needs_model:
        pytest.skip(f"{snippet.id} needs a real model")
    folder, port = project(tmp_path), free_port()
    env = {**ENV, "OLLAMA_HOST": f"127.0.0.1:{port}"}  # not 11435: others may be using it
    servers: list[subprocess.Popen[str]] = []
    try:
        for line in snippet.code.splitlines():
            argv = shlex.split(line.replace("127.0.0.1:11435", f"127.0.0.1:{port}"),
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
