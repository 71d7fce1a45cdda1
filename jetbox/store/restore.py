"""Putting the person's files back as they were before a run: each step restores one path
exactly (content and mode, or no file) from the object store, and is idempotent, so an undo
killed half-way is finished by simply running every step again."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from jetbox.core.fsutil import atomic_write_bytes
from jetbox.store.history import Change, real_name
from jetbox.store.objects import FileState, ObjectStore, state_of

# atomic_write_bytes's temporary files (`.<name>.<random>.tmp`), left behind by a kill.
_TEMP = r"\.{name}\.[A-Za-z0-9_]{{8}}\.tmp"


def inside(root: Path, relative: str) -> Path:
    """The path a ledger record names, refused if it would lead out of the workspace."""
    name = real_name(relative)  # the ledger's escaped name: the bytes on the disk
    target = root / name
    if not target.parent.resolve().is_relative_to(root.resolve()) or \
            Path(name).is_absolute() or ".." in Path(name).parts:
        raise ValueError(f"{relative}: not inside {root}")
    return target


def _same(now: FileState, recorded: FileState) -> bool:
    """Equal content, and equal mode where the record has one (records of older runs
    have none)."""
    return now.sha256 == recorded.sha256 and \
        (recorded.mode is None or not now.exists or now.mode == recorded.mode)


def restore(root: Path, store: ObjectStore, change: Change) -> str:
    """Make the path as it was before the run; returns what was done (or "unchanged")."""
    target = inside(root, change.path)
    _remove_temporaries(target)
    now = state_of(target)
    before = change.before
    if not before.exists:
        if not os.path.lexists(target):
            return "unchanged"
        target.unlink()
        return "removed"
    if _same(now, before):
        return "unchanged"
    if now.sha256 == before.sha256 and before.mode is not None:
        os.chmod(target, before.mode)
        return "mode restored"
    atomic_write_bytes(target, store.load(str(before.sha256)), mode=before.mode)
    return "restored"


def remove_new_dirs(root: Path, changes: Iterable[Change]) -> list[str]:
    """The folders the run created, removed deepest first where they are empty now."""
    folders = sorted({d for c in changes for d in c.new_dirs}, key=lambda d: -d.count("/"))
    removed = []
    for folder in folders:
        try:
            inside(root, folder + "/x").parent.rmdir()
            removed.append(folder)
        except OSError:  # not empty (someone's file), or already gone
            continue
    return removed


def _remove_temporaries(target: Path) -> None:
    pattern = re.compile(_TEMP.format(name=re.escape(target.name)))
    try:
        names = os.listdir(target.parent)
    except OSError:
        return
    for name in names:
        if pattern.fullmatch(name):
            (target.parent / name).unlink(missing_ok=True)
