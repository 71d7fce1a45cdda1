"""The workspace jail: a model-supplied path is resolved and must stay inside the workspace."""

from __future__ import annotations

import ntpath
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

from jetbox.core.prompts import say
from jetbox.core.text import escape_name, unescape_name
from jetbox.store.workspace import PROTECTED_DIRS, PROTECTED_NAMES, is_git_name, is_venv

# Device names Windows reserves in every folder, with or without an extension.
RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
            *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10)),
            "COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³"}
MAX_PATH_CHARS = 1024


class PathRefused(ValueError):
    """A path the model may not use; the message is the tool result it sees."""


@dataclass(frozen=True)
class Jailed:
    """A checked path: where it is on disk, and how to name it to the model."""

    absolute: Path
    relative: str  # posix, relative to the workspace, escaped (escape_name); "." for the root


def check_windows_rules(raw: str) -> None:
    """Forms that are dangerous on Windows, refused on every OS so behaviour is the same."""
    if raw.startswith(("\\\\?\\", "//?/", "\\\\.\\", "//./")):
        raise PathRefused(say("path.device", path=raw))
    drive, _ = ntpath.splitdrive(raw)
    if drive.startswith(("\\\\", "//")):
        raise PathRefused(say("path.unc", path=raw))
    if drive and not raw[len(drive):].startswith(("\\", "/")):
        raise PathRefused(say("path.drive_relative", path=raw))
    if drive:
        raise PathRefused(say("path.absolute_windows", path=raw))
    for part in PureWindowsPath(raw).parts:
        if part in ("\\", "/"):
            continue
        if ":" in part:
            raise PathRefused(say("path.colon", path=raw))
        if part not in (".", "..") and part != part.rstrip(". "):
            raise PathRefused(say("path.trailing_dot", path=raw))
        stem = part.split(".", 1)[0].rstrip(" ").upper()
        if stem in RESERVED:
            raise PathRefused(say("path.reserved", path=raw, part=part))


def _unescaped(raw: str) -> str:
    """A POSIX name given back in Jetbox's escaped form (`caf\\xe9.txt`) as the real name;
    on Windows a backslash separates folders and names are Unicode already."""
    if "\\" not in raw or os.name == "nt":
        return raw
    try:
        return unescape_name(raw)
    except ValueError:
        raise PathRefused(say("path.backslash", path=escape_name(raw))) from None


def is_protected(relative: str) -> bool:
    """Jetbox's own files and git's, compared without case: `STATUS.TXT` and `.GIT` name
    the same files on Windows and macOS. A `.git` at any depth is git's: `pkg/.git/config`
    with `core.fsmonitor` runs a command at the person's next `git status` in `pkg/`, and a
    `.git` file (`gitdir: ...`) makes any folder the model filled a repository."""
    parts = relative.casefold().split("/")
    return parts[0] in PROTECTED_DIRS or parts[0].startswith(".jetbox") or \
        any(is_git_name(part) for part in parts) or \
        (len(parts) == 1 and parts[0] in {name.casefold() for name in PROTECTED_NAMES})


# What makes a folder a repository to git without any `.git` (a bare one, or a linked
# worktree's folder): HEAD, and objects/ and refs/ or a `commondir` naming where they are.
# Git finds it from inside and obeys its config (`core.pager`, `core.fsmonitor`, ...).
_GIT_DIR_PARTS = (("HEAD", False), ("objects", True), ("refs", True))


def _makes_repository(root: Path, target: Path) -> bool:
    """Whether writing `target` writes into a folder git takes for a repository, or makes
    one (the last of HEAD, objects/, refs/, or of HEAD and commondir)."""
    folder = target.parent
    while folder.is_relative_to(root):
        inside = tuple(part.casefold() for part in target.relative_to(folder).parts)
        head, objects, refs = (_has(folder, name, is_dir, inside)
                               for name, is_dir in _GIT_DIR_PARTS)
        if head and ((objects and refs) or _has(folder, "commondir", False, inside)):
            return True
        if folder == root:
            return False
        folder = folder.parent
    return False


def _has(folder: Path, name: str, is_dir: bool, inside: tuple[str, ...]) -> bool:
    """Whether `folder` has `name` now, or will once the file at `inside` is written."""
    if inside[0] == name.casefold() and (is_dir or len(inside) == 1):
        return True
    return (folder / name).is_dir() if is_dir else (folder / name).is_file()


def jail(workspace: Path, raw: object, for_write: bool = False,
         read_only: tuple[Path, ...] = ()) -> Jailed:
    """Resolve `raw` (symlinks followed, `..` collapsed) and require it inside `workspace`;
    for a write, also outside Jetbox's files, every venv and the `read_only` folders (the
    project's interpreter, wherever it lives)."""
    name = _checked_name(raw, for_write)
    root = workspace.resolve()
    target = _resolved(root, name, str(raw))
    if target != root and not target.is_relative_to(root):
        raise PathRefused(say("path.outside", path=escape_name(str(raw)),
                              workspace=escape_name(root.name)))
    relative = escape_name(target.relative_to(root).as_posix()) if target != root else "."
    if for_write:
        _check_writable(root, target, relative)
        if any(target.is_relative_to(folder.resolve()) for folder in read_only):
            raise PathRefused(say("path.in_interpreter", path=relative))
    return Jailed(target, relative)


def inside(workspace: Path, relatives: list[str]) -> list[str]:
    """Those of `relatives` (project files, from git or a walk) that the jail lets a tool
    open: a link out of the workspace, shipped by the repository or made by a command, is
    dropped, exactly as read_file would refuse it."""
    kept = []
    for relative in relatives:
        try:
            jail(workspace, escape_name(relative))
        except PathRefused:
            continue
        kept.append(relative)
    return kept


def _checked_name(raw: object, for_write: bool) -> str:
    """The file name `raw` stands for (escapes taken back), or a refusal saying why not."""
    if not isinstance(raw, str):
        raise PathRefused(say("path.not_a_string", type=type(raw).__name__))
    if not raw.strip() or len(raw) > MAX_PATH_CHARS or "\x00" in raw or \
            re.search(r"[\x01-\x1f\x7f]", raw):
        raise PathRefused(say("path.bad"))
    check_windows_rules(raw)
    name = _unescaped(raw)
    try:
        os.fsencode(name)
    except UnicodeEncodeError:  # a lone surrogate no file system name can hold
        raise PathRefused(say("path.invalid_name", path=escape_name(name))) from None
    if for_write and (re.search(r"[\x00-\x1f\x7f-\x9f]", name)
                      or ("\\" in name and os.name != "nt")):
        raise PathRefused(say("path.control_characters", path=escape_name(name)))
    return name


def _resolved(root: Path, name: str, raw: str) -> Path:
    candidate = Path(name)
    try:
        return (candidate if candidate.is_absolute() else root / candidate).resolve()
    except (RuntimeError, OSError, ValueError) as exc:
        # A symlink loop (RuntimeError before Python 3.13, ELOOP after), a name too long
        # or one the file system cannot encode: the model gets a refusal, never a crash.
        reason = (say("path.symlink_loop") if isinstance(exc, RuntimeError)
                  else say("path.unstorable_name") if isinstance(exc, ValueError)
                  else exc.strerror or type(exc).__name__)
        raise PathRefused(say("path.unresolvable", path=raw, reason=reason)) from None


def _check_writable(root: Path, target: Path, relative: str) -> None:
    if is_protected(relative) or _makes_repository(root, target):
        raise PathRefused(say("path.protected", path=relative))
    own_env = Path(sys.prefix).resolve()
    if _in_venv(root, target) or target.is_relative_to(own_env):
        raise PathRefused(say("path.in_venv", path=relative))
    if relative == ".":
        raise PathRefused(say("path.workspace_itself"))


def _in_venv(root: Path, target: Path) -> bool:
    """Whether `target` (resolved) lies in a virtual environment at any depth: a venv below
    the top level, or one a `.venv` link points to, serves a Python as much as `.venv/`."""
    folder = target.parent
    while folder != root and folder.is_relative_to(root):
        if is_venv(folder):
            return True
        folder = folder.parent
    return is_venv(target)
