"""Two real PyPI projects, vendored as sdists, for offline end-to-end tests.

Project "a" (pyproject-metadata) has its own ruff config with pre-existing findings and
300+ tests that need only pytest. Project "b" (python-slugify) needs text-unidecode, which
Jetbox's environment lacks, so its tests pass only in the project's own `.venv`, built
offline from the wheels in tests/projects/wheels. See tests/projects/README.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

PROJECTS_DIR = Path(__file__).resolve().parent / "projects"
WHEELS_DIR = PROJECTS_DIR / "wheels"
# Identity flags passed to every git call: the tests must not depend on a global git config.
_GIT_IDENTITY = ("-c", "user.email=t@t", "-c", "user.name=t", "-c", "commit.gpgsign=false")


@dataclass(frozen=True)
class PlantedBug:
    """One changed source line that makes a few of the project's tests fail."""

    path: str
    """File holding the bug, posix, relative to the project root."""
    line: int
    """1-based line number of the changed line."""
    original: str
    """The line's text before the bug (no line ending); restoring it is the fix."""
    broken: str
    """The line's text with the bug."""
    pattern: str
    """A Python regex a model could pass to a `search` tool to find the function."""
    function_line: int
    """1-based line of the `def` of the function holding the bug."""


@dataclass(frozen=True)
class VendoredProject:
    """Facts about one vendored sdist that tests can compare against."""

    sdist: str
    """File name of the sdist under tests/projects/."""
    distribution: str
    """The `Name:` in the sdist's PKG-INFO, used to recognise an unpacked root."""
    venv_requirements: tuple[str, ...]
    """What `make_venv` installs from the vendored wheels."""
    missing_module: str | None
    """A module the tests import that Jetbox's own environment does not have."""
    bug: PlantedBug


PROJECTS: dict[str, VendoredProject] = {
    "a": VendoredProject(
        sdist="pyproject_metadata-0.12.1.tar.gz",
        distribution="pyproject-metadata",
        venv_requirements=("pytest",),
        missing_module=None,
        bug=PlantedBug(
            path="pyproject_metadata/__init__.py",
            line=776,
            original='            smart_message["Project-URL"] = f"{name}, {url}"',
            broken='            smart_message["Project-URL"] = f"{name}: {url}"',
            pattern=r"def _write_metadata",
            function_line=727,
        ),
    ),
    "b": VendoredProject(
        sdist="python_slugify-9.2.0.tar.gz",
        distribution="python-slugify",
        venv_requirements=("pytest", "text-unidecode"),
        missing_module="text_unidecode",
        bug=PlantedBug(
            path="slugify/slugify.py",
            line=138,
            original="            elif save_order:",
            broken="            elif not save_order:",
            pattern=r"def _modern_truncate",
            function_line=109,
        ),
    ),
}


def _git(root: Path, *args: str) -> str:
    """Run git in `root`; a failure raises RuntimeError carrying git's output."""
    git = shutil.which("git")
    if git is None:
        raise RuntimeError("git is not installed")
    done = subprocess.run(
        [git, *_GIT_IDENTITY, *args], cwd=root, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _extract(archive: Path, dest: Path) -> Path:
    """Extract `archive` into `dest` and return its single top-level folder."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        top = {Path(member.name).parts[0] for member in tar.getmembers()}
        if len(top) != 1:
            raise RuntimeError(f"{archive.name} has {len(top)} top-level entries, expected 1")
        # The "data" filter refuses absolute paths and links out of dest (Python >= 3.11.4).
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)  # our own checked-in archive, so trusted
    return dest / top.pop()


def unpack(name: str, dest: Path) -> Path:
    """Extract project `name` ("a" or "b") into `dest` as a one-commit git repository.

    Returns the project root. `.venv/` is added to `.gitignore` only when nothing there
    ignores it yet, and that change is part of the baseline commit.
    """
    root = _extract(PROJECTS_DIR / PROJECTS[name].sdist, dest)
    _git(root, "init", "-q")
    # Keep line endings byte-exact on Windows too, so `git diff` shows only real edits.
    _git(root, "config", "core.autocrlf", "false")
    if not _ignored(root, ".venv/"):
        gitignore = root / ".gitignore"
        text = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
        if text and not text.endswith("\n"):
            text += "\n"
        gitignore.write_text(text + ".venv/\n", encoding="utf-8", newline="\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "baseline")
    return root


def _ignored(root: Path, relative: str) -> bool:
    """True when the project's own ignore files make git ignore `relative` in `root`."""
    git = shutil.which("git") or "git"
    # An empty core.excludesFile skips the user's global ignore file: same answer everywhere.
    command = [git, "-c", "core.excludesFile=", "check-ignore", "-q", relative]
    done = subprocess.run(command, cwd=root, capture_output=True, check=False)
    return done.returncode == 0


def plant_bug(name: str, root: Path) -> PlantedBug:
    """Replace one source line of project `name` and commit it as "planted bug".

    After a correct fix, `git diff` shows exactly one changed line: the restored one.
    Raises RuntimeError when the line is not what the vendored sdist should hold.
    """
    bug = PROJECTS[name].bug
    path = root / bug.path
    lines = path.read_bytes().decode("utf-8").splitlines(keepends=True)
    current = lines[bug.line - 1]
    if current.rstrip("\r\n") != bug.original:
        raise RuntimeError(f"{bug.path}:{bug.line} is {current!r}, expected {bug.original!r}")
    ending = current[len(bug.original) :]
    lines[bug.line - 1] = bug.broken + ending
    path.write_bytes("".join(lines).encode("utf-8"))
    _git(root, "commit", "-q", "-a", "-m", "planted bug")
    return bug


def venv_python(root: Path) -> Path:
    """Where the interpreter of `<root>/.venv` lives on this platform."""
    if os.name == "nt":
        return root / ".venv" / "Scripts" / "python.exe"
    return root / ".venv" / "bin" / "python"


def _project_at(root: Path) -> VendoredProject:
    """The vendored project unpacked at `root`, recognised by its PKG-INFO name."""
    pkg_info = (root / "PKG-INFO").read_text(encoding="utf-8")
    for project in PROJECTS.values():
        if re.search(rf"^Name: {re.escape(project.distribution)}\s*$", pkg_info, re.M):
            return project
    raise RuntimeError(f"{root} holds none of the vendored projects")


def _offline_pip_env() -> dict[str, str]:
    """Environment for pip that ignores every index, config file and PIP_* variable."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    # os.devnull as PIP_CONFIG_FILE tells pip to load no configuration file at all.
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


def make_venv(root: Path) -> Path:
    """Build `<root>/.venv` offline from tests/projects/wheels; return its python.

    Uses the running interpreter's pip (needs pip >= 22.3 for `--python`). Raises
    RuntimeError with the failing command's output; tests turn that into a skip.
    """
    project = _project_at(root)
    venv = subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")],
        capture_output=True, text=True, check=False,
    )
    if venv.returncode != 0:
        raise RuntimeError(f"python -m venv failed:\n{venv.stdout}{venv.stderr}")
    python = venv_python(root)
    command = [
        sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
        "--no-index", "--find-links", str(WHEELS_DIR), *project.venv_requirements,
    ]
    pip = subprocess.run(
        command, capture_output=True, text=True, env=_offline_pip_env(), check=False
    )
    if pip.returncode != 0:
        raise RuntimeError(f"offline pip install failed:\n{pip.stdout}{pip.stderr}")
    return python


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)\b")


def pytest_counts(output: str) -> dict[str, int]:
    """Counts from pytest's closing summary line, e.g. {"passed": 318, "skipped": 88}.

    Colour codes are stripped first: project b's own config forces `--color=yes`.
    """
    lines = [_ANSI.sub("", line) for line in output.splitlines()]
    summaries = [line for line in lines if _COUNT.search(line) and " in " in line]
    if not summaries:
        return {}
    counts = {word: int(number) for number, word in _COUNT.findall(summaries[-1])}
    if "error" in counts:
        counts["errors"] = counts.pop("error")
    return counts
