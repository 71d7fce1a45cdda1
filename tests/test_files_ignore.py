"""Outside git, the project's files honour every .gitignore as git reads them (pathspec):
anchored globs, negations, nested files; and the list agrees with git's own."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from jetbox.exec import files
from jetbox.exec.files import project_files

TREE = {
    ".gitignore": "docs/*.md\n*.log\n!keep.log\nbuild/\n/top.txt\n",
    "docs/a.md": "", "docs/sub/b.md": "", "docs/c.txt": "",
    "x.log": "", "keep.log": "", "sub/keep.log": "", "sub/y.log": "",
    "build/gen.py": "", "src/build/gen.py": "", "top.txt": "", "src/top.txt": "",
    "pkg/.gitignore": "*.tmp\n!important.tmp\n", "pkg/a.tmp": "", "pkg/important.tmp": "",
    "pkg/mod.py": "", "other/a.tmp": "",
}
EXPECTED = [".gitignore", "docs/c.txt", "docs/sub/b.md", "keep.log", "other/a.tmp",
            "pkg/.gitignore", "pkg/important.tmp", "pkg/mod.py", "src/top.txt", "sub/keep.log"]


def _make(root: Path) -> Path:
    for rel, text in TREE.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def test_gitignore_is_read_as_git_reads_it_without_git(tmp_path: Path) -> None:
    assert project_files(_make(tmp_path)) == EXPECTED


def test_a_folder_git_ignores_cannot_have_a_file_re_included(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("out/\n!out/keep.py\n", encoding="utf-8")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.py").write_text("", encoding="utf-8")
    assert project_files(tmp_path) == [".gitignore"]


def test_crlf_gitignore_works(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_bytes(b"*.log\r\n!keep.log\r\n")
    for name in ("a.log", "keep.log", "a.py"):
        (tmp_path / name).write_text("", encoding="utf-8")
    assert project_files(tmp_path) == [".gitignore", "a.py", "keep.log"]


def test_the_walk_agrees_with_git(tmp_path: Path) -> None:
    git = shutil.which("git")
    if git is None:
        print("SKIP: git is not installed; the walk was checked against fixed answers")
        pytest.skip("git is not installed")
    root = _make(tmp_path)
    subprocess.run([git, "init", "-q"], cwd=root, check=True)
    by_git = files._git_files(root)
    assert by_git is not None
    assert sorted(by_git) == sorted(files._walk(root)) == EXPECTED
