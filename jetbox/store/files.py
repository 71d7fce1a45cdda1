"""The project's files: listed by git where there is a repository, else by a walk that honours
the ignore list and the top-level .gitignore. No cap: a flood of files cannot hide an edit."""

from __future__ import annotations

import fnmatch
import os
import subprocess
from pathlib import Path

from jetbox.core.fsutil import read_config
from jetbox.core.programs import find_program
from jetbox.store.workspace import IGNORED_DIRS, PROTECTED_NAMES

GIT_TIMEOUT_S = 20.0  # then the walk below answers instead


def project_files(root: Path) -> list[str]:
    """Relative posix paths of the project's files (tracked and untracked, not ignored),
    without caches, venvs and Jetbox's own files; sorted."""
    patterns = _gitignore(root)  # first: git would block forever on a FIFO there
    listed = _git_files(root) if (root / ".git").exists() else None
    found = listed if listed is not None else _walk(root, patterns)
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
    # fsmonitor and hooks are the repository's configuration: never let them run here.
    argv = [git, "-c", "core.fsmonitor=false", "-c", "core.untrackedCache=false",
            "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    try:
        done = subprocess.run(argv, cwd=root, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=GIT_TIMEOUT_S, check=False,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except subprocess.TimeoutExpired:
        _check_ignore_files(root)  # a FIFO .gitignore in a subfolder blocks git: say which
        return None
    except OSError:
        return None
    if done.returncode != 0:
        return None
    # Deleted tracked files and submodules are listed too; the caller's stat skips them.
    return list({os.fsdecode(raw) for raw in done.stdout.split(b"\0") if raw})


def _gitignore(root: Path) -> list[str]:
    """The top-level .gitignore's patterns (negations and nested files are not followed)."""
    raw = read_config(root / ".gitignore", "the list of files git ignores")
    if raw is None:
        return []
    text = raw.decode("utf-8", errors="replace")
    return [ln.strip() for ln in text.splitlines()
            if ln.strip() and not ln.startswith(("#", "!"))]


def _check_ignore_files(root: Path) -> None:
    """Raise a clear error for the first .gitignore that is not a regular file."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        if ".gitignore" in files or ".gitignore" in dirs:
            read_config(Path(folder) / ".gitignore", "the list of files git ignores")


def ignored(rel: str, is_dir: bool, patterns: list[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    for pattern in patterns:
        if pattern.endswith("/"):
            if not is_dir:
                continue
            pattern = pattern.rstrip("/")
        anchored = pattern.startswith("/") or "/" in pattern
        pattern = pattern.lstrip("/")
        if fnmatch.fnmatchcase(rel if anchored else name, pattern):
            return True
    return False


def _walk(root: Path, patterns: list[str]) -> list[str]:
    """Plain strings, not Path objects: this runs over every file every round."""
    found: list[str] = []
    stack = [("", str(root))]
    while stack:
        prefix, folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            rel = prefix + entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if entry.name in IGNORED_DIRS or (patterns and ignored(rel, is_dir, patterns)):
                continue
            if is_dir:
                stack.append((rel + "/", entry.path))
            else:
                found.append(rel)
    return found
