"""A handler package beside machine.yaml is trusted whole: every .py in its folder is hashed,
so an edit to a module its __init__ imports is refused on resume; and only those sources
are ever loaded, never bytecode or a native extension (issue 18, item 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetbox.core.errors import ConfigError
from jetbox.engine.usercode import import_object
from tests.attackkit import attack, turn
from tests.conftest import ROOT, run_cli, trust_folder

pytestmark = pytest.mark.slow

IMPL = "from states.workspace import Done\n\n\nclass Mine(Done):\n    pass\n"
EVIL_IMPL = ("import pathlib\npathlib.Path({marker!r}).write_text('imported')\n" + IMPL)


def handler_package(workspace: Path) -> None:
    text = (ROOT / "jetbox/machine.yaml").read_text().replace("states.workspace:Done",
                                                              "myhandlers:Mine")
    (workspace / "machine.yaml").write_text(text)
    package = workspace / "myhandlers"
    package.mkdir()
    (package / "__init__.py").write_text("from .impl import Mine\n\n__all__ = ['Mine']\n")
    (package / "impl.py").write_text(IMPL)


def test_an_edited_module_of_a_handler_package_is_refused_on_resume(
        workspace: Path, tmp_path: Path) -> None:
    marker = tmp_path / "edited-impl-imported"
    handler_package(workspace)
    trust_folder(workspace)  # the person's own machine.yaml
    first = attack(workspace, [turn("write_file", path="myhandlers/impl.py",
                                    content=EVIL_IMPL.format(marker=str(marker)))],
                   "--sandbox", "none")
    assert first.code == 3, first.err
    assert "Path(" in (workspace / "myhandlers" / "impl.py").read_text()
    resumed = run_cli("run", "-w", str(workspace), "--host", "http://127.0.0.1:9",
                      "--sandbox", "none")
    assert resumed.code == 2, resumed.err
    assert "handler module `myhandlers` beside machine.yaml, its myhandlers/impl.py " \
        "changed since this run started" in resumed.err
    assert not marker.exists()  # Jetbox never imported the edited module


def test_a_handler_package_loads_only_its_python_sources(workspace: Path) -> None:
    handler_package(workspace)
    assert import_object("myhandlers:Mine", workspace).__name__ == "Mine"
    (workspace / "myhandlers" / "__init__.py").write_text("from .native import Mine\n")
    (workspace / "myhandlers" / "native.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\0")
    (workspace / "myhandlers" / "native.pyc").write_bytes(b"\0")
    with pytest.raises(ImportError, match="only .py sources"):
        import_object("myhandlers:Mine", workspace)
    assert not (workspace / "myhandlers" / "__pycache__").exists()  # no bytecode written


def test_a_handler_package_with_a_fifo_is_a_clear_error(workspace: Path) -> None:
    import os

    if not hasattr(os, "mkfifo"):
        pytest.skip("FIFOs are POSIX")
    handler_package(workspace)
    os.mkfifo(workspace / "myhandlers" / "wedge.py")
    from jetbox.engine.trust import config_digests
    from jetbox.spec.machine import load_machine

    with pytest.raises(ConfigError, match="not a regular file"):
        config_digests(load_machine(workspace / "machine.yaml"), workspace)
