"""Issue 20 on a real open-source project (pyproject-metadata, vendored) made a git
repository: nothing of the person's is lost or changed behind their back, Jetbox's files
stay out of git, modes are kept, the project's pytest plugins load, an unfinished run is
kept, a run resumes from any folder, and `jetbox undo` takes a run back exactly."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.offline.solvers import LineFixer
from jetbox.spec.machine import PACKAGED_MACHINE
from tests.conftest import files_and_modes, patch_of, run_cli
from tests.realprojects import make_venv, plant_bug, unpack

pytestmark = pytest.mark.slow

FINISH = Call("finish", {"summary": "done"})
PERSON_STATUS = b"release status: beta\r\nowner: docs team\n"
PERSON_MACHINE = b"machine: x86_64\ncores: 4\n"


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
                          cwd=root, capture_output=True, text=True, check=True).stdout


def commit_files(root: Path, files: dict[str, bytes], mode: int | None = None) -> None:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
        if mode is not None:
            os.chmod(root / name, mode)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "the person's files")


def ledger(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run(root: Path, server: OfflineOllama, *args: str) -> object:
    return run_cli("run", *args, "-w", str(root), "--host", server.host, "--sandbox", "none")


def test_a_tracked_status_txt_and_a_foreign_machine_yaml_survive_byte_for_byte(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no machine.yaml in the current folder either
    root = unpack("a", tmp_path)
    commit_files(root, {"status.txt": PERSON_STATUS, "machine.yaml": PERSON_MACHINE})
    bug = plant_bug("a", root)
    fixer = LineFixer(root, bug.path, bug.pattern, bug.broken.strip(), bug.original.strip())
    with OfflineOllama(fixer) as server:
        result = run(root, server, "Fix the bug that makes the tests fail")
    assert result.code == 0, result.err
    assert (root / "status.txt").read_bytes() == PERSON_STATUS
    assert (root / "machine.yaml").read_bytes() == PERSON_MACHINE
    assert "keeps its files in .jetbox/" in result.err
    assert "machine.yaml is not a Jetbox machine" in result.err
    assert (root / ".jetbox" / "status.txt").read_text().startswith("Goal: Fix the bug")
    assert not (root / "agent_ledger.log").exists()
    # Only the fixed, tracked file shows; nothing of Jetbox's is added by `git add -A`.
    assert git(root, "status", "--porcelain").splitlines() == [f" M {bug.path}"]
    assert git(root, "add", "-A", "--dry-run").splitlines() == [f"add '{bug.path}'"]
    status = run_cli("status", "-w", str(root))
    assert "Goal: Fix the bug" in status.out and f"machine: {PACKAGED_MACHINE}" in status.out


def test_the_default_layout_stays_out_of_git_status(tmp_path: Path) -> None:
    root = unpack("a", tmp_path)
    bug = plant_bug("a", root)
    fixer = LineFixer(root, bug.path, bug.pattern, bug.broken.strip(), bug.original.strip())
    with OfflineOllama(fixer) as server:
        result = run(root, server, "Fix the bug that makes the tests fail")
    assert result.code == 0, result.err
    assert (root / "status.txt").is_file() and (root / "agent_ledger.log").is_file()
    assert git(root, "status", "--porcelain").splitlines() == [f" M {bug.path}"]
    exclude = (root / ".git" / "info" / "exclude").read_text()
    assert "/status.txt" in exclude and "/.jetbox/" in exclude
    git(root, "checkout", "--", bug.path)
    assert git(root, "status", "--porcelain") == ""


def test_an_executable_keeps_its_mode_and_a_new_file_gets_the_umask_mode(
        tmp_path: Path) -> None:
    root = unpack("a", tmp_path)
    commit_files(root, {"release.sh": b"#!/bin/sh\necho release\n"}, mode=0o755)
    edit = Call("edit_file", {"path": "release.sh", "old": "echo release",
                              "new": "echo releasing"})
    new = Call("write_file", {"path": "notes/NEW.md", "content": "new notes\n"})
    script = [Turn(calls=(edit,)), Turn(calls=(new,)), Turn(calls=(FINISH,))]
    with OfflineOllama(ScriptResponder(script)) as server:
        result = run(root, server, "Say releasing")
    assert result.code == 0, result.err
    assert "100755" in git(root, "ls-files", "-s", "release.sh")
    assert stat.S_IMODE((root / "release.sh").stat().st_mode) == 0o755
    assert "old mode" not in git(root, "diff")
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE((root / "notes" / "NEW.md").stat().st_mode) == 0o666 & ~mask


PLUGIN = '''"""A tiny pytest plugin that runs `async def` tests, as pytest-asyncio does."""
import asyncio
import inspect

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        asyncio.run(pyfuncitem.obj(**{n: pyfuncitem.funcargs[n] for n in names}))
        return True
    return None
'''
ASYNC_TESTS = b'''import asyncio


async def test_sleeps():
    await asyncio.sleep(0)


async def test_adds():
    assert await asyncio.sleep(0, result=2) == 2
'''


def install_plugin(python: Path) -> None:
    """A distribution with a pytest11 entry point, installed in the project's venv."""
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    purelib = Path(site.stdout.strip())
    (purelib / "tiny_async.py").write_text(PLUGIN)
    info = purelib / "tiny_async-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-async\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[pytest11]\ntiny_async = tiny_async\n")
    (info / "RECORD").write_text("")


def test_the_projects_own_pytest_plugins_load_and_the_baseline_agrees_with_pytest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)  # plugins load
    root = unpack("a", tmp_path)
    commit_files(root, {"tests/test_async_extra.py": ASYNC_TESTS})
    try:
        python = make_venv(root)
    except RuntimeError as exc:
        pytest.skip(f"cannot build the project's venv offline here: {exc}")
    install_plugin(python)
    direct = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "tests/test_async_extra.py"], cwd=root, capture_output=True,
                            text=True, check=False)
    assert "2 passed" in direct.stdout, direct.stdout
    with OfflineOllama(ScriptResponder([Turn(calls=(FINISH,))])) as server:
        result = run(root, server, "Check that the tests pass")
    assert result.code == 0, result.err
    baseline = next(r for r in ledger(root / "agent_ledger.log") if r["kind"] == "baseline")
    ours = {k: v for k, v in baseline["outcomes"].items() if "test_async_extra" in k}
    assert ours == {"tests/test_async_extra.py::test_sleeps": "passed",
                    "tests/test_async_extra.py::test_adds": "passed"}


def paused_run(root: Path, goal: str) -> None:
    """A run stopped by its round limit: unfinished, resumable."""
    note = Call("write_file", {"path": "NOTES.txt", "content": "first step\n"})
    with OfflineOllama(ScriptResponder([Turn(calls=(note,))])) as server:
        result = run(root, server, goal, "--max-rounds", "1")
    assert result.code == 3, result.err


def test_a_new_goal_keeps_the_unfinished_run_until_the_person_says_so(tmp_path: Path) -> None:
    root = unpack("a", tmp_path)
    paused_run(root, "Write the release notes")
    before = (root / "agent_ledger.log").read_bytes()
    with OfflineOllama(ScriptResponder([Turn(calls=(FINISH,))] * 3)) as server:
        other = run(root, server, "Check that the tests pass")
        assert other.code == 2
        assert "Write the release notes" in other.err and "--fresh" in other.err
        assert (root / "agent_ledger.log").read_bytes() == before  # nothing changed
        same = run(root, server, "  write the release   notes.")
        assert same.code == 0, same.err
        kinds = [r["kind"] for r in ledger(root / "agent_ledger.log")]
        assert "run_superseded" not in kinds and kinds.count("run_start") == 1
        fresh = run(root, server, "Check that the tests pass", "--fresh")
    assert fresh.code == 0, fresh.err
    assert [r["kind"] for r in ledger(root / "agent_ledger.log")].count("run_start") == 2


def test_a_run_resumes_from_another_folder_with_the_machine_it_started_with(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = unpack("a", tmp_path / "repo")
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
        (folder / "machine.yaml").write_bytes(PACKAGED_MACHINE.read_bytes())
    monkeypatch.chdir(first)
    paused_run(root, "Write the release notes")
    monkeypatch.chdir(second)
    shown = run_cli("status", "-w", str(root))
    assert f"machine: {first / 'machine.yaml'}" in shown.out
    with OfflineOllama(ScriptResponder([Turn(calls=(FINISH,))])) as server:
        result = run(root, server)
    assert result.code == 0, result.err
    assert f"machine {first / 'machine.yaml'}" in result.err


def test_uncommitted_changes_are_warned_about_once_at_the_start(tmp_path: Path) -> None:
    root = unpack("a", tmp_path)
    (root / "README.md").write_bytes((root / "README.md").read_bytes() + b"\nmine\n")
    with OfflineOllama(ScriptResponder([Turn(calls=(FINISH,))])) as server:
        result = run(root, server, "Check that the tests pass")
    assert result.code == 0, result.err
    warnings = [ln for ln in result.err.splitlines() if "uncommitted changes" in ln]
    assert len(warnings) == 1 and "README.md" in warnings[0]


def test_undo_after_a_ten_round_run_leaves_git_exactly_as_before(tmp_path: Path) -> None:
    root = unpack("a", tmp_path)
    commit_files(root, {"release.sh": b"#!/bin/sh\necho release\n"}, mode=0o755)
    (root / "README.md").write_bytes((root / "README.md").read_bytes() + b"\nnote-42\n")
    (root / "scratch.txt").write_bytes(b"untracked, the person's\n")
    diff_before, status_before = git(root, "diff"), git(root, "status", "--porcelain")
    script = [Turn(calls=(c,)) for c in ten_rounds()]
    with OfflineOllama(ScriptResponder(script)) as server:
        result = run(root, server, "Tidy the project", "--max-rounds", "10")
    assert result.code == 3, result.err  # paused by its round limit after ten rounds
    results = [r for r in ledger(root / "agent_ledger.log") if r["kind"] == "tool_result"]
    assert len(results) == 10 and all(r["ok"] for r in results), results
    assert not (root / "LICENSE").exists()  # the command deleted it
    shown = run_cli("diff", "-w", str(root))
    assert "deleted file mode" in shown.out and "+++ b/docs/changelog.md" in shown.out
    assert "new file mode" in shown.out and "old mode 100755" in shown.out
    after, patch = files_and_modes(root), patch_of(root)
    (root / "docs" / "index.md").write_text("someone else's edit\n")
    refused = run_cli("undo", "-w", str(root))  # the run's line and theirs overlap
    assert refused.code == 1 and "not restored   docs/index.md" in refused.err
    assert (root / "LICENSE").exists() and not (root / "notes").exists()  # the rest is back
    (root / "docs" / "index.md").write_bytes(b"# index edited by the run\n")  # as the run left it
    undone = run_cli("undo", "-w", str(root))  # tries docs/index.md again
    assert undone.code == 0, undone.err
    assert git(root, "diff") == diff_before
    assert git(root, "status", "--porcelain") == status_before
    assert run_cli("undo", "-w", str(root)).out.startswith("nothing to undo")
    # The run's change as a patch: applied to the undone tree, it makes the run's files again.
    assert patch.returncode == 0 and patch.stderr == b"", patch.stderr
    applied = subprocess.run(["git", "apply", "-"], input=patch.stdout, cwd=root,
                             capture_output=True, check=False)
    assert applied.returncode == 0, applied.stderr
    assert files_and_modes(root) == after


def ten_rounds() -> list[Call]:
    """Writes, edits, creations, a chmod and a deletion (through a command)."""
    cleanup = ("import pathlib\n\npathlib.Path('LICENSE').unlink()\n"
               "pathlib.Path('docs/conf.py').write_text('# replaced\\n')\n"
               "pathlib.Path('release.sh').chmod(0o644)\n")
    return [
        Call("edit_file", {"path": "docs/changelog.md", "old": "# Changelog",
                           "new": "# Changes"}),
        Call("write_file", {"path": "docs/index.md", "content": "# index edited by the run\n"}),
        Call("write_file", {"path": "notes/deep/a.txt", "content": "a\n"}),
        Call("write_file", {"path": "notes/b.txt", "content": "b\n"}),
        Call("edit_file", {"path": "release.sh", "old": "echo release", "new": "echo go"}),
        Call("write_file", {"path": "tools_cleanup.py", "content": cleanup}),
        Call("run_cmd", {"cmd": ["python", "tools_cleanup.py"]}),
        Call("edit_file", {"path": "README.md", "old": "note-42", "new": "note-42, edited"}),
        Call("write_file", {"path": "notes/b.txt", "content": "b, twice\n"}),
        Call("write_file", {"path": "scratch.txt", "content": "overwritten by the run\n"}),
    ]


def test_the_cli_lists_diff_and_undo() -> None:
    out = subprocess.run([sys.executable, "-m", "jetbox", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "diff" in out and "undo" in out
