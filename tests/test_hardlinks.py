"""Hard links through a write and its undo (issue 31, item 8): a file whose every name is in
the workspace is written in place and linked again by undo; a link anywhere else (outside
the workspace, in a virtual environment) is never written through."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from jetbox.store.history import RUN_CLOSED, UNDO_START
from jetbox.store.ledger import Ledger
from tests.attackkit import turn
from tests.conftest import jetbox_process, run_cli
from tests.test_undo_never_lies import a_run, cmd, linked_tree, needs_bwrap, tree

# The whole module is in the slow tier: whole runs with undo after each (about a second each).
pytestmark = pytest.mark.slow

posix_only = pytest.mark.skipif(os.name == "nt", reason="SIGKILL and RLIMIT_FSIZE: POSIX")


def test_a_link_in_a_virtual_environment_counts_as_outside(workspace: Path) -> None:
    root = workspace
    (root / "env").mkdir()
    (root / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (root / "settings.txt").write_bytes(b"x = 1\n")
    os.link(root / "settings.txt", root / "env" / "site.txt")
    before = tree(root)
    a_run(root, [turn("edit_file", path="settings.txt", old="x = 1", new="x = 2")])
    assert (root / "env" / "site.txt").read_bytes() == b"x = 1\n"  # never written through
    assert (root / "settings.txt").read_bytes() == b"x = 2\n"
    result = run_cli("undo", "-w", str(root))
    assert result.code == 1 and "settings.txt: it had a hard link outside" in result.err
    assert tree(root) == before


@posix_only  # Windows' scandir gives no link counts: a command's links are not seen there
@pytest.mark.parametrize("script", [
    "open('a.txt', 'a').write('appended\\n')",  # through the link: both names change
    "open('new', 'w').write('replaced\\n'); import os; os.replace('new', 'a.txt')",  # split
])
def test_a_link_a_command_changes_or_breaks_is_made_again_by_undo(workspace: Path,
                                                                  script: str) -> None:
    root = workspace
    (root / "a.txt").write_bytes(b"one\n")
    os.link(root / "a.txt", root / "b.txt")
    before = linked_tree(root, "a.txt", "b.txt")
    a_run(root, cmd(script))
    assert linked_tree(root, "a.txt", "b.txt") != before
    result = run_cli("undo", "-w", str(root))
    assert result.code == 0, result.err
    assert linked_tree(root, "a.txt", "b.txt") == before


@posix_only
def test_a_link_a_command_changes_in_its_private_copy_is_made_again_by_undo(
        workspace: Path) -> None:
    """Under bwrap the command runs in a copy, where each name is a file of its own: the
    changed name is replaced in the workspace (the other keeps the old content), and undo
    links the two again."""
    needs_bwrap()
    root = workspace
    (root / "a.txt").write_bytes(b"one\n")
    os.link(root / "a.txt", root / "b.txt")
    before = linked_tree(root, "a.txt", "b.txt")
    a_run(root, cmd("open('a.txt', 'a').write('appended\\n')"), sandbox="bwrap")
    assert (root / "a.txt").read_bytes() == b"one\nappended\n"
    assert (root / "b.txt").read_bytes() == b"one\n"
    result = run_cli("undo", "-w", str(root))
    assert result.code == 0, result.err
    assert linked_tree(root, "a.txt", "b.txt") == before


@posix_only
def test_a_command_changing_a_file_linked_outside_the_workspace_is_named(
        workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = workspace
    outside = tmp_path_factory.mktemp("home") / "notes.txt"
    outside.write_bytes(b"mine\n")
    os.link(outside, root / "notes.txt")
    before = tree(root)
    a_run(root, cmd("open('notes.txt', 'a').write('by a command\\n')"))
    result = run_cli("undo", "-w", str(root))
    assert result.code == 1 and "undone:" not in result.out
    assert "not restored   notes.txt: it had a hard link outside the workspace when " \
        "`python tool.py` ran" in result.err
    assert tree(root) == before


@posix_only
def test_an_undo_killed_before_the_links_are_made_again_is_finished_by_the_next(
        workspace: Path) -> None:
    root = workspace
    (root / "a.txt").write_bytes(b"one\n")
    os.link(root / "a.txt", root / "b.txt")
    os.link(root / "a.txt", root / "c.txt")
    before = linked_tree(root, "a.txt", "b.txt", "c.txt")
    a_run(root, [turn("write_file", path="b.txt", content="two\n")])
    assert linked_tree(root, "a.txt", "b.txt", "c.txt")["one file"] == [["a.txt", "b.txt",
                                                                          "c.txt"]]
    child = jetbox_process("undo", "-w", str(root), env={"JETBOX_FAILPOINT": "kill:undo:step#3"})
    child.communicate(timeout=60)
    assert child.returncode != 0
    kinds = [r.kind for r in Ledger(root / "agent_ledger.log").records()]
    assert UNDO_START in kinds and RUN_CLOSED not in kinds
    assert linked_tree(root, "a.txt", "b.txt", "c.txt") != before  # half-way
    result = run_cli("undo", "-w", str(root))
    assert result.code == 0 and "interrupted" in result.out, result.err
    assert linked_tree(root, "a.txt", "b.txt", "c.txt") == before


def test_undo_names_a_link_it_cannot_make_again(workspace: Path) -> None:
    """The person rewrote one name of the pair after the run: it keeps their content (the
    run's lines cannot be taken out), so the pair cannot be one file again; said so."""
    root = workspace
    (root / "a.txt").write_bytes(b"one\n")
    os.link(root / "a.txt", root / "b.txt")
    a_run(root, [turn("write_file", path="a.txt", content="two\n")])
    (root / "b.txt").unlink()
    (root / "b.txt").write_bytes(b"the person's\n")
    result = run_cli("undo", "-w", str(root))
    assert result.code == 1 and "undone:" not in result.out
    assert "not restored   a.txt: not linked again to b.txt" in result.err
    assert (root / "a.txt").read_bytes() == b"one\n"
    assert (root / "b.txt").read_bytes() == b"the person's\n"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE: Linux")
def test_an_in_place_write_that_fails_part_way_puts_the_old_content_back(
        tmp_path: Path) -> None:
    import resource
    import signal

    from jetbox.core.fsutil import write_in_place

    (tmp_path / "a.txt").write_bytes(b"old content\n")
    os.link(tmp_path / "a.txt", tmp_path / "b.txt")
    (tmp_path / "copy").write_bytes(b"old content\n")
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not a signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, limits[1]))
    try:
        with pytest.raises(OSError):
            write_in_place(tmp_path / "a.txt", b"x" * 10_000, tmp_path / "copy",
                           os.lstat(tmp_path / "a.txt"))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    assert (tmp_path / "b.txt").read_bytes() == b"old content\n"
    assert os.path.samefile(tmp_path / "a.txt", tmp_path / "b.txt")


def test_an_in_place_write_refuses_a_file_put_there_since_its_links_were_counted(
        tmp_path: Path) -> None:
    from jetbox.core.fsutil import write_in_place

    (tmp_path / "a.txt").write_bytes(b"old\n")
    os.link(tmp_path / "a.txt", tmp_path / "kept")  # its inode stays taken
    counted = os.lstat(tmp_path / "a.txt")
    (tmp_path / "other").write_bytes(b"someone's\n")
    os.replace(tmp_path / "other", tmp_path / "a.txt")
    with pytest.raises(OSError, match="changed while"):
        write_in_place(tmp_path / "a.txt", b"new\n", tmp_path / "kept", counted)
    assert (tmp_path / "a.txt").read_bytes() == b"someone's\n"
    assert (tmp_path / "kept").read_bytes() == b"old\n"
