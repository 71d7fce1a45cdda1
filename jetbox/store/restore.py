"""Putting the person's files back as they were before a run: each step restores one path
exactly (content and mode, or no file) from the object store, and is idempotent, so an undo
killed half-way is finished by simply running every step again."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Collection, Iterable
from pathlib import Path

from jetbox.core.fsutil import atomic_write_bytes, fsync_dir, replace_with_retry
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
    """Make the path as it was before the run; returns what was done (or "unchanged"). A
    link comes back as a link, a folder as a folder (an empty one the run made is removed;
    one that holds someone's files now stays, and says so)."""
    target = inside(root, change.path)
    _remove_temporaries(target)
    now = state_of(target)
    before = change.before
    if _same(now, before):
        return "unchanged"
    if not before.exists:
        return _remove(target, now)
    if now.exists and (now.is_folder or before.is_folder) and now.sha256 != before.sha256:
        _remove(target, now)  # a file where a folder was, or the other way round
    if before.is_folder:
        if now.is_folder and before.mode is not None:
            os.chmod(target, before.mode)
            return "mode restored"
        target.mkdir(parents=True, exist_ok=True)
        if before.mode is not None:
            os.chmod(target, before.mode)
        return "folder restored"
    link = before.link_target
    if link is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(target):
            target.unlink()
        os.symlink(link, os.fsencode(target))
        return "link restored"
    if now.sha256 == before.sha256 and before.mode is not None:
        os.chmod(target, before.mode)
        return "mode restored"
    if now.link_target is not None:
        target.unlink()  # replaced by the file, never written through to the link's target
    atomic_write_bytes(target, store.load(str(before.sha256)), mode=before.mode)
    return "restored"


def _remove(target: Path, now: FileState) -> str:
    if not now.exists:
        return "unchanged"
    if not now.is_folder:
        target.unlink()
        return "removed"
    try:
        target.rmdir()
    except OSError:  # someone's files are in it now: they stay, and so does it
        return "kept (not empty)"
    return "removed"


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


def relink(root: Path, steps: Iterable[Change], failed: Collection[str],
           ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Names that were one file before the run (hard links, every one in the workspace),
    made one file again once each is restored: each name but the first is replaced by a
    link to the first (os.link to a temporary name, then os.replace, so the name is never
    missing). Idempotent, like restore. Returns (name, the name it is linked to) for each
    name linked again, and (name, why) for each that could not be."""
    by_path = {step.path: step for step in steps}
    linked: list[tuple[str, str]] = []
    problems: list[tuple[str, str]] = []
    for group in dict.fromkeys(step.linked for step in by_path.values() if step.linked):
        befores = {by_path[name].before for name in group if name in by_path}
        before = next(iter(befores))
        if len(befores) != 1 or not before.is_file:
            continue  # not one file before the run (linked while it ran): nothing to make again
        first, *others = group
        blocked = [name for name in group if name in failed or not _holds(root, name, before)]
        if blocked:
            why = f"{', '.join(blocked)}: not the content they shared before the run"
            for name in group:
                if name not in failed:
                    rest = ", ".join(n for n in group if n != name)
                    problems.append((name, f"not linked again to {rest} as before the run "
                                           f"({why})"))
            continue
        for other in others:
            try:
                if _link(inside(root, first), inside(root, other)):
                    linked.append((other, first))
            except (OSError, ValueError) as exc:
                problems.append((other, f"cannot link it to {first} again: {exc}"))
    return linked, problems


def _holds(root: Path, name: str, before: FileState) -> bool:
    try:
        return _same(state_of(inside(root, name)), before)
    except (OSError, ValueError):
        return False


def _link(source: Path, target: Path) -> bool:
    """Make `target` a hard link of `source`; False when it is one already (a rename onto
    a link of the same file would do nothing and leave the temporary name)."""
    if os.path.samefile(source, target):
        return False
    temporary = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"  # as _TEMP
    os.link(source, temporary)
    try:
        replace_with_retry(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return True


def _remove_temporaries(target: Path) -> None:
    pattern = re.compile(_TEMP.format(name=re.escape(target.name)))
    try:
        names = os.listdir(target.parent)
    except OSError:
        return
    for name in names:
        if pattern.fullmatch(name):
            (target.parent / name).unlink(missing_ok=True)
