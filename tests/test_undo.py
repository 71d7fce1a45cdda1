"""`jetbox diff` and `jetbox undo` on changes the toolbox journals (writes, edits, a command
that deletes and chmods), in a small git repository: exact restores, refusals naming files
changed since, an undo killed mid-way finished exactly once; and the goal guard."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from jetbox.cli import main
from jetbox.core.errors import UsageError
from jetbox.engine.resume import keep_or_fresh, same_goal
from jetbox.engine.start import own_files
from jetbox.exec.gitrepo import exclude_own_files
from jetbox.store.history import RUN_CLOSED, UNDO_START
from jetbox.store.kinds import Intent, RunEnd, RunStart
from jetbox.store.ledger import Ledger
from jetbox.store.workspace import Workspace
from jetbox.tools.toolbox import Toolbox
from tests.conftest import files_and_modes, jetbox_process, patch_of, run_cli

posix_only = pytest.mark.skipif(os.name == "nt", reason="modes and SIGKILL are POSIX here")


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
                          cwd=root, capture_output=True, text=True, check=True).stdout


def repository(root: Path) -> Path:
    (root / "pkg").mkdir()
    (root / "pkg" / "core.py").write_text("VALUE = 1\n")
    (root / "run.sh").write_text("#!/bin/sh\necho run\n")
    os.chmod(root / "run.sh", 0o755)
    (root / "data.txt").write_bytes(b"keep\r\nme")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    return root


def a_run(root: Path) -> Ledger:
    """Changes as a run makes them: journaled by the toolbox, copies kept first."""
    exclude_own_files(root, own_files(Workspace.at(root)))
    ledger = Ledger(root / "agent_ledger.log")
    ledger.append(RunStart(goal="g"))
    tools = Toolbox(root, ledger)
    script = ("import pathlib\npathlib.Path('data.txt').unlink()\n"
              "pathlib.Path('run.sh').chmod(0o644)\npathlib.Path('made.txt').write_text('m')\n")
    for name, arguments in [
            ("edit_file", {"path": "pkg/core.py", "old": "VALUE = 1", "new": "VALUE = 2"}),
            ("write_file", {"path": "new/deep/file.txt", "content": "new\n"}),
            ("write_file", {"path": "gen.py", "content": script}),
            ("run_cmd", {"cmd": ["python", "gen.py"]}),
            ("write_file", {"path": "pkg/core.py", "content": "VALUE = 3\n"})]:
        assert tools.dispatch(name, arguments).ok, (name, arguments)
    return ledger


@posix_only
def test_diff_shows_each_change_against_the_file_before_the_run(workspace: Path) -> None:
    root = repository(workspace)
    a_run(root)
    out = run_cli("diff", "-w", str(root)).out
    assert "-VALUE = 1\n+VALUE = 3\n" in out
    assert "deleted file mode 100644" in out and "-keep\\x0d\n" in out  # CR shown escaped
    assert "old mode 100755\nnew mode 100644" in out
    assert "new file mode" in out and "+++ b/new/deep/file.txt" in out
    assert run_cli("diff", "-w", str(root), "--stat").out.splitlines() == [
        "pkg/core.py", "new/deep/file.txt", "gen.py", "data.txt", "made.txt", "run.sh"]


APPLIERS = {"git apply": ["git", "apply", "--whitespace=nowarn", "-"],
             "patch -p1": ["patch", "-p1", "--quiet"]}


@posix_only
@pytest.mark.parametrize("applier", list(APPLIERS))
def test_diff_patch_is_the_runs_change_byte_for_byte(workspace: Path, applier: str) -> None:
    """CRLF, a lone CR, a form feed, Latin-1 bytes, no final newline, new and deleted files,
    a mode, a name with a quote and a tab: `jetbox diff --patch`, then `jetbox undo`, then
    `git apply` (or GNU patch) gives the run's files back exactly. A binary file is left
    out of the patch, and said so."""
    if shutil.which(APPLIERS[applier][0]) is None:
        pytest.skip(f"{applier}: {APPLIERS[applier][0]} is not installed here")
    root = repository(workspace)
    (root / "crlf.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    (root / "odd.txt").write_bytes(b"caf\xe9\npage\x0cbreak\rhere\nend")
    (root / "blob.bin").write_bytes(b"\x00\x01")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "more")
    ledger = a_run(root)
    script = ("import pathlib\np = pathlib.Path('odd.txt')\n"
              "p.write_bytes(p.read_bytes().replace(b'page', b'PAGE').replace(b'end', b'END'))\n"
              "pathlib.Path('blob.bin').write_bytes(bytes([0, 2]))\n"
              "pathlib.Path('q\"uo\\tted name.txt').write_text('odd\\n')\n")
    tools = Toolbox(root, ledger)
    for name, arguments in [
            ("edit_file", {"path": "crlf.txt", "old": "two", "new": "2"}),
            ("write_file", {"path": "gen2.py", "content": script}),
            ("run_cmd", {"cmd": ["python", "gen2.py"]})]:
        assert tools.dispatch(name, arguments).ok, (name, arguments)
    after = files_and_modes(root)
    assert after["crlf.txt"][0] == b"one\r\n2\r\nthree\r\n" and 'q"uo\tted name.txt' in after
    child = patch_of(root)
    assert child.returncode == 0, child.stderr
    assert b"blob.bin is binary: not in the patch" in child.stderr
    assert b"\\x0" not in child.stdout and b"two\r\n" in child.stdout  # raw, not escaped
    assert run_cli("undo", "-w", str(root)).code == 0
    applied = subprocess.run(APPLIERS[applier], input=child.stdout, cwd=root,
                             capture_output=True, check=False)
    assert applied.returncode == 0, applied.stderr
    assert files_and_modes(root) == {**after, "blob.bin": (b"\x00\x01", 0o644)}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_diff_patch_is_not_written_to_a_terminal_nor_with_stat(workspace: Path) -> None:
    root = repository(workspace)
    a_run(root)
    out, err = Terminal(), io.StringIO()
    assert main(["diff", "--patch", "-w", str(root)], stdout=out, stderr=err) == 2
    assert "redirect it" in err.getvalue() and out.getvalue() == ""
    assert "-VALUE = 1" in run_cli("diff", "-w", str(root)).out  # without --patch it shows
    both = run_cli("diff", "--patch", "--stat", "-w", str(root))
    assert both.code == 2 and "give one" in both.err and both.out == ""


@posix_only
def test_undo_restores_bytes_and_modes_and_removes_what_the_run_made(workspace: Path) -> None:
    root = repository(workspace)
    a_run(root)
    result = run_cli("undo", "-w", str(root))
    assert result.code == 0, result.err
    assert git(root, "status", "--porcelain") == "" and git(root, "diff") == ""
    assert (root / "data.txt").read_bytes() == b"keep\r\nme"
    assert stat.S_IMODE((root / "run.sh").stat().st_mode) == 0o755
    assert not (root / "new").exists()
    assert run_cli("undo", "-w", str(root)).out == "nothing to undo: the last run was undone " \
                                                   "already\n"
    assert "undone" in run_cli("diff", "-w", str(root)).out


def test_undo_names_a_file_changed_after_the_run_and_restores_the_rest(workspace: Path) -> None:
    """The run created the file and a person rewrote it: the run's part cannot be taken
    out alone, so it is named and left; every other path is restored; --force then
    restores it too."""
    root = repository(workspace)
    a_run(root)
    (root / "new" / "deep" / "file.txt").write_text("a person's edit\n")
    refused = run_cli("undo", "-w", str(root))
    assert refused.code == 1 and "not restored   new/deep/file.txt" in refused.err
    assert (root / "pkg" / "core.py").read_text() == "VALUE = 1\n"  # the rest was undone
    assert (root / "new" / "deep" / "file.txt").read_text() == "a person's edit\n"
    assert run_cli("diff", "--stat", "-w", str(root)).out == "new/deep/file.txt\n"
    again = run_cli("undo", "-w", str(root))
    assert again.code == 1 and "new/deep/file.txt" in again.err
    forced = run_cli("undo", "-w", str(root), "--force")
    assert forced.code == 0, forced.err
    assert git(root, "status", "--porcelain") == ""


@posix_only
def test_an_undo_killed_mid_way_is_finished_once_by_the_next(workspace: Path) -> None:
    root = repository(workspace)
    a_run(root)
    child = jetbox_process("undo", "-w", str(root), env={"JETBOX_FAILPOINT": "kill:undo:step#3"})
    child.communicate(timeout=60)
    assert child.returncode != 0
    kinds = [r.kind for r in Ledger(root / "agent_ledger.log").records()]
    assert UNDO_START in kinds and RUN_CLOSED not in kinds
    assert git(root, "status", "--porcelain") != ""  # half-way
    result = run_cli("undo", "-w", str(root))
    assert result.code == 0 and "interrupted" in result.out
    assert git(root, "status", "--porcelain") == "" and git(root, "diff") == ""
    kinds = [r.kind for r in Ledger(root / "agent_ledger.log").records()]
    assert kinds.count(UNDO_START) == 1 and kinds.count(RUN_CLOSED) == 1


def test_goals_differing_in_spacing_or_final_punctuation_are_one_goal() -> None:
    assert same_goal("Fix the bug", "  fix the   bug.")
    assert same_goal("Fix the bug!", "Fix the bug")
    assert not same_goal("Fix the bug", "Fix the bugs")


def test_a_new_goal_asks_and_keeps_the_old_run_when_the_answer_is_no(workspace: Path) -> None:
    ledger = Ledger(workspace / "agent_ledger.log")
    ledger.append(RunStart(goal="Old goal"))
    asked: list[str] = []
    assert keep_or_fresh("New goal", False, ledger, lambda q: asked.append(q) or True)
    assert "Old goal" in asked[0]
    with pytest.raises(UsageError, match="--fresh"):
        keep_or_fresh("New goal", False, ledger, lambda q: False)
    assert keep_or_fresh("old goal.", False, ledger, None) is False  # the same goal resumes
    ledger.append(RunEnd(outcome="done"))
    assert keep_or_fresh("New goal", False, ledger, None) is False  # a finished run: no guard


def test_git_exclude_keeps_existing_lines_and_adds_only_missing_ones(workspace: Path) -> None:
    root = repository(workspace)
    exclude = root / ".git" / "info" / "exclude"
    exclude.write_text("# mine\n*.bak")
    first = exclude_own_files(root, ["status.txt", ".jetbox/"])
    assert first == ["/status.txt", "/.jetbox/"]
    assert exclude_own_files(root, ["status.txt", ".jetbox/"]) == []
    assert exclude.read_text().startswith("# mine\n*.bak\n")
    assert sys.platform == "win32" or stat.S_IMODE(exclude.stat().st_mode) & 0o600 == 0o600


def test_a_command_as_the_runs_first_change_is_undone_too(workspace: Path) -> None:
    root = repository(workspace)
    (root / "drop.py").write_text("import pathlib\npathlib.Path('data.txt').unlink()\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "a script")
    exclude_own_files(root, own_files(Workspace.at(root)))
    ledger = Ledger(root / "agent_ledger.log")
    ledger.append(RunStart(goal="g"))
    result = Toolbox(root, ledger).dispatch("run_cmd", {"cmd": ["python", "drop.py"]})
    assert result.ok and "only a person may create" not in result.output, result.output
    assert not (root / "data.txt").exists()
    assert run_cli("undo", "-w", str(root)).code == 0
    assert (root / "data.txt").read_bytes() == b"keep\r\nme"
    assert git(root, "status", "--porcelain") == ""


def test_a_command_killed_with_jetbox_is_journaled_on_resume_and_undone(
        workspace: Path) -> None:
    root = repository(workspace)
    (root / "drop.py").write_text("import pathlib\npathlib.Path('data.txt').unlink()\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "a script")
    ledger = Ledger(root / "agent_ledger.log")
    ledger.append(RunStart(goal="g"))
    tools = Toolbox(root, ledger)
    assert tools.dispatch("run_cmd", {"cmd": ["python", "drop.py"]}).ok
    # As if Jetbox died when the command ended: its result and changes never journaled.
    intent = next(r for r in ledger.records() if isinstance(r, Intent))
    lines = (root / "agent_ledger.log").read_bytes().splitlines(keepends=True)
    (root / "agent_ledger.log").write_bytes(b"".join(lines[:intent.seq]))
    resumed = Toolbox(root, Ledger(root / "agent_ledger.log"))
    resumed.replay("run_cmd", intent, None)
    resumed.replay("run_cmd", intent, None)  # a second resume journals nothing twice
    assert "data.txt" in run_cli("diff", "-w", str(root), "--stat").out
    assert run_cli("undo", "-w", str(root)).code == 0
    assert (root / "data.txt").read_bytes() == b"keep\r\nme"
    assert git(root, "status", "--porcelain") == ""


def test_a_workspace_inside_a_repository_excludes_its_files_where_it_sits(
        workspace: Path) -> None:
    root = repository(workspace)
    sub = root / "service"
    sub.mkdir()
    (sub / "app.py").write_text("X = 1\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "service")
    assert exclude_own_files(sub, ["status.txt", ".jetbox/"]) == ["/service/status.txt",
                                                                  "/service/.jetbox/"]
    (sub / "status.txt").write_text("Goal: g\n")
    (sub / ".jetbox").mkdir()
    (sub / ".jetbox" / "x").write_text("x")
    assert git(root, "status", "--porcelain") == ""


def test_where_jetbox_keeps_its_files(workspace: Path) -> None:
    assert Workspace.at(workspace).state_path == workspace  # nothing there: beside the code
    (workspace / "agent.log").write_text("2026-12-01 09:00:00,123 INFO starting at Probe\n")
    assert not Workspace.at(workspace).in_state_dir  # Jetbox's own log
    (workspace / "agent.log").write_text("the project's agent, its log\n")
    chosen = Workspace.at(workspace)
    assert chosen.in_state_dir and "agent.log here is the project's" in chosen.notice
    assert chosen.ledger_path == workspace / ".jetbox" / "agent_ledger.log"
    with pytest.raises(UsageError, match="--state-dir .jetbox"):
        Workspace.at(workspace, ".")
    (workspace / ".jetbox").mkdir()
    Ledger(workspace / ".jetbox" / "agent_ledger.log").append(RunStart(goal="g"))
    (workspace / "agent.log").unlink()
    assert Workspace.at(workspace).in_state_dir  # where the run already keeps its files


def test_a_large_file_is_kept_byte_for_byte_with_its_holes_as_holes(tmp_path: Path) -> None:
    """Zeros in whole chunks are skipped when the copy is written (a disk image stays sparse);
    what is read back is the same bytes, a trailing hole and a partial last chunk included."""
    from jetbox.store.objects import (
        CHUNK_BYTES,
        IN_MEMORY_BYTES,
        ObjectStore,
        file_sha256,
        read_chunks,
    )

    store = ObjectStore(tmp_path / "objects")
    for name, pieces in {"hole inside": [b"head", bytes(IN_MEMORY_BYTES), b"tail" * 999],
                         "hole at the end": [b"x" * CHUNK_BYTES, bytes(IN_MEMORY_BYTES)],
                         "zeros and a partial chunk": [bytes(IN_MEMORY_BYTES + 5)]}.items():
        source = tmp_path / name
        source.write_bytes(b"".join(pieces))
        state = store.save(source)
        assert state.sha256 == hashlib.sha256(source.read_bytes()).hexdigest(), name
        copy = store.path(str(state.sha256))
        assert copy.read_bytes() == source.read_bytes(), name
        if os.name == "posix":  # allocated blocks: most of the zeros are holes
            assert copy.stat().st_blocks * 512 < IN_MEMORY_BYTES, name
    # A sparse source: its holes are skipped when it is read (SEEK_DATA), its data is not.
    sparse = tmp_path / "sparse"
    with open(sparse, "wb") as handle:
        for offset, data in ((0, b"a"), (5 * CHUNK_BYTES + 3, b"middle"),
                             (IN_MEMORY_BYTES + 3 * CHUNK_BYTES, b"z")):
            handle.seek(offset)
            handle.write(data)
        handle.truncate(IN_MEMORY_BYTES + 5 * CHUNK_BYTES + 7)
    expected = sparse.read_bytes()
    assert b"".join(bytes(chunk) for chunk in read_chunks(sparse)) == expected
    assert file_sha256(sparse) == hashlib.sha256(expected).hexdigest()
    assert store.path(str(store.save(sparse).sha256)).read_bytes() == expected
