"""The project's own Python: found in a fixed order, used for python/pytest/pip, said aloud."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jetbox.core.errors import ConfigError
from jetbox.exec.interpreter import find_interpreter, venv_python
from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.probes.runner import Prober
from jetbox.store.ledger import Ledger
from jetbox.tools.toolbox import Toolbox
from tests.conftest import run_cli


def make_venv(folder: Path) -> Path:
    """A real virtual environment without pip or pytest (about a tenth of a second)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    return folder


def test_the_order_is_setting_then_virtual_env_then_workspace_venv_then_jetbox(
        workspace: Path, tmp_path: Path) -> None:
    assert find_interpreter(workspace, "", {}).source == "Jetbox's own"
    assert find_interpreter(workspace, "", {}).python == Path(sys.executable).absolute()
    make_venv(workspace / ".venv")
    found = find_interpreter(workspace, "", {})
    assert found.source == ".venv/ in the workspace"
    assert found.python == venv_python(workspace / ".venv") and found.venv == workspace / ".venv"
    active = make_venv(tmp_path / "active")
    assert find_interpreter(workspace, "", {"VIRTUAL_ENV": str(active)}).venv == active
    chosen = make_venv(tmp_path / "chosen")
    by_setting = find_interpreter(workspace, str(chosen), {"VIRTUAL_ENV": str(active)})
    assert by_setting.source == "the `python` setting" and by_setting.venv == chosen
    assert find_interpreter(workspace, sys.executable, {}).python == Path(sys.executable)


def test_a_bad_python_setting_is_a_clear_error(workspace: Path) -> None:
    with pytest.raises(ConfigError, match="no such interpreter"):
        find_interpreter(workspace, "nowhere/python", {})
    (workspace / "plain").mkdir()
    with pytest.raises(ConfigError, match="not a virtual environment"):
        find_interpreter(workspace, "plain", {})


def test_pytest_missing_in_the_project_python_is_said_with_the_install_command(
        workspace: Path) -> None:
    make_venv(workspace / ".venv")
    python = find_interpreter(workspace, "", {})
    assert not python.has_pytest
    (workspace / "test_a.py").write_text("def test_a():\n    pass\n")
    check = Prober(workspace, python=python).run().checks[1]
    assert not check.ok and "not installed in the project's Python" in check.summary
    assert f"{python.python} -m pip install pytest" in check.details
    toolbox = Toolbox(workspace, Ledger(workspace.parent / "l.log"), python=python)
    refused = toolbox.dispatch("run_cmd", {"cmd": ["pytest", "-q"]})
    assert refused.refused and "-m pip install pytest" in refused.output


def test_python_commands_run_in_the_project_python(workspace: Path) -> None:
    venv = make_venv(workspace / ".venv")
    (workspace / "where.py").write_text("import sys\nprint(sys.prefix)\n")
    toolbox = Toolbox(workspace, Ledger(workspace.parent / "l.log"),
                      python=find_interpreter(workspace, "", {}))
    result = toolbox.dispatch("run_cmd", {"cmd": ["python", "where.py"]})
    assert result.ok and str(venv) in result.output


@pytest.mark.slow
def test_a_run_says_which_python_once_and_status_repeats_it(workspace: Path) -> None:
    make_venv(workspace / ".venv")
    (workspace / "tool.py").write_text("print('hi')\n")
    finish = Turn(calls=(Call("finish", {"summary": "nothing to do"}),))
    with OfflineOllama(ScriptResponder([finish])) as server:
        result = run_cli("run", "Check tool.py prints", "-w", str(workspace), "--host",
                         server.host, "--sandbox", "none")
    assert result.code == 0, result.err
    assert ".venv/bin/python (.venv/ in the workspace)" in result.err.splitlines()[0]
    assert result.err.count("-m pip install pytest") == 1
    assert "pytest: not installed in the project's Python" in result.err
    status = run_cli("status", "-w", str(workspace))
    assert "python: " in status.out and ".venv/ in the workspace" in status.out


def test_jetbox_own_activated_venv_does_not_hide_the_workspace_venv(workspace: Path) -> None:
    make_venv(workspace / ".venv")
    found = find_interpreter(workspace, "", {"VIRTUAL_ENV": sys.prefix})
    assert found.venv == workspace / ".venv"


@pytest.mark.slow
def test_a_venv_that_appears_during_a_run_is_refused_on_resume(workspace: Path) -> None:
    plant = ("import venv\nvenv.create('.venv', with_pip=False)\n")
    (workspace / "plant.py").write_text(plant)
    script = [Turn(calls=(Call("run_cmd", {"cmd": ["python", "plant.py"]}),))]
    with OfflineOllama(ScriptResponder(script)) as server:
        first = run_cli("run", "Do it", "-w", str(workspace), "--host", server.host,
                        "--sandbox", "none", "--max-rounds", "1")
    assert first.code == 3 and (workspace / ".venv" / "pyvenv.cfg").is_file()
    again = run_cli("run", "-w", str(workspace), "--host", "http://127.0.0.1:9",
                    "--sandbox", "none")
    assert again.code == 2
    assert "the workspace's .venv/ (a virtual environment) appeared" in again.err
