"""Started in a subfolder of a project without -w, a run works in the project: the git root
or the nearest folder with pyproject.toml, setup.cfg or setup.py above the current folder,
never the home folder or the filesystem root, and it says which folder it chose."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from jetbox.engine.start import workspace_from
from jetbox.offline import OfflineOllama
from jetbox.offline.solvers import MathxSolver
from jetbox.store.root import project_root
from tests.conftest import MATHX_GOAL, jetbox_process


def test_the_git_root_above_is_the_project(tmp_path: Path) -> None:
    (tmp_path / "proj" / ".git").mkdir(parents=True)
    pkg = tmp_path / "proj" / "src" / "pkg"
    pkg.mkdir(parents=True)
    root, why = project_root(pkg)
    assert root == (tmp_path / "proj").resolve()
    assert why == f"the git root above {pkg.resolve()}"
    (tmp_path / "proj" / ".git").rmdir()
    (tmp_path / "proj" / ".git").write_text("gitdir: elsewhere\n")  # a worktree, a submodule
    assert project_root(pkg)[0] == (tmp_path / "proj").resolve()


@pytest.mark.parametrize("name", ["pyproject.toml", "setup.cfg", "setup.py"])
def test_the_nearest_project_file_above_is_the_project(tmp_path: Path, name: str) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / name).write_text("")
    pkg = tmp_path / "sub" / "pkg"
    pkg.mkdir()
    # in a repository of several projects, the one the current folder is in
    assert project_root(pkg) == ((tmp_path / "sub").resolve(),
                                 f"the nearest {name} above {pkg.resolve()}")
    assert project_root(tmp_path / "sub") == ((tmp_path / "sub").resolve(), "")


def test_never_the_home_folder_and_the_current_folder_when_nothing_is_found(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "scratch" / "deep").mkdir(parents=True)
    (home / ".git").mkdir()  # a home folder kept in git (dotfiles) is no project
    (home / "pyproject.toml").write_text("")
    deep = home / "scratch" / "deep"
    assert project_root(deep, home) == (deep.resolve(), "")
    assert project_root(home, home) == (home.resolve(), "")
    assert project_root(Path(Path.cwd().anchor)) == (Path(Path.cwd().anchor).resolve(), "")


def test_a_folder_that_holds_a_run_stays_the_workspace(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "pkg" / ".jetbox").mkdir(parents=True)
    (tmp_path / "pkg" / ".jetbox" / "agent_ledger.log").write_text("")
    assert project_root(tmp_path / "pkg") == ((tmp_path / "pkg").resolve(), "")


def test_an_explicit_workspace_is_used_as_given(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "pkg").mkdir()
    monkeypatch.chdir(tmp_path / "pkg")
    assert workspace_from(".") == (Path("."), "")
    assert workspace_from(None) == (tmp_path.resolve(), f"the nearest pyproject.toml above "
                                                        f"{(tmp_path / 'pkg').resolve()}")


def _project_venv(project: Path) -> Path:
    """The project's own .venv: no pip, and this suite's packages (pytest) through a .pth."""
    venv = project / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = next((venv / ("Scripts" if sys.platform == "win32" else "bin")).glob("python*"))
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "suite.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.mark.slow
def test_a_run_started_in_a_subfolder_works_in_the_project_and_says_so(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    pkg = project / "pkg"
    pkg.mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "proj"\nversion = "0"\n')
    (pkg / "notes.txt").write_text("the folder the person happens to be in\n")
    venv = _project_venv(project)
    with OfflineOllama(MathxSolver(project)) as server:
        child = jetbox_process("run", MATHX_GOAL, "--host", server.host, "--sandbox", "none",
                               cwd=pkg)
        out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err
    start = next(line for line in err.splitlines() if "starting at Probe" in line)
    assert f"workspace {project.resolve()} (the nearest pyproject.toml above " \
           f"{pkg.resolve()})" in start, start
    assert f"{venv.resolve()}" in start and ".venv/ in the workspace" in start, start
    assert (project / "mathx" / "__init__.py").is_file() and not (pkg / "mathx").exists()
    assert (project / "status.txt").is_file() and not (pkg / "status.txt").exists()
    assert "passed" in (project / "status.txt").read_text(encoding="utf-8")
    # status, log (and diff, undo) from the same subfolder find the same run
    status = jetbox_process("status", cwd=pkg)
    shown, _ = status.communicate(timeout=60)
    assert status.returncode == 0 and "State: Done" in shown, shown
    log = jetbox_process("log", cwd=pkg)
    timeline, _ = log.communicate(timeout=60)
    assert log.returncode == 0 and "write_file mathx/__init__.py" in timeline, timeline
