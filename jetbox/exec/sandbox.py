"""The OS sandbox for commands and probes: bubblewrap on Linux when it is installed."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from jetbox.core.errors import UsageError
from jetbox.core.programs import find_program
from jetbox.store.workspace import (
    LEDGER_NAME,
    LOCK_NAME,
    LOG_NAME,
    MACHINE_NAME,
    STATUS_NAME,
    guarded_entries,
)

MODES = ("auto", "bwrap", "none")


@dataclass(frozen=True)
class WorkCopy:
    """A private copy of the workspace a command runs in, bound at the workspace's own path
    (tools/cmdcopy.py builds it): what is not in it is bound from the real tree, `binds` as
    (relative path, writable). The read-only ones of bwrap_argv are bound over it last."""

    folder: Path
    binds: tuple[tuple[str, bool], ...] = ()

INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`)"


@functools.cache
def bwrap_usable() -> bool:
    """bwrap exists and can actually create a sandbox here (containers may forbid it)."""
    if not sys.platform.startswith("linux") or find_program("bwrap") is None:
        return False
    probe = subprocess.run(bwrap_argv(["true"], Path("/")), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return probe.returncode == 0


def resolve_sandbox(mode: str) -> str:
    """auto -> bwrap when usable, else none; bwrap when unusable is an error."""
    if mode not in MODES:
        raise UsageError(f"--sandbox must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "none":
        return "none"
    if bwrap_usable():
        return "bwrap"
    if mode == "bwrap":
        where = "Windows and macOS have no bwrap" if not sys.platform.startswith("linux") \
            else INSTALL_HINT
        raise UsageError(f"--sandbox bwrap: bubblewrap is not usable here; {where}, "
                         f"or use --sandbox none")
    return "none"


def interpreter_paths(visible: Iterable[Path] = ()) -> list[Path]:
    """The folders Jetbox's Python and the project's need, when they live under /tmp."""
    candidates = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent,
                  *(Path(p) for p in visible)}
    return sorted(p for p in candidates if p.is_relative_to("/tmp") and p.exists())


def _unix_tables() -> list[str]:
    """/proc/<pid>/net/unix once for every network namespace Jetbox can see: each lists
    only the sockets bound in its own namespace, and all of them share our filesystem."""
    tables: list[str] = []
    seen: set[str] = set()
    pids = [p.name for p in Path("/proc").iterdir() if p.name.isdigit()] \
        if Path("/proc").is_dir() else []
    for pid in ["self", *pids]:
        try:
            namespace = os.readlink(f"/proc/{pid}/ns/net")
            if namespace in seen:
                continue
            seen.add(namespace)
            with open(f"/proc/{pid}/net/unix", "rb") as table:
                tables.append(table.read(8 << 20).decode("utf-8", "surrogateescape"))
        except OSError:  # gone, or another user's (not visible to us: see docs/safety.md)
            continue
    return tables


def _socket_owners(inodes: set[str]) -> dict[str, str]:
    """For socket inodes, the pid of a process holding each (from /proc/<pid>/fd)."""
    owners: dict[str, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in os.scandir(entry / "fd"):
                link = os.readlink(fd.path)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    owners.setdefault(link[8:-1], entry.name)
        except OSError:
            continue
    return owners


def host_socket_paths() -> list[str]:
    """Where the host's UNIX sockets listen: every bound name of every network namespace in
    view (abstract ones, `@...`, are out of reach in the sandbox's own), names with spaces
    whole, and a name bound relative to its binder's folder found from that folder."""
    found: set[str] = set()
    relative: dict[str, str] = {}  # socket inode -> the name it was bound under
    for table in _unix_tables():
        for line in table.splitlines()[1:]:
            fields = line.split(None, 7)
            if len(fields) < 8 or fields[7].startswith("@"):
                continue
            name = fields[7].rstrip("\n")
            if name.startswith("/"):
                found.add(name)
            else:
                relative[fields[6]] = name
    for inode, pid in _socket_owners(set(relative)).items():
        try:
            found.add(os.path.join(os.readlink(f"/proc/{pid}/cwd"), relative[inode]))
        except OSError:
            continue
    return sorted(found)


def hidden_sockets(root: Path) -> list[str]:
    """bwrap arguments that hide the host's sockets (docker, dbus, databases, agents): a
    fresh /run, and /dev/null over every other socket outside the workspace. Abstract
    sockets are already out of reach in the new network namespace."""
    # Fresh, empty folders where services keep their sockets, by construction: nothing
    # bound there on the host is in the sandbox at all (/tmp is bwrap_argv's own).
    fresh = [Path("/tmp")] + [Path(d) for d in ("/run", "/var/run")
                              if Path(d).is_dir() and not Path(d).is_symlink()
                              and not root.is_relative_to(d)]
    args = [arg for folder in fresh[1:] for arg in ("--tmpfs", str(folder))]
    for name in host_socket_paths():
        try:
            path = Path(name).resolve()  # /var/run/x.sock is /run/x.sock where that links
        except (OSError, RuntimeError):
            continue
        if path.is_relative_to(root) or any(path.is_relative_to(f) for f in fresh):
            continue
        if path.is_socket():
            args += ["--ro-bind", "/dev/null", str(path)]
    return args


def bwrap_argv(argv: list[str], workspace: Path,
               protected: Iterable[str] = (STATUS_NAME, LEDGER_NAME, LOG_NAME, LOCK_NAME,
                                           MACHINE_NAME, ".git", ".jetbox"),
               visible: Iterable[Path] = (), writable: Iterable[Path] = (),
               copy: WorkCopy | None = None) -> list[str]:
    """argv inside bubblewrap: everything read-only but the workspace (less Jetbox's files,
    git and any virtual environment in it), a private /tmp, no network. With `copy`, the
    workspace's path shows the copy, and the real tree only where the copy binds it."""
    root = workspace.resolve()
    visible = tuple(visible)
    # Its absolute path: a bare `bwrap` would be looked up on the child's PATH from the
    # workspace, where `.` in PATH finds a model-planted ./bwrap.
    bwrap = find_program("bwrap", root if root.parent != root else None)
    if bwrap is None:
        raise UsageError("--sandbox bwrap: bwrap is not on PATH outside the workspace")
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    # The private /tmp must not hide the interpreter: CI and many users keep venvs there.
    for path in interpreter_paths(p for p in visible if not p.is_relative_to(root)):
        args += ["--ro-bind", str(path), str(path)]
    args += hidden_sockets(root)
    for path in writable:  # Jetbox's own scratch folders (a probe's outcome report)
        args += ["--bind", str(path), str(path)]
    if copy is None:
        args += ["--bind", str(root), str(root)]
    else:
        args += ["--bind", str(copy.folder), str(root)]
        for name, can_write in copy.binds:
            bound = str(root / name)
            args += ["--bind" if can_write else "--ro-bind", bound, bound]
    # Jetbox's own environment and the project's interpreter (its venv and home), and every
    # venv at any depth: a .pth planted in them would run in every Python they serve. Every
    # `.git` at any depth, a `.git` file too: its config runs commands at the person's next
    # `git status` there. (A `.git` a command creates is removed after it: toolbox.py.)
    inside = [Path(sys.prefix), *visible]
    gits, venvs = guarded_entries(root) if root.parent != root else ([], [])
    read_only = [*protected, *gits, *venvs, *(str(p) for p in inside)]
    for name in read_only:
        path = (root / name).resolve()  # a link (.venv -> envs/py) is bound where it leads
        if path.exists() and path.is_relative_to(root) and path != root:
            args += ["--ro-bind", str(path), str(path)]
    # A user namespace with every capability dropped: run as root (containers, CI), the
    # child could otherwise remount / read-write and write anywhere on the host.
    args += ["--unshare-user", "--cap-drop", "ALL", "--unshare-net", "--unshare-pid",
             "--die-with-parent", "--new-session", "--chdir", str(root), "--", *argv]
    return args
