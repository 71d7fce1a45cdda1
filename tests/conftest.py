"""Shared fixtures: an isolated environment, a workspace, and the offline Ollama server."""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jetbox.cli import main
from jetbox.engine.start import own_files
from jetbox.offline import OfflineOllama
from jetbox.offline.solvers import MathxSolver
from jetbox.store.workspace import Workspace
from tests.grouping import pytest_xdist_make_scheduler  # noqa: F401  (a hook: its groups)

ROOT = Path(__file__).resolve().parent.parent

# A suite started in the background of a script (`cmd &`) inherits SIGINT ignored, and an
# ignored signal stays ignored across exec: every Jetbox child the Ctrl-C tests interrupt
# would ignore it too. Caught here, it is the default again in each child.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# When Jetbox works on this repository itself (the seed's demo goal on mathx/), its pytest
# probe should judge the demo package, not run Jetbox's own suite (minutes, and recursive).
if os.environ.get("JETBOX_CHILD_OF") == str(ROOT):
    collect_ignore_glob = [p.name for p in Path(__file__).parent.glob("test_*.py")
                           if p.name != "test_mathx.py"]


def pytest_configure(config: pytest.Config) -> None:
    """Jetbox's own modules are compiled once, before the workers start: the suite starts
    about 300 `python -m jetbox` children, and where PYTHONDONTWRITEBYTECODE is set (this
    machine, many CI images) each of them compiled every module it imports from source,
    150 ms a start. It writes only what any Python run without that variable writes, in
    __pycache__ folders git and the sdist leave out."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:  # the controller, or a lone pytest
        import compileall

        for package in ("jetbox", "states"):
            compileall.compile_dir(ROOT / package, quiet=1)


MATHX_GOAL = "Create a package mathx with add(a, b), add tests, then make ruff and pytest pass."


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch,
                 tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep tests away from the user's Ollama settings and home folder."""
    for name in list(os.environ):
        if name.startswith(("JETBOX_", "OLLAMA_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    # The folders a person trusts (jetbox trust): never the real user's file.
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("JETBOX_CONFIG_DIR", str(tmp_path_factory.mktemp("jetbox-config")))
    # This suite's environment has the dev extras' pytest plugins (hypothesis, langsmith):
    # 3 s of imports in every probe of a workspace without its own venv. A person's Jetbox
    # install has none of them; tests of a project's own plugins delete this.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    return folder


@pytest.fixture
def mathx_server(workspace: Path) -> Iterator[OfflineOllama]:
    """The offline Ollama with a scripted model that solves the mathx goal in `workspace`."""
    with OfflineOllama(MathxSolver(workspace)) as server:
        yield server


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


def run_cli(*argv: str) -> CliResult:
    """Run `jetbox ARGV` in-process and capture what a person would see."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return CliResult(code, out.getvalue(), err.getvalue())


def trust_folder(workspace: Path, *argv: str) -> None:
    """`jetbox trust -w WORKSPACE`: a person accepts what the folder brings."""
    result = run_cli("trust", "-w", str(workspace), *argv)
    assert result.code == 0, result.err


def jetbox_process(*argv: str, env: dict[str, str] | None = None,
                   cwd: Path | None = None) -> subprocess.Popen[str]:
    """`python -m jetbox ARGV` as a real child process (for kill tests)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "jetbox", *argv], cwd=cwd or ROOT,
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8", errors="replace")


def patch_of(root: Path) -> subprocess.CompletedProcess[bytes]:
    """`python -m jetbox diff --patch` in a child, its output as bytes (a redirect)."""
    return subprocess.run([sys.executable, "-m", "jetbox", "diff", "--patch", "-w", str(root)],
                          capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          check=False)


def files_and_modes(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file but git's and Jetbox's own: its bytes and mode."""
    own = set(own_files(Workspace.at(root)))
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not {".git", ".jetbox"} & set(rel.parts) \
                and rel.as_posix() not in own:
            found[rel.as_posix()] = (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
    return found


def status_fields(workspace: Path) -> dict[str, str]:
    """The single-valued lines of status.txt as a dict."""
    fields: dict[str, str] = {}
    for line in (workspace / "status.txt").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields
