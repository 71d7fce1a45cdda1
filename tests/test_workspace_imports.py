"""Jetbox never imports a module from the workspace: model-written files cannot run in it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jetbox.engine.usercode import load_handlers
from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.spec.machine import load_machine
from jetbox.store.kinds import Result
from jetbox.store.ledger import Ledger
from tests.conftest import ROOT, jetbox_process

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow


def plant_shadows(folder: Path, marker: Path, *names: str) -> None:
    """Modules that look model-written: importing any of them leaves a marker file."""
    for name in names:
        (folder / f"{name}.py").write_text(
            f"import pathlib\npathlib.Path({str(marker)!r}).write_text({name!r})\n")


def finished(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def test_python_m_jetbox_from_inside_the_workspace_imports_nothing_from_it(
        workspace: Path, tmp_path: Path) -> None:
    marker = tmp_path / "shadow-ran"
    plant_shadows(workspace, marker, "yaml", "ctypes", "tomllib")
    code, out, err = finished(jetbox_process("status", cwd=workspace))
    assert code == 0, err
    assert "no status.txt" in out and "machine:" in out
    script = ScriptResponder([Turn(calls=(Call("run_cmd", {"cmd": ["python", "hello.py"]}),))])
    (workspace / "hello.py").write_text("print('hello from the workspace')\n")
    with OfflineOllama(script) as server:
        code, out, err = finished(jetbox_process(
            "run", "say hello", "--host", server.host, "--sandbox", "none",
            "--max-rounds", "1", cwd=workspace))
    assert code == 3, err  # paused at the round limit, after running the command
    assert not marker.exists(), f"a workspace module ran inside Jetbox: {marker.read_text()}"
    results = [r for r in Ledger(workspace / "agent_ledger.log").records()
               if isinstance(r, Result) and r.action == "cmd"]
    assert results and "hello from the workspace" in str(results[0].output_tail)


def test_the_child_setup_imports_nothing_after_the_fork(tmp_path: Path) -> None:
    """Even with the workspace on sys.path, the forked child imports no `ctypes`."""
    if not sys.platform.startswith("linux"):
        print("SKIP: the parent-death setup exists on Linux only")
        pytest.skip("the parent-death setup exists on Linux only")
    marker = tmp_path / "ctypes-ran"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    plant_shadows(workspace, marker, "ctypes")
    driver = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from jetbox.exec.process import run_process
        ws = Path({str(workspace)!r})
        run_process([sys.executable, "-c", "pass"], cwd=ws, timeout_s=30)
        sys.path.insert(0, str(ws))  # as a machine.yaml in the workspace used to do
        done = run_process([sys.executable, "-c", "print('child ok')"], cwd=ws, timeout_s=30)
        print(done.output)
    """)
    done = subprocess.run([sys.executable, "-c", driver], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "child ok" in done.stdout
    assert not marker.exists()


def test_handlers_beside_machine_yaml_load_by_path_without_touching_sys_path(
        tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    marker = tmp_path / "shadow-ran"
    plant_shadows(folder, marker, "ctypes", "json")
    (folder / "my_states.py").write_text(
        "from states.workspace import Done\n\n\nclass Cheerful(Done):\n    pass\n")
    text = (ROOT / "jetbox/machine.yaml").read_text().replace("states.workspace:Done",
                                                       "my_states:Cheerful")
    (folder / "machine.yaml").write_text(text)
    before = list(sys.path)
    handlers = load_handlers(load_machine(folder / "machine.yaml"))
    assert type(handlers["Done"]).__name__ == "Cheerful"
    assert type(handlers["Done"]).__module__.startswith("_jetbox_user_")
    assert sys.path == before and str(folder) not in sys.path
    assert importlib.util.find_spec("my_states") is None  # not importable by name
    assert not marker.exists()
