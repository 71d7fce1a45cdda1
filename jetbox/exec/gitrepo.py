"""What Jetbox asks of the person's git repository: keep its own files out of `git status`
(in .git/info/exclude, which changes no tracked file) and whether the work tree has
uncommitted changes. Every git call goes through core.gitcmd.safe_git: the repository's
configuration never runs a command here (fsmonitor, filters, hooks, pagers)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from jetbox.core.fsutil import atomic_write_bytes
from jetbox.core.programs import find_program
from jetbox.exec.gitcmd import safe_git
from jetbox.exec.process import capture

GIT_TIMEOUT_S = 30.0
EXCLUDE_HEADER = "# Jetbox's own files (status, ledger, log, copies for `jetbox undo`)"
MAX_EXCLUDE_BYTES = 1 << 20


def git(root: Path, *args: str) -> str | None:
    """git's output in `root`, or None when there is no git, no repository or an error."""
    program = find_program("git", root)  # never ./git: `.` in PATH would find the model's
    if program is None or not _in_repository(root):
        return None
    call = safe_git(program, root, *args)
    try:
        done = capture(call.argv, root, GIT_TIMEOUT_S, env=call.env)
    except OSError:
        return None
    if done is None or done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "surrogateescape")


def _in_repository(root: Path) -> bool:
    return any((folder / ".git").exists() for folder in (root, *root.parents))


def own_exclude(root: Path) -> tuple[Path, str] | str | None:
    """(the repository's info/exclude, where `root` sits in it), found without asking git
    (whose `--git-path` follows a `.git` file, `commondir` and links out of the workspace);
    a reason when it may not be written; None outside a repository. Only a real `.git`
    folder's real `info/` folder, and in it a regular file or none, is written."""
    for folder in (root, *root.parents):
        dot = folder / ".git"
        try:
            mode = os.lstat(dot).st_mode
        except OSError:
            continue
        if not stat.S_ISDIR(mode):
            return f"{dot} is {'a link' if stat.S_ISLNK(mode) else 'a file (gitdir: ...)'}"
        if os.path.lexists(dot / "commondir"):
            return f"{dot} has a commondir (its info/exclude is another repository's)"
        for path, want in ((dot / "info", stat.S_ISDIR), (dot / "info" / "exclude", stat.S_ISREG)):
            try:
                if not want(os.lstat(path).st_mode):
                    return f"{path} is not a plain {'folder' if want is stat.S_ISDIR else 'file'}"
            except FileNotFoundError:
                continue
            except OSError as exc:
                return f"{path}: {exc.strerror or exc}"
        prefix = root.relative_to(folder).as_posix() + "/" if root != folder else ""
        return dot / "info" / "exclude", prefix
    return None


def exclude_own_files(root: Path, names: Sequence[str],
                      say: Callable[[str], None] | None = None) -> list[str]:
    """Add `names` (relative to `root`, a trailing / for a folder) to the repository's
    info/exclude, anchored to where `root` sits in it; returns the lines added. The file's
    existing lines are kept as they are. When it may not be written, `say` is told once."""
    found = own_exclude(root)
    if isinstance(found, str):
        if say is not None:
            say(f"Jetbox's files ({', '.join(names)}) will show in `git status`: {found}; "
                f"Jetbox writes only a plain info/exclude in the repository's own .git folder")
        return []
    if found is None:
        return []
    exclude, prefix = found
    old = _read_plain(exclude)
    if old is None:
        return []
    present = {line.strip() for line in old.decode("utf-8", "replace").splitlines()}
    missing = [line for line in (f"/{prefix}{name}" for name in names) if line not in present]
    if not missing:
        return []
    text = "" if not old or old.endswith(b"\n") else "\n"
    if EXCLUDE_HEADER not in present:
        text += EXCLUDE_HEADER + "\n"
    text += "".join(line + "\n" for line in missing)
    try:
        # A new file renamed over the old: a hard link to a file elsewhere stays untouched.
        atomic_write_bytes(exclude, old + text.encode("utf-8"))
    except OSError:
        return []
    return missing


def _read_plain(path: Path) -> bytes | None:
    """The file's bytes (b"" when there is none), opened without following a link."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return b""
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read(MAX_EXCLUDE_BYTES)


def uncommitted(root: Path) -> list[str]:
    """Tracked files under `root` with changes not committed (staged or not)."""
    answer = git(root, "status", "--porcelain", "-z", "--untracked-files=no",
                 "--ignore-submodules=all", "--", ".")
    if not answer:
        return []
    entries = answer.split("\0")
    return [entry[3:] for entry in entries if len(entry) > 3]
