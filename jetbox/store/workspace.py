"""The workspace folder and the names of Jetbox's own files inside it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

STATUS_NAME = "status.txt"
LEDGER_NAME = "agent_ledger.log"
LOG_NAME = "agent.log"
LOCK_NAME = ".jetbox.lock"
MACHINE_NAME = "machine.yaml"

# Files the model may read but never write: Jetbox's state, its config and git.
PROTECTED_NAMES = frozenset({STATUS_NAME, LEDGER_NAME, LOG_NAME, LOCK_NAME, MACHINE_NAME})
PROTECTED_DIRS = frozenset({".git", ".jetbox"})
# Names only a person may create: a command that creates one has it removed afterwards
# (a new .git/config can run a command at the person's next `git status`; a new
# machine.yaml names handler modules Jetbox would import).
CREATE_PROTECTED = (*sorted(PROTECTED_NAMES), *sorted(PROTECTED_DIRS))

# Folders that change on their own (caches) and say nothing about the work.
IGNORED_DIRS = frozenset({
    ".git", ".jetbox", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache",
    ".venv", "venv", ".tox", "node_modules", ".eggs",
})


@dataclass(frozen=True)
class Workspace:
    """The folder the agent works in, resolved once."""

    root: Path

    @classmethod
    def at(cls, folder: Path) -> Workspace:
        return cls(folder.expanduser().resolve())

    @property
    def status_path(self) -> Path:
        return self.root / STATUS_NAME

    @property
    def ledger_path(self) -> Path:
        return self.root / LEDGER_NAME

    @property
    def log_path(self) -> Path:
        return self.root / LOG_NAME

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_NAME


def is_venv(folder: Path) -> bool:
    """A virtual environment: a `.pth` file planted in it runs in every Python it serves."""
    return (folder / "pyvenv.cfg").is_file()


def venv_folders(root: Path) -> list[str]:
    """The workspace's top-level folders that are virtual environments (.venv, venv, ...),
    links to a folder included: the caller resolves them."""
    try:
        return sorted(entry.name for entry in os.scandir(root)
                      if entry.is_dir() and is_venv(Path(entry.path)))
    except OSError:
        return []


def absent_protected(root: Path) -> tuple[str, ...]:
    """The create-protected names that do not exist in the workspace now."""
    return tuple(name for name in CREATE_PROTECTED if not os.path.lexists(root / name))


def remove_created(root: Path, names: Iterable[str]) -> list[str]:
    """Remove those of `names` that exist now, never following a symlink."""
    removed = []
    for name in names:
        path = root / name
        if not os.path.lexists(path):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(name)
    return removed
