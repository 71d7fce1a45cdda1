"""The clean room's parts, without a run: what is the judge's side, what the baseline keeps,
and how the run's change is sorted (the whole runs are in test_clean_room.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from jetbox.probes import room


@pytest.mark.parametrize(("path", "judge"), [
    ("tests/test_calc.py", True), ("calc_test.py", True), ("pkg/tests/helpers.py", True),
    ("conftest.py", True), ("a/b/conftest.py", True), ("pyproject.toml", True),
    ("setup.cfg", True), ("helpers/ruff.toml", True), (".gitignore", True),
    ("calc.py", False), ("pkg/testing_utils.py", False), ("src/pkg/core.py", False),
])
def test_the_judges_side_is_tests_configuration_and_ignore_rules(path: str,
                                                                 judge: bool) -> None:
    assert room.judge_side(path) is judge


@pytest.mark.parametrize("path", ["pkg/__pycache__/m.cpython-311.pyc", "x.so", "site.pth",
                                  "pkg.egg-info/PKG-INFO", "tests/zz.egg-info/conftest.py"])
def test_build_artifacts_always_come_from_the_baseline(path: str) -> None:
    assert room.artifact(path)


def test_the_baseline_keeps_ignored_files_but_no_venv_state_or_bytecode(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("x = 1\n")
    (tmp_path / ".gitignore").write_text("secret.py\n")
    (tmp_path / "secret.py").write_text("y = 2\n")
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    (tmp_path / "env" / "m.py").write_text("")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "calc.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "status.txt").write_text("Goal: x\n")
    base = room.load(tmp_path, room.snapshot(tmp_path))
    assert base is not None
    assert sorted(base) == [".gitignore", "calc.py", "secret.py"]


@pytest.mark.skipif(sys.platform == "win32" or sys.platform == "darwin",
                    reason="a name that is not UTF-8 needs a POSIX file system that takes bytes")
def test_a_name_that_is_not_utf8_is_kept_and_found_unchanged(tmp_path: Path) -> None:
    with open(os.fsencode(tmp_path) + b"/caf\xe9.py", "wb") as handle:
        handle.write(b"x = 1\n")
    base = room.load(tmp_path, room.snapshot(tmp_path))
    assert base is not None and len(base) == 1
    assert room.changes(tmp_path, base) == room.Change()


def test_a_manifest_that_changed_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("x = 1\n")
    digest = room.snapshot(tmp_path)
    manifest = tmp_path / ".jetbox" / "room" / f"{digest}.json"
    manifest.write_text(manifest.read_text().replace("calc.py", "calx.py"))
    assert room.load(tmp_path, digest) is None


def test_the_runs_change_is_sorted_as_the_room_uses_it(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("def sub(a, b):\n    return a + b\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_calc.py").write_text("from calc import sub\n")
    (tmp_path / "gone.py").write_text("")
    base = room.load(tmp_path, room.snapshot(tmp_path))
    assert base is not None
    (tmp_path / "calc.py").write_text("import sys\n\n\ndef sub(a, b):\n"
                                      "    return a - b if '_pytest' in sys.modules else 0\n")
    (tmp_path / "tests" / "test_calc.py").write_text("from calc import sub  # changed\n")
    (tmp_path / "tests" / "test_new.py").write_text("from calc import sub\n")
    (tmp_path / "tests" / "test_blind.py").write_text("def test_x():\n    assert True\n")
    (tmp_path / "tests" / "conftest.py").write_text("")
    (tmp_path / "json.py").write_text("")
    (tmp_path / "gone.py").unlink()
    change = room.changes(tmp_path, base)
    assert change.source == ("calc.py", "json.py")
    assert change.deleted == ("gone.py",)
    assert change.changed_tests == ("tests/test_calc.py",)
    assert change.new_tests == ("tests/test_blind.py", "tests/test_new.py")
    assert change.not_obeyed == ("tests/conftest.py",)
    assert change.knows_runner == ("calc.py (`_pytest`)",)
    assert change.no_project == ("tests/test_blind.py",)
    assert change.shadows == ("json.py (it would load instead of the standard library's "
                              "`json`)",)


def test_the_room_is_the_baseline_with_the_source_change_and_then_without_it(
        tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("old\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_calc.py").write_text("original\n")
    base = room.load(tmp_path, room.snapshot(tmp_path))
    assert base is not None
    (tmp_path / "calc.py").write_text("new\n")
    (tmp_path / "tests" / "test_calc.py").write_text("weakened\n")
    (tmp_path / "tests" / "test_new.py").write_text("from calc import x\n")
    (tmp_path / "planted.pyc").write_bytes(b"\0")
    change = room.changes(tmp_path, base)
    with room.built(tmp_path, base, change, allow_test_changes=False) as built:
        assert (built.path / "calc.py").read_text() == "new\n"
        assert (built.path / "tests" / "test_calc.py").read_text() == "original\n"
        assert not (built.path / "tests" / "test_new.py").exists()
        assert not (built.path / "planted.pyc").exists()
        targets = room.add_run_tests(tmp_path, base, built.path, change)
        # New tests, and the run's version of a changed test file for the tests it adds.
        assert targets == ("tests/test_new.py", "tests/test_calc.py")
        assert (built.path / "tests" / "test_calc.py").read_text() == "weakened\n"
        room.without_the_change(tmp_path, base, built)
        assert (built.path / "calc.py").read_text() == "old\n"
        assert (built.path / "tests" / "test_new.py").exists()
    assert not built.path.exists()


def test_the_rooms_bytecode_is_filled_once_and_filled_again_once_anything_in_it_changed(
        ) -> None:
    """runner.RoomBytecode: the folder a pytest that ran none of the run's code filled is
    kept for later finishes only as it was; a file the run's code wrote, changed, removed
    or linked there (the room's test code can reach it) empties it and it is filled again."""
    from jetbox.probes.runner import RoomBytecode

    filled: list[Path] = []

    def warm(folder: Path) -> None:  # what _warm leaves: compiled files in subfolders
        filled.append(folder)
        (folder / "usr" / "lib").mkdir(parents=True)
        (folder / "usr" / "lib" / "a.cpython-311.pyc").write_bytes(b"compiled before")

    bytecode = RoomBytecode()
    first = bytecode.folder(warm, "python3.11")
    assert bytecode.folder(warm, "python3.11") == first and len(filled) == 1
    with bytecode.use(warm, None) as empty:  # nothing to warm: an empty folder of its own
        assert empty != first and list(empty.iterdir()) == [] and len(filled) == 1
    assert not empty.exists()
    tampered = {"a file written": lambda f: (f / "planted.pyc").write_bytes(b"run's"),
                "a file changed": lambda f: (f / "usr" / "lib" / "a.cpython-311.pyc")
                .write_bytes(b"run's code"),
                "a file removed": lambda f: (f / "usr" / "lib" / "a.cpython-311.pyc").unlink(),
                "a link": lambda f: (f / "usr" / "lib" / "b.pyc").symlink_to("/etc/hostname")}
    for label, change in tampered.items():
        folder = bytecode.folder(warm, "python3.11")
        change(folder)
        again = bytecode.folder(warm, "python3.11")
        assert not folder.exists() and again != folder, label
        assert sorted(p.name for p in again.rglob("*") if p.is_file()) == \
            ["a.cpython-311.pyc"], label
    assert len(filled) == 1 + len(tampered)


def test_a_bytecode_folder_a_killed_jetbox_left_is_removed_by_the_next(tmp_path: Path) -> None:
    """RoomBytecode's folder lives as long as its process; a Jetbox killed with kill -9
    leaves it in the temporary folder, named with its process id, for the next to remove."""
    import subprocess

    from jetbox.probes.runner import RoomBytecode

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    names = {f"jetbox-pycache-{ended.pid}-k1ll3d": True,  # its process is gone
             f"jetbox-pycache-{os.getpid()}-l1v3": False,  # this process: still in use
             "jetbox-pycache-abc_123": False,  # a TemporaryDirectory of one finish
             "other-1-x": False}
    for name in names:
        (tmp_path / name / "usr").mkdir(parents=True)
    assert RoomBytecode.remove_orphans(tmp_path) == [n for n, gone in names.items() if gone]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n, gone in names.items()
                                                                if not gone)
