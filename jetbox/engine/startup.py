"""What a run settles before its first round so the person's repository stays theirs: which
machine file it uses (the one it started with, from any folder), Jetbox's files kept out of
`git status`, and one-line notices (where the files are, a machine.yaml passed over, work
not committed)."""

from __future__ import annotations

from pathlib import Path

from jetbox.core.display import Display
from jetbox.engine.resume import machine_digest, recorded_machine
from jetbox.spec.runtime import find_machine_file, foreign_machine_notice
from jetbox.store.gitrepo import exclude_own_files, uncommitted
from jetbox.store.ledger import Ledger
from jetbox.store.workspace import LOCK_NAME, Workspace

UNCOMMITTED_SHOWN = 3


def machine_file(explicit: Path | None, workspace: Path, cwd: Path, ledger: Ledger,
                 resumes: bool) -> Path:
    """--machine; else, on a resume, the file the run started with (whatever the current
    folder: trust.py then checks its digest); else the usual search."""
    if explicit is None and resumes:
        recorded = recorded_machine(ledger)
        if recorded is not None and recorded[0].is_file():
            return recorded[0]
    return find_machine_file(explicit, workspace, cwd)


def own_files(workspace: Workspace) -> list[str]:
    """Jetbox's files and folders, as info/exclude lines relative to the workspace."""
    names = [*workspace.own_paths(), LOCK_NAME + ".takeover"]
    return list(dict.fromkeys(names))


def prepare_repository(workspace: Workspace, display: Display, cwd: Path,
                       starting: bool) -> None:
    """Keep Jetbox's files out of git, and say what a person should know before it works."""
    if workspace.notice:
        display.event(workspace.notice)
    notice = foreign_machine_notice(workspace.root, cwd)
    if notice:
        display.event(notice)
    # Said once a run, when it starts: a resume writes the same lines, or cannot again.
    exclude_own_files(workspace.root, own_files(workspace), display.warn if starting else None)
    if not starting:
        return
    changed = uncommitted(workspace.root)
    if changed:
        shown = ", ".join(changed[:UNCOMMITTED_SHOWN]) + \
            (f" and {len(changed) - UNCOMMITTED_SHOWN} more" if len(changed) > UNCOMMITTED_SHOWN
             else "")
        display.warn(f"the work tree has uncommitted changes ({shown}); `jetbox undo` takes "
                     f"back only this run's changes: commit or stash yours to keep them apart")


def describe_machine(explicit: Path | None, workspace: Path, cwd: Path, ledger: Ledger) -> str:
    """For `jetbox status`: the machine file the run uses (the one it started with), and
    whether it changed since; with no run, the one a run started here would use."""
    recorded = recorded_machine(ledger) if explicit is None else None
    if recorded is None:
        return str(find_machine_file(explicit, workspace, cwd))
    path, digest = recorded
    if not path.is_file():
        return f"{path} (the run's; missing now)"
    changed = bool(digest) and machine_digest(path) != digest
    return f"{path}" + (" (changed since the run started)" if changed else "")
