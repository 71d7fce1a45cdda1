"""The workspace folder and the names of Jetbox's own files inside it."""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from jetbox.core.errors import UsageError

STATUS_NAME = "status.txt"
LEDGER_NAME = "agent_ledger.log"
LOG_NAME = "agent.log"
LOCK_NAME = ".jetbox.lock"
MACHINE_NAME = "machine.yaml"
STATE_DIR = ".jetbox"    # Jetbox's folder: the copies `undo` restores, and its state when chosen
OBJECTS_DIR = "objects"  # .jetbox/objects/ab/<sha256>: a file as it was before a run
OWN_NAMES = (STATUS_NAME, LEDGER_NAME, LOG_NAME)
MAX_FIRST_LINE = 16_000_000  # a ledger record holds at most a file's content and then some
_PRECEDENCE = (LEDGER_NAME, STATUS_NAME, LOG_NAME)  # which file tells whose they are
_LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")  # display.open_log

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
    """The folder the agent works in, resolved once, and where Jetbox keeps its files:
    beside the code (the default) or in .jetbox/ (chosen, or when a name is taken)."""

    root: Path
    in_state_dir: bool = False
    notice: str = ""  # why the files are in .jetbox/, for the person, once per run

    @classmethod
    def at(cls, folder: Path, state_dir: str | None = None) -> Workspace:
        """`state_dir`: "." or ".jetbox" as a person chose it; None: where a run already
        keeps its files, else beside the code unless a name there is taken."""
        root = folder.expanduser().resolve()
        if state_dir not in (None, ".", STATE_DIR):
            raise UsageError(f"--state-dir must be . or {STATE_DIR}, not {state_dir!r}")
        check_state_folder(root)  # before anything is read from it or written to it
        inside, notice = _choose_state(root, state_dir)
        return cls(root, inside, notice)

    @property
    def state_path(self) -> Path:
        """The folder holding status.txt, agent_ledger.log and agent.log."""
        return self.root / STATE_DIR if self.in_state_dir else self.root

    @property
    def objects_path(self) -> Path:
        return self.root / STATE_DIR / OBJECTS_DIR

    @property
    def status_path(self) -> Path:
        return self.state_path / STATUS_NAME

    @property
    def ledger_path(self) -> Path:
        return self.state_path / LEDGER_NAME

    @property
    def log_path(self) -> Path:
        return self.state_path / LOG_NAME

    def own_paths(self) -> tuple[str, ...]:
        """Jetbox's own files and folders, relative to the root, posix: never the project's."""
        names = [STATE_DIR + "/", LOCK_NAME]
        if not self.in_state_dir:
            names += OWN_NAMES
        return tuple(names)

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_NAME


def _ours(root: Path, taken: list[str]) -> bool:
    """Whether the files of Jetbox's names beside the code are a Jetbox run's: its ledger's
    first record sealed as Jetbox seals them, else status.txt with Jetbox's `Goal:` line,
    else agent.log in Jetbox's format. One that is not a regular file or cannot be read is
    a damaged Jetbox file, left for the run's own checks to name."""
    name = taken[0]  # the ledger decides, else status.txt, else the log
    path = root / name
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return True
        with open(path, "rb") as handle:
            head = handle.readline(MAX_FIRST_LINE) if name == LEDGER_NAME else handle.read(4096)
    except OSError:
        return True
    if name == LEDGER_NAME:
        from jetbox.store.ledger import parse_line

        return not head or parse_line(head) is not None
    text = head.decode("utf-8", "replace").removeprefix("\ufeff")
    if name == STATUS_NAME:
        return any(line.strip().lower().startswith("goal:") for line in text.splitlines())
    return not text or _LOG_LINE.match(text) is not None


# Windows reparse tags that redirect a path: a symlink and a junction (mount point). Other
# reparse points (OneDrive's cloud files) hold their data where they are.
_REDIRECTING_TAGS = (getattr(stat, "IO_REPARSE_TAG_SYMLINK", 0xA000000C),
                     getattr(stat, "IO_REPARSE_TAG_MOUNT_POINT", 0xA0000003))


def _is_link(info: os.stat_result) -> bool:
    """A symlink, or on Windows a junction too (lstat does not report it as S_ISLNK)."""
    return stat.S_ISLNK(info.st_mode) or getattr(info, "st_reparse_tag", 0) in _REDIRECTING_TAGS


def check_state_folder(root: Path) -> None:
    """Refuse a `.jetbox` that is not a plain folder, or holds a link at any depth: a
    repository that ships `.jetbox -> /elsewhere` (or `.jetbox/objects -> ...`) would
    receive the ledger, the log, status.txt and copies of the person's files outside the
    workspace. Checked entry by entry without following links (lstat, scandir)."""
    folder = root / STATE_DIR
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"{folder}: {exc.strerror or exc}") from None
    if _is_link(info) or not stat.S_ISDIR(info.st_mode):
        _refuse_state(folder, "a link" if _is_link(info) else "not a folder")
    stack = [folder]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink() or (os.name == "nt"
                                      and _is_link(entry.stat(follow_symlinks=False))):
                _refuse_state(Path(entry.path), "a link")
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))


def _refuse_state(path: Path, what: str) -> None:
    raise UsageError(f"{path} is {what}: Jetbox keeps its ledger, its log and copies of "
                     f"your files in {STATE_DIR}/ and never follows a link out of the "
                     f"workspace; it is not Jetbox's: remove it and run again")


def make_state_folder(root: Path) -> Path:
    """`.jetbox/`, made if absent, and checked again: never a link (see above)."""
    folder = root / STATE_DIR
    try:
        os.mkdir(folder)
    except FileExistsError:
        pass
    check_state_folder(root)
    return folder


def _choose_state(root: Path, chosen: str | None) -> tuple[bool, str]:
    """(whether Jetbox's files go in .jetbox/, the notice saying why)."""
    if chosen == STATE_DIR or (chosen is None and (root / STATE_DIR / LEDGER_NAME).is_file()):
        return True, ""
    taken = [name for name in OWN_NAMES if os.path.lexists(root / name)]
    if not taken or _ours(root, sorted(taken, key=_PRECEDENCE.index)):
        return False, ""
    if chosen == ".":
        raise UsageError(f"{', '.join(taken)} in {root} are not Jetbox's; Jetbox will not "
                         f"overwrite them: use --state-dir {STATE_DIR}")
    return True, (f"{', '.join(taken)} here {'is' if len(taken) == 1 else 'are'} the "
                  f"project's: Jetbox keeps its files in {STATE_DIR}/")


def is_venv(folder: Path) -> bool:
    """A virtual environment: a `.pth` file planted in it runs in every Python it serves."""
    return (folder / "pyvenv.cfg").is_file()


def is_git_name(name: str) -> bool:
    """Whether git would take `name` for `.git` on some file system: any case (Windows,
    macOS), a trailing dot or space (Windows drops them), the 8.3 short name `GIT~1`, and
    the code points HFS+ ignores in names (`.g\u200cit`), as git's own checks do."""
    folded = "".join(ch for ch in name if ch not in _HFS_IGNORED).casefold().rstrip(". ")
    return folded in (".git", "git~1")


_HFS_IGNORED = frozenset("\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                         "\u206a\u206b\u206c\u206d\u206e\u206f\ufeff")


def guarded_entries(root: Path) -> tuple[list[str], list[str]]:
    """(every `.git` entry, folder or file, and every folder git takes for a bare repository;
    every virtual environment) at any depth in the workspace, relative posix paths. None is
    entered; links are not followed, but a link named `.git` or one to a venv is listed, so
    the caller can resolve it."""
    gits: list[str] = []
    venvs: list[str] = []
    stack = [""]
    while stack:
        prefix = stack.pop()
        try:
            entries = list(os.scandir(root / prefix if prefix else root))
        except OSError:
            continue
        names = {entry.name.casefold() for entry in entries}
        if prefix and "head" in names and ({"objects", "refs"} <= names or "commondir" in names):
            gits.append(prefix.rstrip("/"))  # a bare repository: git obeys its config
            continue
        for entry in entries:
            rel = prefix + entry.name
            if is_git_name(entry.name):
                gits.append(rel)
            elif _is_dir(entry) and is_venv(Path(entry.path)):
                venvs.append(rel)
            elif _is_dir(entry, follow=False) and rel != STATE_DIR:  # Jetbox's own
                stack.append(rel + "/")
    return sorted(gits), sorted(venvs)


def _is_dir(entry: os.DirEntry[str], follow: bool = True) -> bool:
    """A link loop, or a folder that cannot be read, is no folder here (not a crash)."""
    try:
        return entry.is_dir(follow_symlinks=follow)
    except OSError:
        return False


@dataclass(frozen=True)
class Absent:
    """What a command may not create, as it stood before the command: the create-protected
    names absent at the top, and the `.git` entries present at any depth."""

    names: tuple[str, ...]
    gits: frozenset[str]


def absent_protected(root: Path) -> Absent:
    """The create-protected names that do not exist in the workspace now, and the `.git`
    entries that do (a new one anywhere is a repository whose config git would obey)."""
    return Absent(tuple(name for name in CREATE_PROTECTED if not os.path.lexists(root / name)),
                  frozenset(guarded_entries(root)[0]))


def remove_created(root: Path, absent: Absent | Iterable[str]) -> list[str]:
    """Remove those of the names that exist now, and any `.git` entry that is new, never
    following a symlink."""
    if isinstance(absent, Absent):
        names = [*absent.names, *(git for git in guarded_entries(root)[0]
                                  if git not in absent.gits and git not in absent.names)]
    else:
        names = list(absent)
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
