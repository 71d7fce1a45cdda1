"""What Jetbox asks of the person's git repository: keep its own files out of `git status`
(in .git/info/exclude, which changes no tracked file) and whether the work tree has
uncommitted changes. Git's own configuration never runs a command here (no fsmonitor)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from jetbox.core.fsutil import atomic_write_bytes

GIT_TIMEOUT_S = 30.0
EXCLUDE_HEADER = "# Jetbox's own files (status, ledger, log, copies for `jetbox undo`)"


def git(root: Path, *args: str) -> str | None:
    """git's output in `root`, or None when there is no git, no repository or an error."""
    program = shutil.which("git")
    if program is None or not _in_repository(root):
        return None
    argv = [program, "-c", "core.fsmonitor=false", "-c", "core.untrackedCache=false", *args]
    try:
        done = subprocess.run(argv, cwd=root, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=GIT_TIMEOUT_S, check=False,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode("utf-8", "surrogateescape") if done.returncode == 0 else None


def _in_repository(root: Path) -> bool:
    return any((folder / ".git").exists() for folder in (root, *root.parents))


def exclude_own_files(root: Path, names: Sequence[str]) -> list[str]:
    """Add `names` (relative to `root`, a trailing / for a folder) to the repository's
    info/exclude, anchored to where `root` sits in it; returns the lines added. The file's
    existing lines are kept as they are."""
    answer = git(root, "rev-parse", "--git-path", "info/exclude", "--show-prefix")
    if answer is None:
        return []
    lines = answer.splitlines()
    exclude = root / lines[0]
    prefix = lines[1] if len(lines) > 1 else ""
    try:
        old = exclude.read_bytes() if exclude.is_file() else b""
    except OSError:
        return []
    present = {line.strip() for line in old.decode("utf-8", "replace").splitlines()}
    wanted = [f"/{prefix}{name}" for name in names]
    missing = [line for line in wanted if line not in present]
    if not missing:
        return []
    text = "" if not old or old.endswith(b"\n") else "\n"
    if EXCLUDE_HEADER not in present:
        text += EXCLUDE_HEADER + "\n"
    text += "".join(line + "\n" for line in missing)
    try:
        atomic_write_bytes(exclude, old + text.encode("utf-8"))
    except OSError:
        return []
    return missing


def uncommitted(root: Path) -> list[str]:
    """Tracked files under `root` with changes not committed (staged or not)."""
    answer = git(root, "status", "--porcelain", "-z", "--untracked-files=no", "--", ".")
    if not answer:
        return []
    entries = answer.split("\0")
    return [entry[3:] for entry in entries if len(entry) > 3]
