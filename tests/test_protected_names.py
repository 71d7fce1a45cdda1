"""Names only a person may create (.git, machine.yaml, ...) and the workspace's virtual
environments stay out of the model's reach, with the sandbox and without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jetbox.exec.sandbox import bwrap_usable
from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.store.kinds import ProtectedRemoved, Refused, Result, ToolResult
from jetbox.store.ledger import Ledger
from jetbox.tools.policy import ToolPolicy
from jetbox.tools.toolbox import Toolbox
from tests.conftest import ROOT, run_cli
from tests.test_sandbox import needs_bwrap

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

PLANT = """\
import pathlib
git = pathlib.Path(".git")
git.mkdir()
(git / "config").write_text("[core]\\n\\tfsmonitor = touch {marker}-git\\n")
# The text itself, not a path: under bwrap /tmp is private, and CI may clone there.
pathlib.Path("machine.yaml").write_text({machine!r}.replace("states.workspace:Done",
                                                            "evil_states:Evil"))
pathlib.Path("evil_states.py").write_text(
    "import pathlib\\npathlib.Path({marker!r}).write_text('imported')\\n"
    "from states.workspace import Done\\n\\n\\nclass Evil(Done):\\n    pass\\n")
print("planted")
"""


def turn(name: str, **arguments: object) -> Turn:
    return Turn(calls=(Call(name, dict(arguments)),))


@pytest.mark.parametrize("sandbox", ["bwrap", "none"])
def test_git_and_machine_yaml_a_command_creates_are_removed(
        workspace: Path, tmp_path: Path, sandbox: str) -> None:
    if sandbox == "bwrap":
        needs_bwrap()
    marker = tmp_path / "evil-handler-imported"
    plant = PLANT.format(marker=str(marker),
                         machine=(ROOT / "jetbox/machine.yaml").read_text(encoding="utf-8"))
    script = ScriptResponder([turn("write_file", path="plant.py", content=plant),
                              turn("run_cmd", cmd=["python", "plant.py"]),
                              turn("write_file", path="notes.txt", content="x")])
    with OfflineOllama(script) as server:
        first = run_cli("run", "goal", "-w", str(workspace), "--host", server.host,
                        "--sandbox", sandbox, "--max-rounds", "2")
        assert first.code == 3, first.err
        assert not (workspace / ".git").exists() and not (workspace / "machine.yaml").exists()
        assert (workspace / "evil_states.py").exists()  # an ordinary file: the model's to write
        ledger = Ledger(workspace / "agent_ledger.log")
        removed = [r for r in ledger.records() if isinstance(r, ProtectedRemoved)]
        assert [sorted(r.names) for r in removed] == [[".git", "machine.yaml"]]
        seen = next(r.output for r in ledger.records()
                    if isinstance(r, ToolResult) and r.name == "run_cmd")
        assert "planted" in seen
        assert "the command created .git, which only a person may create; removed" in seen
        assert "the command created machine.yaml, which only a person may create; " \
               "removed" in seen
        resumed = run_cli("run", "-w", str(workspace), "--host", server.host,
                          "--sandbox", sandbox, "--max-rounds", "1")
    assert resumed.code == 3, resumed.err
    assert not marker.exists()  # the next run did not import the model's handler


def test_removal_never_follows_a_symlink(tmp_path: Path) -> None:
    from jetbox.store.workspace import remove_created

    if os.name == "nt":
        pytest.skip("symlinks need privileges on Windows")
    outside = tmp_path / "outside"
    (outside / "keep").mkdir(parents=True)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / ".git").symlink_to(outside, target_is_directory=True)
    (workspace / "machine.yaml").symlink_to(outside / "missing.yaml")  # dangling
    assert remove_created(workspace, [".git", "machine.yaml", ".jetbox"]) == [".git",
                                                                              "machine.yaml"]
    assert not os.path.lexists(workspace / ".git")
    assert not os.path.lexists(workspace / "machine.yaml")
    assert (outside / "keep").is_dir()


def make_venv(workspace: Path) -> Path:
    site = workspace / ".venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (workspace / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return site


def test_the_workspace_venv_is_refused_to_write_file(workspace: Path) -> None:
    site = make_venv(workspace)
    toolbox = Toolbox(workspace, Ledger(workspace.parent / "l.log"), ToolPolicy(sandbox="none"))
    for path in (".venv/lib/python3.11/site-packages/evil.pth", ".venv/pyvenv.cfg"):
        result = toolbox.dispatch("write_file", {"path": path, "content": "import os\n"})
        assert result.refused and "inside a virtual environment" in result.output, result.output
    assert not (site / "evil.pth").exists()
    plain = toolbox.dispatch("write_file", {"path": "venv_notes/a.txt", "content": "x"})
    assert plain.ok, plain.output  # only a real venv (with pyvenv.cfg) is protected


def test_a_sandboxed_script_cannot_plant_a_pth_in_the_workspace_venv(workspace: Path) -> None:
    needs_bwrap()
    assert bwrap_usable()
    site = make_venv(workspace)
    plant = ("import pathlib\ntry:\n"
             f"    pathlib.Path({str(site / 'evil.pth')!r}).write_text('import os')\n"
             "    print('planted')\nexcept OSError as exc:\n    print('blocked', exc.errno)\n")
    script = ScriptResponder([
        turn("write_file", path=".venv/lib/python3.11/site-packages/evil.pth", content="x"),
        turn("write_file", path="plant.py", content=plant),
        turn("run_cmd", cmd=["python", "plant.py"])])
    with OfflineOllama(script) as server:
        result = run_cli("run", "goal", "-w", str(workspace), "--host", server.host,
                         "--sandbox", "bwrap", "--max-rounds", "3")
    assert result.code == 3, result.err
    assert not (site / "evil.pth").exists()
    records = Ledger(workspace / "agent_ledger.log").records()
    assert any(isinstance(r, Refused) and "inside a virtual environment" in r.reason
               for r in records)
    output = next(r.output_tail for r in records if isinstance(r, Result)
                  and r.action == "cmd")
    assert "blocked 30" in output  # EROFS: the venv is bound read-only


@pytest.mark.parametrize("sandbox", ["bwrap", "none"])
def test_a_conftest_that_creates_git_during_the_probe_has_it_removed(
        workspace: Path, sandbox: str) -> None:
    if sandbox == "bwrap":
        needs_bwrap()
    conftest = ("import pathlib\npathlib.Path('.git').mkdir(exist_ok=True)\n"
                "pathlib.Path('.git/config').write_text('[core]\\n\\tfsmonitor = touch x\\n')\n")
    # A test module, not conftest.py: a conftest.py the run writes is not used by the probes.
    script = ScriptResponder([turn("write_file", path="test_git.py", content=conftest),
                              turn("write_file", path="notes.txt", content="x")])
    with OfflineOllama(script) as server:
        result = run_cli("run", "goal", "-w", str(workspace), "--host", server.host,
                         "--sandbox", sandbox, "--max-rounds", "2")
    assert result.code == 3, result.err
    assert not (workspace / ".git").exists()
    removed = [r for r in Ledger(workspace / "agent_ledger.log").records()
               if isinstance(r, ProtectedRemoved)]
    assert removed and removed[0].names == [".git"] and removed[0].by == "probes"
