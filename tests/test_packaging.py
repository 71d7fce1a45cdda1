"""The first hour, packaged: the wheel installs into a fresh virtual environment without
extras and `jetbox --version`, `jetbox demo` and a first `jetbox run` against `jetbox serve`
work there; the sdist carries a test suite that runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import MATHX_GOAL, ROOT

# One worker builds the module's fixtures once (tests/grouping.py).
pytestmark = [pytest.mark.slow]
# Read before the autouse fixture points HOME at a temporary folder: pip's download cache
# keeps the fresh install from fetching every wheel again.
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")
BIN = "Scripts" if sys.platform == "win32" else "bin"


def _skip(reason: str) -> None:
    print(f"SKIP: {reason}")
    pytest.skip(reason)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "PIP_CACHE_DIR": PIP_CACHE}


def _run(argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="session")  # once per worker (a module scope ends between its tests)
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The wheel, and what the build said (-v: setuptools' own warnings included)."""
    out = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-v",
                  "-w", str(out)], out)
    if built.returncode:
        _skip(f"pip could not build the wheel (offline?): {built.stderr[-300:]}")
    return next(out.glob("jetbox-*.whl")), built.stdout + built.stderr


@pytest.fixture(scope="session")  # once per worker (a module scope ends between its tests)
def wheel(built: tuple[Path, str]) -> Path:
    return built[0]


@pytest.fixture(scope="session")  # once per worker (a module scope ends between its tests)
def fresh(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel and its dependencies, no extras."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = next((venv / BIN).glob("python*"))
    installed = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                      str(wheel)], venv)
    if installed.returncode:
        _skip(f"pip could not install the wheel's dependencies: {installed.stderr[-300:]}")
    return venv


def test_the_wheel_holds_jetbox_and_its_handlers_under_its_own_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "jetbox/cli.py" in names and "jetbox/states/calls.py" in names
    assert "jetbox/machine.yaml" in names
    assert "jetbox/prompts.yaml" in names  # every sentence the model is sent
    assert "jetbox/evals/default/01_create_mathx.yaml" in names
    # a top-level `states` would answer `import states` in every project in the environment
    assert not [n for n in names if n.startswith(("states/", "mathx/", "tests/"))]
    assert {n.split("/")[0] for n in names if "/" in n and ".dist-info/" not in n} == {"jetbox"}
    assert any(n.endswith("licenses/LICENSE") for n in names)


def test_the_build_warns_about_no_package_left_out(built: tuple[Path, str]) -> None:
    log = built[1]
    assert "absent from the `packages` configuration" not in log, log[-3000:]
    assert not re.search(r"Package '?jetbox\.\S+'? is absent", log), log[-3000:]


def test_machine_files_still_name_the_handlers_states_dot(fresh: Path, tmp_path: Path) -> None:
    """`states.workspace:Probe` resolves to jetbox.states in Jetbox, a former module's name
    (`states.probe`) is an error naming the handler's home; `import states` elsewhere in the
    environment finds nothing of Jetbox's."""
    python = str(next((fresh / BIN).glob("python*")))
    found = _run([python, "-c", "import states"], tmp_path)
    assert "No module named 'states'" in found.stderr, found.stdout + found.stderr
    loaded = _run([python, "-c", "from pathlib import Path\n"
                   "from jetbox.engine.usercode import import_object\n"
                   "print(import_object('states.workspace:Probe', Path('.')).__module__)\n"
                   "import states.workspace\nprint(states.workspace.Done.__module__)\n"
                   "import_object('states.probe:Probe', Path('.'))"], tmp_path)
    assert loaded.stdout.split() == ["jetbox.states.workspace"] * 2, loaded.stderr
    assert "no handler module `states.probe`; `Probe` is states.workspace:Probe" in loaded.stderr


def test_a_plain_install_runs_version_demo_and_a_first_run(fresh: Path,
                                                           tmp_path: Path) -> None:
    jetbox = str(fresh / BIN / "jetbox")
    version = _run([jetbox, "--version"], tmp_path)
    assert re.fullmatch(r"jetbox \d+\.\d+\.\d+\S*\n", version.stdout), version.stderr
    demo = _run([jetbox, "demo", "-w", str(tmp_path / "demo")], tmp_path)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    project = tmp_path / "project"
    project.mkdir()
    server = subprocess.Popen([jetbox, "serve", "--host", "127.0.0.1:0"], cwd=project,
                              env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        host = re.search(r"http://127\.0\.0\.1:\d+", server.stdout.readline())
        assert host, "jetbox serve printed no host"
        run = _run([jetbox, "run", MATHX_GOAL, "--host", host.group(0)], project)
    finally:
        server.kill()
        server.communicate(timeout=20)
    assert run.returncode == 0, run.stderr
    assert (project / "mathx" / "__init__.py").is_file()
    found = _run([str(next((fresh / BIN).glob("python*"))), "-c", "import mathx"], tmp_path)
    assert found.returncode != 0, "the demo package mathx was installed into site-packages"


def test_the_sdist_carries_a_test_suite_that_runs(tmp_path: Path) -> None:
    try:
        import build  # noqa: F401
    except ImportError:
        _skip("the `build` package is not installed (it is in the dev extra)")
    built = _run([sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path),
                  str(ROOT)], tmp_path)
    if built.returncode:
        _skip(f"python -m build could not build the sdist (offline?): {built.stderr[-300:]}")
    sdist = next(tmp_path.glob("jetbox-*.tar.gz"))
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    unpacked = next(p for p in tmp_path.iterdir() if p.is_dir() and p.name.startswith("jetbox"))
    for needed in ("tests/conftest.py", "tests/unitkit.py", "tests/projects/README.md",
                   "mathx/__init__.py", "jetbox/machine.yaml", "LICENSE",
                   "bench/context_growth.py"):
        assert (unpacked / needed).is_file(), needed
    suite = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                  "tests/test_mathx.py", "tests/test_text.py",
                  "tests/test_realprojects_fixture.py"], unpacked)
    assert suite.returncode == 0, suite.stdout[-2000:]
    assert re.search(r"\d+ passed", suite.stdout)
