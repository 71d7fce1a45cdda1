"""The verdict's clean room, as SWE-bench judges a patch: the run's change applied to the
tree the run started from, and the original tests run there.

At the run's first probe every file of the workspace (ignored ones too; not .git, Jetbox's
state, caches, virtual environments or bytecode) is kept by content under
.jetbox/room/objects, with a manifest whose digest the baseline record holds. A finish is
then judged in a scratch tree built from that manifest:

- the judge's side comes from the baseline, whatever the run did to it: test files and
  everything under a tests folder, every conftest.py, pytest/ruff/tox/setup configuration,
  ignore files, and build artifacts (bytecode, extension modules, .pth, egg-info);
- everything else is the run's: its changes to source files, the files it added, and the
  deletions it made.

So a weakened assertion, a conftest hidden by an ignore rule, a planted .pyc or .pth, a new
ruff.toml: none of them is in the room. Tests the run added are judged apart, in the room
and in the baseline tree, so a test that passes before the change tests nothing."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from jetbox.core.fsutil import copy_new
from jetbox.probes.testconfig import CONFIG_NAMES
from jetbox.store.workspace import IGNORED_DIRS, LOCK_NAME, OWN_NAMES, STATE_DIR

ROOM_DIR = "room"        # .jetbox/room: the baseline's files by content, and its manifests
MAX_KEPT_BYTES = 16 << 20  # a larger file (data) is not kept: the room links the run's copy
_CHUNK = 1 << 20
_SKIPPED_DIRS = IGNORED_DIRS | {".nox", ".hypothesis", ".cache"}
# Build output and interpreter state: never source, so the room always takes the baseline's.
_ARTIFACT_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd", ".dll", ".dylib", ".pth", ".egg-link")
_ARTIFACT_DIRS = (".egg-info", ".dist-info")
_TEST_DIRS = frozenset({"tests", "test", "testing"})
_IGNORE_FILES = frozenset({".gitignore", ".ignore", ".rgignore"})
_CONFIG_FILES = CONFIG_NAMES | {"setup.py", "noxfile.py", "conftest.py"}
_TEST_NAME = re.compile(r"^(test_.*|.*_test)\.py$")
# Code under test that looks at the test runner can pass only because it is being tested.
_KNOWS_RUNNER = re.compile(r"_pytest|\bpytest\b|PYTEST_|\bconftest\b")


@dataclass(frozen=True)
class Entry:
    """A file of the baseline: its content digest (None: too large to keep), its mode, or
    the target of a symlink."""

    digest: str | None
    mode: int = 0o644
    link: str | None = None

    def to_json(self) -> list[object]:
        return [self.digest, self.mode, self.link]

    @classmethod
    def from_json(cls, value: list[object]) -> Entry:
        digest, mode, link = (list(value) + [None, 0o644, None])[:3]
        return cls(digest if isinstance(digest, str) else None,
                   mode if isinstance(mode, int) else 0o644,
                   link if isinstance(link, str) else None)


Manifest = Mapping[str, Entry]


def judge_side(rel: str) -> bool:
    """Whether the judge's copy of `rel` is the baseline's: tests, test infrastructure,
    configuration, ignore rules."""
    parts = PurePosixPath(rel).parts
    name = parts[-1]
    return bool(_TEST_NAME.match(name)) or name in _CONFIG_FILES or name in _IGNORE_FILES \
        or any(p in _TEST_DIRS for p in parts[:-1])


def artifact(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    return rel.endswith(_ARTIFACT_SUFFIXES) or any(p.endswith(_ARTIFACT_DIRS) for p in parts)


def _venv(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "pyvenv.cfg"))


def walk(root: Path) -> Iterator[str]:
    """Every file and symlink of the workspace as a posix path, ignored ones included;
    never .git, Jetbox's state, caches, virtual environments (any folder with a
    pyvenv.cfg, whatever its name) or bytecode. Links to folders are not followed."""
    top = str(root)
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS
                         and not _venv(os.path.join(folder, d))
                         and not os.path.islink(os.path.join(folder, d)))
        links = [d for d in os.listdir(folder) if d not in dirs and d not in files
                 and os.path.islink(os.path.join(folder, d))]
        rel_folder = os.path.relpath(folder, top)
        for name in sorted([*files, *links]):
            rel = name if rel_folder == "." else f"{rel_folder}/{name}".replace(os.sep, "/")
            if rel_folder == "." and name in (*OWN_NAMES, LOCK_NAME):
                continue
            if not name.endswith((".pyc", ".pyo")):
                yield rel


def lint_excludes(root: Path) -> tuple[str, ...]:
    """What ruff skips when it lints as the room does: the folders `walk` skips, by name,
    and every virtual environment, by path (the room holds none of them)."""
    found = sorted(_SKIPPED_DIRS)
    for folder, dirs, _files in os.walk(root):
        keep = []
        for name in dirs:
            path = os.path.join(folder, name)
            if name in _SKIPPED_DIRS or os.path.islink(path):
                continue
            if _venv(path):
                found.append(os.path.relpath(path, root).replace(os.sep, "/"))
            else:
                keep.append(name)
        dirs[:] = keep
    return tuple(found)


def _store(root: Path) -> Path:
    return root / STATE_DIR / ROOM_DIR


def _object(store: Path, digest: str) -> Path:
    return store / "objects" / digest[:2] / digest


def _keep(store: Path, path: Path) -> Entry | None:
    """`path` kept by content in `store` (once per content); None when it is gone."""
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            return Entry(None, 0o777, os.readlink(path))
        if not stat.S_ISREG(info.st_mode):
            return None
        mode = stat.S_IMODE(info.st_mode)
        if info.st_size > MAX_KEPT_BYTES:
            return Entry(None, mode)
        data = path.read_bytes()
    except OSError:
        return None
    digest = hashlib.sha256(data).hexdigest()
    target = _object(store, digest)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.with_name(f".{digest}.{os.getpid()}.tmp")
        scratch.write_bytes(data)
        os.replace(scratch, target)
    return Entry(digest, mode)


def snapshot(root: Path) -> str:
    """Keep the workspace as it is now; the digest that names its manifest."""
    store = _store(root)
    manifest = {rel: entry.to_json() for rel in walk(root)
                if (entry := _keep(store, root / rel)) is not None}
    text = json.dumps(manifest, sort_keys=True)
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
    path = store / f"{digest}.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
    return digest


def load(root: Path, digest: str) -> Manifest | None:
    """The manifest `digest` names, or None when it is missing or not what was recorded."""
    path = _store(root) / f"{digest}.json"
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return None
    if hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest() != digest:
        return None
    return {rel: Entry.from_json(value) for rel, value in json.loads(text).items()}


def _same(root: Path, rel: str, entry: Entry) -> bool:
    path = root / rel
    if entry.link is not None:
        return os.path.islink(path) and os.readlink(path) == entry.link
    if entry.digest is None or os.path.islink(path) or not path.is_file():
        return False
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest() == entry.digest


@dataclass(frozen=True)
class Change:
    """What the run did to the workspace, as the room sorts it."""

    source: tuple[str, ...] = ()         # the run's added or changed source files: in the room
    deleted: tuple[str, ...] = ()        # baseline files the run removed (source ones go)
    changed_tests: tuple[str, ...] = ()  # baseline test files the run changed
    new_tests: tuple[str, ...] = ()      # test files the run added (judged apart)
    not_obeyed: tuple[str, ...] = ()     # conftest, config, ignore or artifact files it added
    knows_runner: tuple[str, ...] = ()   # "mathx/__init__.py (`_pytest`)"
    no_project: tuple[str, ...] = ()     # new test files that import none of the project
    shadows: tuple[str, ...] = ()        # "json.py (the standard library's json)"


def changes(root: Path, base: Manifest) -> Change:
    now = set(walk(root))
    source, changed_tests, new_tests, not_obeyed = [], [], [], []
    knows, shadows = [], []
    for rel in sorted(now):
        entry = base.get(rel)
        if entry is not None and _same(root, rel, entry):
            continue
        if artifact(rel):
            not_obeyed.append(rel)
        elif judge_side(rel):
            name = PurePosixPath(rel).name
            if entry is not None:
                changed_tests.append(rel)
            elif name in _CONFIG_FILES or name in _IGNORE_FILES:
                not_obeyed.append(rel)
            else:
                new_tests.append(rel)
        else:
            source.append(rel)
            knows += _runner_words(root, rel, entry)
            if entry is None:
                shadows += _shadowing(rel, now)
    deleted = tuple(sorted(set(base) - now))
    tops = _project_modules(now)
    blind = [r for r in new_tests if r.endswith(".py") and not _imports(root / r, tops)]
    return Change(source=tuple(source), deleted=deleted, changed_tests=tuple(changed_tests),
                  new_tests=tuple(new_tests), not_obeyed=tuple(not_obeyed),
                  knows_runner=tuple(knows), no_project=tuple(blind), shadows=tuple(shadows))


def _project_modules(files: Iterable[str]) -> set[str]:
    """The top-level names the project's own code is imported by: modules and packages at
    the root or under src/."""
    names = set()
    for rel in files:
        parts = PurePosixPath(rel).parts
        if parts[0] == "src":
            parts = parts[1:]
        if parts and rel.endswith(".py") and parts[0] not in _TEST_DIRS:
            names.add(PurePosixPath(parts[0]).stem)
    return names


def _imports(path: Path, tops: set[str]) -> bool:
    """Whether a test module imports the project's code (or is not Python we can read)."""
    import ast

    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return True
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or
                                                 (node.module or "").split(".")[0] in tops):
            return True
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] in tops
                                                for a in node.names):
            return True
    return False


def _runner_words(root: Path, rel: str, entry: Entry | None) -> list[str]:
    """The test runner named in lines the run added to a source file."""
    if not rel.endswith(".py"):
        return []
    try:
        if os.path.getsize(root / rel) > MAX_KEPT_BYTES:
            return []
        now = (root / rel).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    before: set[str] = set()
    if entry is not None and entry.digest is not None:
        store = _store(root)
        try:
            before = set(_object(store, entry.digest).read_text(
                encoding="utf-8", errors="replace").splitlines())
        except OSError:
            pass
    found = {m.group(0) for line in now if line not in before
             for m in _KNOWS_RUNNER.finditer(line)}
    return [f"{rel} (`{word}`)" for word in sorted(found)]


def _importable_top(rel: str, files: set[str]) -> str | None:
    """The module name `rel` is imported as from a folder Python or pytest puts on
    sys.path (the root, src/, a test folder without __init__.py), or None."""
    path = PurePosixPath(rel)
    parts = path.parts
    if path.name == "__init__.py":
        parts = parts[:-1]
    elif path.suffix != ".py":
        return None
    folder, name = parts[:-1], PurePosixPath(parts[-1]).stem if parts else ""
    on_path = not folder or folder == ("src",) or (
        any(p in _TEST_DIRS for p in folder)
        and "/".join((*folder, "__init__.py")) not in files)
    return name if on_path and name else None


@functools.cache
def _runner_modules() -> frozenset[str]:
    """The standard library's modules and the top-level modules of pytest and what it
    depends on: a workspace module of one of these names would load instead. Only those
    distributions' metadata is read (importlib's packages_distributions() read every
    installed one's file list: 0.3 s in a development environment), once per process: the
    environment Jetbox runs in does not change under it."""
    from importlib import metadata

    names = set(sys.stdlib_module_names) | {"pytest", "_pytest", "py", "pluggy"}
    wanted = {"pytest"}
    for requirement in metadata.requires("pytest") or []:
        wanted.add(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0].lower())
    for name in wanted:
        try:
            names |= _top_level(metadata.distribution(name))
        except metadata.PackageNotFoundError:
            continue
    return frozenset(names)


def _top_level(dist: Any) -> set[str]:
    """The modules a distribution installs at the top: as it declares them, or else its
    installed files' first parts (a lone file's module name)."""
    declared = dist.read_text("top_level.txt")
    if declared:
        return set(declared.split())
    names = set()
    for file in dist.files or ():
        parts = PurePosixPath(str(file)).parts
        if len(parts) > 1:
            name = parts[0]
        elif PurePosixPath(parts[0]).suffix in (".py", ".so", ".pyd"):
            name = parts[0].split(".")[0]  # mod.py, mod.cpython-311-x86_64-linux-gnu.so
        else:
            continue
        if name.isidentifier() and name != "__pycache__":
            names.add(name)
    return names


def _shadowing(rel: str, files: set[str]) -> list[str]:
    name = _importable_top(rel, files)
    if name is None or name not in _runner_modules():
        return []
    whose = "the standard library's" if name in sys.stdlib_module_names else "pytest's"
    return [f"{rel} (it would load instead of {whose} `{name}`)"]


@dataclass(frozen=True)
class RoomVerdict:
    """What the room found beyond the probes' own results, for the verdict."""

    change: Change = field(default_factory=Change)
    allowed_tests: tuple[str, ...] = ()   # changed test files judged with the run's version
    new_after: Mapping[str, str] = field(default_factory=dict)   # new tests, in the room
    new_before: Mapping[str, str] = field(default_factory=dict)  # the same, in the baseline
    base_findings: tuple[str, ...] | None = None  # ruff in the baseline tree, as in the room
    problems: tuple[str, ...] = ()        # why the room's results cannot be trusted

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RoomVerdict | None:
        if not isinstance(data, Mapping):
            return None
        change = data.get("change")
        findings = data.get("base_findings")
        return cls(Change(**{k: tuple(v) for k, v in change.items()})
                   if isinstance(change, Mapping) else Change(),
                   tuple(data.get("allowed_tests") or ()), dict(data.get("new_after") or {}),
                   dict(data.get("new_before") or {}),
                   tuple(findings) if isinstance(findings, list | tuple) else None,
                   tuple(data.get("problems") or ()))


@dataclass(frozen=True)
class Room:
    """The scratch tree: the run's source change on the baseline."""

    path: Path
    change: Change = field(default_factory=Change)


def _source(root: Path, base: Manifest, rel: str, from_run: bool) -> tuple[Path | None,
                                                                         str | None, int]:
    """Where `rel` comes from: a file to copy or a link's target, and the mode."""
    entry = base.get(rel)
    if not from_run and entry is not None and (entry.link or entry.digest):
        return (None if entry.link else _object(_store(root), entry.digest or ""),
                entry.link, entry.mode)
    source = root / rel
    if os.path.islink(source):
        return None, os.readlink(source), 0o777
    if source.is_file():
        info = os.stat(source)
        if info.st_size > MAX_KEPT_BYTES:  # data, not code: linked, not copied (100 GB...)
            return None, os.path.abspath(source), 0o777
        return source, None, stat.S_IMODE(info.st_mode)
    return None, None, 0


def _fill(root: Path, base: Manifest, into: Path, run_files: Iterable[str],
          without: Iterable[str] = ()) -> None:
    """`into` made of the baseline's files, less `without`, and the run's `run_files`."""
    ours = set(run_files)
    gone = set(without) | ours
    plan = [(rel, _source(root, base, rel, rel in ours))
            for rel in [*(r for r in base if r not in gone), *sorted(ours)]]
    for folder in sorted({os.path.dirname(rel) for rel, _ in plan}):
        os.makedirs(into / folder, exist_ok=True)

    def place(item: tuple[str, tuple[Path | None, str | None, int]]) -> None:
        rel, (copy, link, mode) = item
        target = into / rel
        if link is not None:
            try:
                os.symlink(link, target)
            except OSError:  # Windows without the right to make links: the room lacks it
                pass
        elif copy is not None:
            copy_new(copy, target, mode)

    # Copying is system calls, not Python: a few threads overlap them (5,000 files).
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(place, plan))


@contextmanager
def built(root: Path, base: Manifest, change: Change,
          allow_test_changes: bool) -> Iterator[Room]:
    """The room for the run's `change`, in a scratch folder removed afterwards. With
    `allow_test_changes` (a person's setting) the run's versions of changed test files are
    in the room too."""
    scratch = Path(tempfile.mkdtemp(prefix="jetbox-room-"))
    room = scratch / root.name
    room.mkdir()  # an empty workspace still has a room to run in
    try:
        from_run = [*change.source, *(change.changed_tests if allow_test_changes else ())]
        _fill(root, base, room, from_run, _deleted_sources(change))
        yield Room(room, change)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _deleted_sources(change: Change) -> list[str]:
    return [r for r in change.deleted if not judge_side(r) and not artifact(r)]


def without_the_change(root: Path, base: Manifest, room: Room) -> None:
    """Turn the room into the baseline tree plus the run's tests: the run's source changes
    taken back (one tree, not two: 5,000 files cost seconds to copy)."""
    sources = [*room.change.source, *_deleted_sources(room.change)]
    for rel in sources:
        target = room.path / rel
        if target.is_symlink() or target.exists():
            target.unlink()
    _fill(root, base, room.path, (), without=[r for r in base if r not in set(sources)])


def add_run_tests(root: Path, base: Manifest, into: Path, change: Change) -> tuple[str, ...]:
    """The run's new and changed test files into a tree; the files to give pytest."""
    files = (*change.new_tests, *change.changed_tests)
    for rel in files:
        target = into / rel
        if target.is_symlink() or target.exists():
            target.unlink()
    _fill(root, base, into, files, without=base)
    return tuple(r for r in files if _TEST_NAME.match(PurePosixPath(r).name))
