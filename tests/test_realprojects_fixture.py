"""The vendored real projects behave as end-to-end tests rely on: lint, tests, bugs, venv."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from tests.realprojects import (
    PROJECTS,
    PROJECTS_DIR,
    WHEELS_DIR,
    make_venv,
    plant_bug,
    pytest_counts,
    unpack,
)

_RUFF_FINDING = re.compile(r"^\S+?:\d+:\d+: [A-Z]+\d+ ", re.M)


def _run(command: list[str], root: Path) -> tuple[int, str, float]:
    """Run `command` in `root`; return exit code, combined output and seconds taken."""
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=root, capture_output=True, text=True, encoding="utf-8", check=False
    )
    seconds = time.monotonic() - started
    print(f"{' '.join(command[1:4])} in {root.name}: {seconds:.2f} s")
    return done.returncode, done.stdout + done.stderr, seconds


def _pytest(python: Path | str, root: Path) -> tuple[int, str, dict[str, int]]:
    code, output, _ = _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], root)
    return code, output, pytest_counts(output)


def _git_diff_lines(root: Path, *revisions: str) -> list[str]:
    """Added and removed lines of `git diff`, without the file headers."""
    diff = subprocess.run(
        ["git", "diff", "--unified=0", *revisions],
        cwd=root, capture_output=True, text=True, encoding="utf-8", check=True,
    ).stdout
    return [
        line for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def _restore(root: Path, name: str) -> None:
    """Undo the planted bug by writing back the original line, as a fixer would."""
    bug = PROJECTS[name].bug
    path = root / bug.path
    # Bytes, not text: a text write would turn every LF into CRLF on Windows.
    data = path.read_bytes()
    broken, original = bug.broken.encode("utf-8"), bug.original.encode("utf-8")
    assert data.count(broken) == 1
    path.write_bytes(data.replace(broken, original))


def test_vendored_files_are_small_and_present():
    files = [PROJECTS_DIR / p.sdist for p in PROJECTS.values()] + list(WHEELS_DIR.glob("*.whl"))
    assert all(path.is_file() for path in files)
    assert {path.name.split("-")[0] for path in WHEELS_DIR.glob("*.whl")} >= {
        "pytest", "pluggy", "iniconfig", "packaging", "colorama", "text_unidecode"
    }
    assert sum(path.stat().st_size for path in files) < 1_500_000


def _metadata(path: Path) -> str:
    """The core metadata of a wheel (METADATA) or an sdist (its top PKG-INFO)."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
            return wheel.read(name).decode("utf-8")
    with tarfile.open(path) as sdist:
        member = min((m for m in sdist.getmembers() if m.name.endswith("/PKG-INFO")),
                     key=lambda m: m.name.count("/"))
        return sdist.extractfile(member).read().decode("utf-8")  # type: ignore[union-attr]


def test_every_vendored_file_has_its_licence_stated_as_its_metadata_says():
    """They ship in the sdist beside Jetbox's MIT code: tests/projects/README.md states each
    one's own licence, as the file's metadata gives it."""
    readme = (PROJECTS_DIR / "README.md").read_text(encoding="utf-8")
    files = sorted([*PROJECTS_DIR.glob("*.tar.gz"), *WHEELS_DIR.glob("*.whl")])
    assert len(files) == 8
    for path in files:
        headers = _metadata(path).split("\n\n")[0].splitlines()
        stated = next(line for prefix in ("License-Expression:", "License:",
                                          "Classifier: License ::")
                      for line in headers if line.startswith(prefix))
        row = next((line for line in readme.splitlines() if line.startswith(f"| {path.name} ")),
                   None)
        assert row is not None, f"{path.name}: no row in tests/projects/README.md"
        assert f"`{stated}`" in row, f"{path.name}: its metadata says {stated!r}"


@pytest.mark.parametrize("name", ["a", "b"])
def test_unpack_makes_a_one_commit_repository_that_ignores_venv(tmp_path, name):
    root = unpack(name, tmp_path)
    assert (root / "PKG-INFO").is_file() and (root / "LICENSE").is_file()
    log = subprocess.run(
        ["git", "log", "--format=%s"], cwd=root, capture_output=True, text=True, check=True
    )
    assert log.stdout.split("\n")[:-1] == ["baseline"]
    gitignore = (root / ".gitignore").read_text(encoding="utf-8")
    # a's own .gitignore already has ".venv"; b ships none, so unpack writes one.
    assert gitignore == ".venv/\n" if name == "b" else gitignore.count(".venv") == 1
    (root / ".venv").mkdir()
    (root / ".venv" / "x").write_text("x", encoding="utf-8")
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""


@pytest.mark.parametrize("name", ["a", "b"])
def test_plant_bug_changes_exactly_the_recorded_line(tmp_path, name):
    root = unpack(name, tmp_path)
    bug = plant_bug(name, root)
    assert _git_diff_lines(root, "HEAD~1", "HEAD") == [f"-{bug.original}", f"+{bug.broken}"]
    lines = (root / bug.path).read_text(encoding="utf-8").splitlines()
    assert lines[bug.line - 1] == bug.broken
    assert re.search(bug.pattern, lines[bug.function_line - 1])
    assert not bug.path.startswith("test")
    _restore(root, name)
    assert _git_diff_lines(root) == [f"-{bug.broken}", f"+{bug.original}"]


def test_pytest_counts_reads_a_coloured_summary():
    output = "x\n\x1b[31m2 failed\x1b[0m, \x1b[32m316 passed\x1b[0m, 1 error in 0.9s\x1b[0m\n"
    assert pytest_counts(output) == {"failed": 2, "passed": 316, "errors": 1}
    assert pytest_counts("no summary here") == {}


def test_a_own_ruff_config_reports_preexisting_findings(tmp_path):
    root = unpack("a", tmp_path)
    assert "[tool.ruff" in (root / "pyproject.toml").read_text(encoding="utf-8")
    code, output, _ = _run(
        [sys.executable, "-m", "ruff", "check", ".", "--output-format", "concise"], root
    )
    findings = _RUFF_FINDING.findall(output)
    print(f"ruff findings in project a: {len(findings)}")
    assert code == 1 and len(findings) > 0, output[-2000:]


@pytest.mark.slow
def test_a_tests_pass_fail_with_the_planted_bug_and_pass_once_restored(tmp_path):
    root = unpack("a", tmp_path)
    code, output, counts = _pytest(sys.executable, root)
    assert code == 0 and counts.get("passed", 0) >= 200, output[-2000:]
    plant_bug("a", root)
    code, output, counts = _pytest(sys.executable, root)
    assert code == 1 and 1 <= counts.get("failed", 0) <= 10, output[-2000:]
    _restore(root, "a")
    code, output, counts = _pytest(sys.executable, root)
    assert code == 0 and counts.get("failed", 0) == 0, output[-2000:]


@pytest.mark.slow
def test_b_needs_its_own_venv_and_the_planted_bug_fails_there(tmp_path):
    missing = PROJECTS["b"].missing_module
    if missing is None or importlib.util.find_spec(missing) is not None:
        pytest.skip(f"{missing} is installed here, so project b would not miss it")
    root = unpack("b", tmp_path)
    code, output, _ = _pytest(sys.executable, root)
    assert code != 0 and f"No module named '{missing}'" in output, output[-2000:]
    started = time.monotonic()
    try:
        python = make_venv(root)
    except RuntimeError as error:
        pytest.skip(f"cannot build project b's venv offline here: {error}")
    print(f"make_venv: {time.monotonic() - started:.2f} s")
    code, output, counts = _pytest(python, root)
    assert code == 0 and counts.get("passed", 0) >= 100, output[-2000:]
    plant_bug("b", root)
    code, output, counts = _pytest(python, root)
    assert code == 1 and 1 <= counts.get("failed", 0) <= 10, output[-2000:]
