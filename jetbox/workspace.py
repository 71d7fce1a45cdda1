"""The workspace folder and the names of Jetbox's own files inside it."""

from __future__ import annotations

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
