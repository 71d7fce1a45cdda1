"""Every interpreter Jetbox runs is read-only to the model wherever it lives in the
workspace (a venv below the top level, $VIRTUAL_ENV, a `.venv` that is a link), and with
the sandbox on Jetbox never runs it outside the sandbox, so a planted `.pth` cannot reach
the host (issue 18, item 8)."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from jetbox.exec.sandbox import bwrap_usable
from tests.attackkit import attack, tool_outputs, turn

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.name == "nt", reason="POSIX venv layout and symlinks")]
PTH = "import pathlib; pathlib.Path({marker!r}).write_text('ran')\n"
PLANT = "import pathlib\npathlib.Path({path!r}).write_text({pth!r})\n"


def needs_bwrap() -> None:
    if not bwrap_usable():
        print("SKIP: bubblewrap is not usable here (CI installs it)")
        pytest.skip("bubblewrap is not usable here")


def make_venv(folder: Path) -> Path:
    venv.create(folder, with_pip=False, symlinks=True)
    return folder / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / \
        "site-packages"


def layout(workspace: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list]:
    """The project's venv as `kind` places it; its site-packages, and the flags to pass."""
    if kind == "symlinked .venv":
        site = make_venv(workspace / "envs" / "py")
        (workspace / ".venv").symlink_to("envs/py", target_is_directory=True)
        return workspace / ".venv" / site.relative_to(workspace / "envs" / "py"), []
    site = make_venv(workspace / "backend" / ".venv")
    if kind == "$VIRTUAL_ENV":
        monkeypatch.setenv("VIRTUAL_ENV", str(workspace / "backend" / ".venv"))
        return site, []
    return site, ["--python", "backend/.venv"]


@pytest.mark.parametrize("kind", ["--python backend/.venv", "$VIRTUAL_ENV", "symlinked .venv"])
def test_a_venv_anywhere_in_the_workspace_is_read_only_to_the_model(
        workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    needs_bwrap()
    marker = tmp_path / "pth-ran-on-the-host"
    site, flags = layout(workspace, kind, monkeypatch)
    pth = PTH.format(marker=str(marker))
    relative = site.relative_to(workspace).as_posix()
    (workspace / "plant.py").write_text(PLANT.format(path=f"{relative}/by_cmd.pth", pth=pth))
    turns = [turn("write_file", path=f"{relative}/by_tool.pth", content=pth),
             turn("run_cmd", cmd=["python", "plant.py"])]
    first = attack(workspace, turns, "--sandbox", "bwrap", *flags)
    assert first.code == 3, first.err
    outputs = tool_outputs(workspace)
    assert "refused" in outputs[0] and "virtual environment" in outputs[0], outputs[0]
    assert "Read-only file system" in outputs[1], outputs[1]
    assert not list(site.glob("*.pth")), "the model planted a .pth in the project's venv"
    resumed = attack(workspace, [turn("read_file", path="plant.py")], "--sandbox", "bwrap",
                     *flags)
    assert resumed.code == 3, resumed.err
    assert not marker.exists()


def test_with_the_sandbox_on_jetbox_never_runs_the_project_python_outside_it(
        workspace: Path, tmp_path: Path) -> None:
    needs_bwrap()
    marker = tmp_path / "pth-ran-on-the-host"
    site = make_venv(workspace / ".venv")
    # Already there (a person's mistake, or planted before the sandbox was on): the check
    # of the interpreter at start runs it, and so does every probe, all inside bwrap.
    (site / "planted.pth").write_text(PTH.format(marker=str(marker)))
    run = attack(workspace, [turn("read_file", path=".venv/pyvenv.cfg")], "--sandbox", "bwrap")
    assert run.code == 3, run.err
    assert not marker.exists(), "the project's python ran outside the sandbox"


def test_a_nested_venv_jetbox_does_not_run_is_read_only_under_bwrap(
        workspace: Path, tmp_path: Path) -> None:
    """`backend/.venv` serves the person's `backend/.venv/bin/python`, not Jetbox: a `.pth`
    a command plants there runs at the person's next use of it (issue 30, item 3)."""
    needs_bwrap()
    marker = tmp_path / "pth-ran-on-the-host"
    site = make_venv(workspace / "backend" / ".venv")
    deeper = make_venv(workspace / "services" / "api" / "env")
    relative = site.relative_to(workspace).as_posix()
    other = deeper.relative_to(workspace).as_posix()
    pth = PTH.format(marker=str(marker))
    (workspace / "plant.py").write_text(
        "import pathlib\n"
        f"for path in ({relative!r}, {other!r}):\n"
        "    try:\n"
        f"        (pathlib.Path(path) / 'by_cmd.pth').write_text({pth!r})\n"
        "        print('planted in', path)\n"
        "    except OSError as exc:\n"
        "        print('refused in', path, exc.strerror)\n")
    turns = [turn("write_file", path=f"{other}/by_tool.pth", content=pth),
             turn("run_cmd", cmd=["python", "plant.py"])]
    run = attack(workspace, turns, "--sandbox", "bwrap")
    assert run.code == 3, run.err
    refused = tool_outputs(workspace, "write_file")[0]
    assert "refused" in refused and "virtual environment" in refused, refused
    output = tool_outputs(workspace, "run_cmd")[0]
    assert output.count("Read-only file system") == 2 and "planted" not in output, output
    assert not list(site.glob("*.pth")) and not list(deeper.glob("*.pth"))
    subprocess.run([str(site.parents[2] / "bin" / "python"), "-c", "pass"], check=False)
    assert not marker.exists()
