"""The programs Jetbox itself runs (git, bwrap, and any allowed program that is not Python),
found on PATH once and never in the workspace.

Only absolute PATH entries are searched: `.`, an empty entry or `bin` name the current
folder, which is the workspace when a child starts there, and an entry inside the workspace
is the model's to fill. shutil.which is not used: on Windows before Python 3.12 it searches
the current folder first, whatever PATH says."""

from __future__ import annotations

import functools
import os
from pathlib import Path, PurePath


def find_program(name: str, workspace: Path | None = None) -> str | None:
    """The absolute path of `name` on PATH, outside `workspace`; None when there is none."""
    root = str(workspace.resolve()) if workspace is not None else ""
    return _find(name, os.environ.get("PATH", os.defpath), root)


def _suffixes() -> list[str]:
    if os.name != "nt":
        return [""]
    pathext = os.environ.get("PATHEXT", ".COM;.EXE;.BAT;.CMD")
    return [ext.lower() for ext in pathext.split(os.pathsep) if ext]


def searched_entries(path: str, sep: str = os.pathsep,
                     flavour: type[PurePath] = PurePath) -> list[str]:
    """The PATH entries that are searched at all: absolute ones. On Windows that excludes
    `.`, empty entries, `bin`, `C:bin` (relative to a drive's current folder) and `\\bin`
    (on the current drive)."""
    return [entry for entry in path.split(sep) if entry and flavour(entry).is_absolute()]


@functools.cache
def _find(name: str, path: str, root: str) -> str | None:
    """Resolved once per PATH and workspace: a program planted later is never picked."""
    workspace = Path(root) if root else None
    for entry in searched_entries(path):
        try:
            folder = Path(entry).resolve()
        except (OSError, RuntimeError):
            continue
        if workspace is not None and folder.is_relative_to(workspace):
            continue
        for suffix in _suffixes():
            candidate = folder / f"{name}{suffix}"
            if not (candidate.is_file() and os.access(candidate, os.X_OK)):
                continue
            real = candidate.resolve()
            if workspace is None or not real.is_relative_to(workspace):
                return str(candidate)
    return None
