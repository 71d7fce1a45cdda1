"""The project's files: listed by git where there is a repository, else by a walk that honours
the ignore list and every .gitignore as git reads them (pathspec). No cap: a flood of files
cannot hide an edit."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from jetbox.core.fsutil import read_config
from jetbox.core.programs import find_program
from jetbox.exec.gitcmd import safe_git
from jetbox.exec.process import capture
from jetbox.store.workspace import IGNORED_DIRS, PROTECTED_NAMES

GIT_TIMEOUT_S = 20.0  # then the walk below answers instead
GIT_SUSPECT_S = 2.0  # slower than this, look for a .gitignore that blocks it

if TYPE_CHECKING:
    import pathspec


def project_files(root: Path) -> list[str]:
    """Relative posix paths of the project's files (tracked and untracked, not ignored),
    without caches, venvs and Jetbox's own files; sorted."""
    read_config(root / ".gitignore", "the list of files git ignores")  # a FIFO blocks git
    listed = _git_files(root) if (root / ".git").exists() else None
    found = listed if listed is not None else _walk(root)
    return sorted(rel for rel in found if _wanted(rel))


def _wanted(rel: str) -> bool:
    parts = rel.split("/")
    if any(p in IGNORED_DIRS or p.endswith(".egg-info") for p in parts[:-1]):
        return False
    return not (len(parts) == 1 and parts[0] in PROTECTED_NAMES) \
        and not parts[0].startswith(".jetbox")


def _git_files(root: Path) -> list[str] | None:
    """`git ls-files` (cached + others, standard excludes); None when git cannot answer."""
    git = find_program("git", root)  # never ./git: `.` in PATH would find the model's
    if git is None:
        return None
    # fsmonitor, filters and hooks are the repository's configuration: never run here.
    call = safe_git(git, root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    try:
        # A FIFO .gitignore in a subfolder blocks git: when it is slow, the folders are
        # checked while it runs, so that error comes in seconds, not at the timeout.
        done = capture(call.argv, root, GIT_TIMEOUT_S, env=call.env,
                       on_slow=(GIT_SUSPECT_S, partial(_check_ignore_files, root)))
    except OSError:
        return None
    if done is None or done.returncode != 0:  # past GIT_TIMEOUT_S: the walk answers
        return None
    # Deleted tracked files and submodules are listed too; the caller's stat skips them.
    return list({os.fsdecode(raw) for raw in done.stdout.split(b"\0") if raw})


def _check_ignore_files(root: Path) -> None:
    """Raise a clear error for the first .gitignore that is not a regular file."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        if ".gitignore" in files or ".gitignore" in dirs:
            read_config(Path(folder) / ".gitignore", "the list of files git ignores")


Rules = tuple[tuple[str, "pathspec.GitIgnoreSpec"], ...]  # (folder prefix, its .gitignore)


def _rules_in(folder: str, prefix: str, inherited: Rules) -> Rules:
    """The rules that apply inside `folder`: its parents' plus its own .gitignore's."""
    import pathspec

    raw = read_config(Path(folder) / ".gitignore", "the list of files git ignores")
    if raw is None:  # a FIFO or a device there is a clear error, never a hang
        return inherited
    lines = raw.decode("utf-8", errors="replace").splitlines()
    return (*inherited, (prefix, pathspec.GitIgnoreSpec.from_lines(lines)))


def ignored(rel: str, is_dir: bool, rules: Rules) -> bool:
    """Git's verdict on `rel`: the deepest .gitignore that has a say decides, and within a
    file the last matching pattern (so `!keep.log` re-includes)."""
    verdict = False
    for prefix, spec in rules:
        if not rel.startswith(prefix):
            continue
        inner = rel[len(prefix):] + ("/" if is_dir else "")
        include = spec.check_file(inner).include
        if include is not None:
            verdict = include
    return verdict


def _walk(root: Path) -> list[str]:
    """Plain strings, not Path objects: this runs over every file every round. A folder
    git ignores is not entered, so nothing inside it can be re-included (as in git)."""
    found: list[str] = []
    stack = [("", str(root), _rules_in(str(root), "", ()))]
    while stack:
        prefix, folder, rules = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            rel = prefix + entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if entry.name in IGNORED_DIRS or ignored(rel, is_dir, rules):
                continue
            if is_dir:
                stack.append((rel + "/", entry.path, _rules_in(entry.path, rel + "/", rules)))
            else:
                found.append(rel)
    return found
