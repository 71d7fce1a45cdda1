"""The project's own Python: the interpreter its tests need, found once when a run opens."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jetbox.core.errors import ConfigError
from jetbox.core.prompts import say
from jetbox.exec.process import scrubbed_env
from jetbox.store.workspace import is_venv

# Folders inside the workspace recognised as the project's venv (by their pyvenv.cfg).
VENV_NAMES = (".venv", "venv")
_HAS_PYTEST = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('pytest') else 3)"


@dataclass(frozen=True)
class Interpreter:
    """Which Python runs the project's python, pytest and pip, and why that one."""

    python: Path            # the executable, not resolved: a venv's python is a symlink
    source: str             # how it was found, for `status`, the start line and the summary
    venv: Path | None       # its virtual environment, read-only to the model
    has_pytest: bool

    def folders(self) -> tuple[Path, ...]:
        """What a sandbox must show for this interpreter to run: its venv and its home."""
        real = Path(os.path.realpath(self.python)).parent.parent
        return (*([self.venv] if self.venv else []), real)

    def describe(self) -> str:
        return f"{self.python} ({self.source})"

    def pytest_missing_hint(self) -> str:
        return say("probe.pytest_missing", python=self.python, source=self.source)


def venv_python(venv: Path) -> Path:
    """The interpreter inside a virtual environment, on Windows or elsewhere."""
    return venv / "Scripts" / "python.exe" if os.name == "nt" else venv / "bin" / "python"


def workspace_venvs(workspace: Path) -> list[Path]:
    """The workspace's venvs that are candidates for the project's Python, in order."""
    return [workspace / name for name in VENV_NAMES if is_venv(workspace / name)]


def _from_setting(value: str, workspace: Path) -> tuple[Path, Path | None]:
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = workspace / path
    if path.is_dir():
        if not is_venv(path):
            raise ConfigError(f"`python` = {value!r} is a folder but not a virtual environment "
                              f"(no pyvenv.cfg); give a python executable or a venv folder")
        return venv_python(path), path
    if not path.is_file():
        raise ConfigError(f"`python` = {value!r}: no such interpreter ({path})")
    parent = path.parent.parent
    return path, parent if is_venv(parent) else None


def find_interpreter(workspace: Path, setting: str, environ: Mapping[str, str],
                     sandbox: str = "none") -> Interpreter:
    """The `python` setting, else $VIRTUAL_ENV (unless it is Jetbox's own), else .venv/ or
    venv/ in the workspace, else the Python Jetbox runs in. With `sandbox` bwrap, the
    check that runs it happens inside the sandbox, like every later use."""
    if setting:
        python, venv = _from_setting(setting, workspace)
        return _checked(python, "the `python` setting", venv, workspace, sandbox)
    active = environ.get("VIRTUAL_ENV", "").strip()
    # Jetbox's own activated venv says nothing about the project: look further.
    own = active and Path(active).resolve() == Path(sys.prefix).resolve()
    if active and not own and is_venv(Path(active)) and venv_python(Path(active)).is_file():
        return _checked(venv_python(Path(active)), "$VIRTUAL_ENV", Path(active), workspace,
                        sandbox)
    for venv in workspace_venvs(workspace):
        if venv_python(venv).is_file():
            return _checked(venv_python(venv), f"{venv.name}/ in the workspace", venv,
                            workspace, sandbox)
    return _checked(Path(sys.executable), "Jetbox's own", None, workspace, sandbox)


def _checked(python: Path, source: str, venv: Path | None, workspace: Path,
             sandbox: str) -> Interpreter:
    absolute = Path(os.path.abspath(python))
    if absolute == Path(os.path.abspath(sys.executable)):
        import importlib.util

        return Interpreter(absolute, source, venv, importlib.util.find_spec("pytest") is not None)
    # -I: the workspace is not on sys.path, so nothing there answers for pytest. A .pth in
    # its venv still runs: hence the sandbox, where the model's commands run it too.
    argv = [str(absolute), "-I", "-c", _HAS_PYTEST]
    if sandbox == "bwrap":
        from jetbox.exec.sandbox import bwrap_argv

        argv = bwrap_argv(argv, workspace, visible=Interpreter(absolute, source, venv,
                                                                False).folders())
    try:
        code = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=scrubbed_env(), timeout=60,
                              check=False).returncode
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"the project's Python {absolute} ({source}) cannot run: {exc}; "
                          f"fix it or choose another with --python") from None
    return Interpreter(absolute, source, venv, code == 0)
