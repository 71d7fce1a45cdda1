"""The README's first line, tried where it has to work: a fresh clone, and a system Python that
carries PEP 668's EXTERNALLY-MANAGED marker, as Debian 12's and Ubuntu 24.04's do. A plain
`pip install .` is refused there; the README's tool install (pipx, else uv, each installed
from the package index into a helper venv) gives a working `jetbox`, from the checkout and
from a git URL; the README's second way, a virtual environment, works there too."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.platform == "win32", reason="PEP 668 is a Linux matter")]
# Read before the autouse fixture points HOME at a temporary folder: pip's download cache
# keeps the installs from fetching every wheel again.
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _skip(reason: str) -> None:
    print(f"SKIP: {reason}")
    pytest.skip(reason)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, "PIP_CACHE_DIR": PIP_CACHE, **extra}


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env or _env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def system_python(folder: Path) -> Path:
    """A Python installation of its own in `folder`, as a distribution ships one: a copy of
    the interpreter, the standard library linked in, an empty site-packages and PEP 668's
    marker in the stdlib folder. (The marker in a venv would not do: pip never applies it
    inside a virtual environment.) pip, not installed there, comes in by PYTHONPATH."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    base = Path(sys.base_prefix)
    stdlib = Path(sysconfig.get_path("stdlib", vars={"installed_base": sys.base_prefix}))
    lib = folder / "lib" / version
    (lib / "site-packages").mkdir(parents=True)
    for entry in stdlib.iterdir():
        if entry.name not in ("site-packages", "dist-packages", "EXTERNALLY-MANAGED"):
            (lib / entry.name).symlink_to(entry)
    for shared in (base / "lib").glob("libpython*"):  # an interpreter built --enable-shared
        (folder / "lib" / shared.name).symlink_to(shared)
    (lib / "EXTERNALLY-MANAGED").write_text(
        "[externally-managed]\nError=This Python is managed by the system (a test's "
        "stand-in for Debian's): use pipx or a virtual environment.\n")
    (folder / "bin").mkdir()
    python = folder / "bin" / "python3"
    shutil.copy2(Path(sys._base_executable).resolve(), python)  # type: ignore[attr-defined]
    (folder / "bin" / version).symlink_to("python3")
    prefix = _run([str(python), "-c", "import sys; print(sys.prefix)"], folder)
    if prefix.stdout.strip() != str(folder):
        _skip(f"could not make a Python installation of its own: {prefix.stdout}"
              f"{prefix.stderr[-300:]}")
    return python


def tool_installer(helper: Path) -> tuple[str, Path]:
    """pipx, else uv, installed from the package index into a helper venv."""
    subprocess.run([sys.executable, "-m", "venv", str(helper)], check=True)
    tried = []
    for tool in ("pipx", "uv"):
        got = _run([str(helper / "bin" / "python"), "-m", "pip", "install", "-q", tool],
                   helper, timeout=300)
        if got.returncode == 0:
            return tool, helper / "bin"
        tried.append(f"{tool}: {got.stderr.strip()[-200:]}")
    _skip("neither pipx nor uv could be installed from the package index (offline?): "
          + "; ".join(tried))
    raise AssertionError  # not reached


def readme_tool_line() -> str:
    """The install half of the README's first set-up line: `pipx install .`."""
    first = re.findall(r"```\n(.*?)```", README, re.S)[0]
    return first.split(" && ")[0].strip()


def test_a_fresh_clone_installs_as_a_tool_where_pip_install_is_refused(tmp_path: Path) -> None:
    clone = tmp_path / "jetbox"
    cloned = _run(["git", "clone", "-q", str(ROOT), str(clone)], tmp_path)
    assert cloned.returncode == 0, cloned.stderr
    python = system_python(tmp_path / "system")
    pipdir = tmp_path / "pip-only"
    pipdir.mkdir()
    import pip  # the suite's own pip, lent to the system Python

    (pipdir / "pip").symlink_to(Path(pip.__file__).parent)
    refused = _run([str(python), "-m", "pip", "install", "."], clone,
                   _env(PYTHONPATH=str(pipdir)))
    assert refused.returncode != 0 and "externally-managed-environment" in refused.stderr, \
        refused.stdout + refused.stderr
    assert not list((python.parent.parent / "lib").glob("*/site-packages/jetbox*"))

    line = readme_tool_line()
    assert line in ("pipx install .", "uv tool install ."), line
    tool, helper_bin = tool_installer(tmp_path / "helper")
    command = line if line.startswith(tool) else ("uv tool install ." if tool == "uv"
                                                 else "pipx install .")
    print(f"the README says `{line}`; running `{command}` ({tool} from the package index)")
    bin_dir = tmp_path / "bin"
    env = _env(PATH=f"{helper_bin}{os.pathsep}{os.environ.get('PATH', '')}",
               # the tool's own environment is built from the marked system Python
               PIPX_HOME=str(tmp_path / "pipx"), PIPX_BIN_DIR=str(bin_dir),
               PIPX_MAN_DIR=str(tmp_path / "man"), PIPX_DEFAULT_PYTHON=str(python),
               UV_TOOL_DIR=str(tmp_path / "uv-tools"), UV_TOOL_BIN_DIR=str(bin_dir),
               UV_PYTHON=str(python), UV_CACHE_DIR=str(tmp_path / "uv-cache"))
    installed = _run(["bash", "-c", command], clone, env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    jetbox = bin_dir / "jetbox"
    helped = _run([str(jetbox), "--help"], tmp_path)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: jetbox"), helped.stderr
    # its own environment, built from the system Python, and no top-level `states` in it
    python_of_tool = Path(jetbox.resolve().parent / "python")
    found = _run([str(python_of_tool), "-c", "import sys, jetbox; print(sys.base_prefix); "
                  "import states"], tmp_path)
    assert found.stdout.split()[0] == str(python.parent.parent), found.stdout + found.stderr
    assert "No module named 'states'" in found.stderr

    # the same from a git URL, without a checkout
    url = f"git+{clone.as_uri()}"
    again = ["pipx", "install", "--force", url] if tool == "pipx" else \
        ["uv", "tool", "install", "--force", url]
    from_url = _run(again, tmp_path, env)
    assert from_url.returncode == 0, from_url.stdout + from_url.stderr
    version = _run([str(jetbox), "--version"], tmp_path)
    assert re.fullmatch(r"jetbox \d+\.\d+\.\d+\S*\n", version.stdout), version.stderr


VENV_LINE = "python3 -m venv .venv && . .venv/bin/activate && pip install ."


def test_the_virtual_environment_way_works_on_the_same_python(tmp_path: Path) -> None:
    assert f"`{VENV_LINE}`" in README
    clone = tmp_path / "jetbox"
    cloned = _run(["git", "clone", "-q", str(ROOT), str(clone)], tmp_path)
    assert cloned.returncode == 0, cloned.stderr
    python = system_python(tmp_path / "system")
    env = _env(PATH=f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    made = _run(["bash", "-c", f"{VENV_LINE} -q && jetbox --help"], clone, env)
    if made.returncode and "ensurepip" in made.stdout + made.stderr:
        _skip(f"this Python has no ensurepip to make a venv with pip: {made.stderr[-300:]}")
    assert made.returncode == 0, made.stdout + made.stderr
    assert made.stdout.startswith("usage: jetbox")
