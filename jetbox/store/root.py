"""The folder a run works in when no -w names one: the project the current folder belongs to,
so that a run started in `proj/pkg/` judges `proj/` with its own .venv and its whole suite."""

from __future__ import annotations

import os
from pathlib import Path

from jetbox.store.workspace import LEDGER_NAME, STATE_DIR

PROJECT_FILES = ("pyproject.toml", "setup.cfg", "setup.py")


def _holds_a_run(folder: Path) -> bool:
    return (folder / LEDGER_NAME).is_file() or (folder / STATE_DIR / LEDGER_NAME).is_file()


def _above(start: Path, home: Path | None) -> list[Path]:
    """`start` and the folders above it, up to but not including the home folder (when
    `start` is inside it) or the filesystem root: neither is ever taken for a project."""
    chain = [start]
    for folder in start.parents:
        if folder == home or folder == Path(folder.anchor):
            break
        chain.append(folder)
    return chain


def project_root(start: Path, home: Path | None = None) -> tuple[Path, str]:
    """The project folder for a run started in `start`, and why it was chosen ("" when it is
    `start` itself): the nearest folder upward that is a git root or holds a pyproject.toml,
    setup.cfg or setup.py (in a one-project repository both are its root; in a repository
    of several projects, the one `start` is in, with its own .venv and pytest settings). A
    folder that already holds a run stays the workspace (its run resumes there), and so does
    one with no project above it."""
    start = start.resolve()
    home = home.resolve() if home is not None else None
    if _holds_a_run(start):
        return start, ""
    for folder in _above(start, home):
        if (folder / ".git").exists():
            return folder, "" if folder == start else f"the git root above {start}"
        found = next((name for name in PROJECT_FILES if (folder / name).is_file()), None)
        if found:
            return folder, "" if folder == start else f"the nearest {found} above {start}"
    return start, ""


def chosen_workspace(value: str | None) -> tuple[Path, str]:
    """-w as given; without it, the project the current folder is in, and why that folder
    ("" when it is the current folder). `run`, `status`, `log`, `diff` and `undo` agree."""
    if value:
        return Path(value), ""
    try:
        home: Path | None = Path.home()
    except (RuntimeError, KeyError):  # no HOME and no password entry
        home = None
    return project_root(Path(os.getcwd()), home)
