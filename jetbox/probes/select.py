"""Which tests a change can affect, so a probe between edits need not run the whole suite.

Between two edits Jetbox runs, in this order, only: the tests that failed at the start or
in the last probe (if they still fail, the round's answer is known: stop there), then the
test files that import a changed module, directly or through other modules of the project.
Everything else keeps the outcome it had when it last ran: the current content cannot have
changed it. The whole suite runs at the run's first probe and to verify a finish, so the
verdict judges a finish on a full run, by the same rules. A change the import graph cannot
follow (conftest.py, configuration, a file pytest reads) runs the whole suite too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from jetbox.core.fsutil import read_bounded

MAX_SOURCE_BYTES = 1_000_000
FAILING = ("failed", "error")
_IMPORT = re.compile(r"^\s*(?:from\s+(\.*[\w.]*)\s+import\s+([\w., ()*]+)|import\s+([\w., ]+))",
                     re.M)
# Changes the import graph cannot follow: they may affect any test.
_WHOLE_SUITE = {"conftest.py", "pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml",
                "setup.py"}


@dataclass(frozen=True)
class Focus:
    """The tests to run first (ids), then the files to run if those pass."""

    failing: tuple[str, ...]
    affected: tuple[str, ...]


def is_test_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def module_names(path: str) -> set[str]:
    """The dotted names a file may be imported by: from the root, and from under src/."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    names = {".".join(parts[i:]) for i in range(len(parts)) if parts[i:]}
    return {n for n in names if n}


def imports_of(path: str, text: str) -> set[str]:
    """The modules a file imports (relative imports resolved against its package), with
    `from a import b` counted as both `a` and `a.b` (b may be a module)."""
    package = list(PurePosixPath(path).parent.parts)
    found: set[str] = set()
    for source, names, plain in _IMPORT.findall(text):
        if plain:
            found |= {n.split(" as ")[0].strip() for n in plain.split(",") if n.strip()}
            continue
        dots = len(source) - len(source.lstrip("."))
        base = source.lstrip(".")
        if dots:
            anchor = package[:len(package) - dots + 1] if dots <= len(package) + 1 else []
            base = ".".join([*anchor, *([base] if base else [])])
        if base:
            found.add(base)
            found |= {f"{base}.{n.split(' as ')[0].strip(' ()')}"
                      for n in names.split(",") if n.strip(" ()")}
    return found


def import_graph(root: Path, files: Iterable[str]) -> dict[str, set[str]]:
    """For each Python file, the project's files it imports."""
    python = [f for f in files if f.endswith(".py")]
    by_name: dict[str, str] = {}
    for path in python:
        for name in module_names(path):
            by_name.setdefault(name, path)
    graph: dict[str, set[str]] = {}
    for path in python:
        try:
            text = read_bounded(root / path, MAX_SOURCE_BYTES)[0].decode("utf-8", "replace")
        except OSError:
            text = ""
        graph[path] = {by_name[m] for m in imports_of(path, text) if m in by_name} - {path}
    return graph


def affected_tests(graph: Mapping[str, set[str]], changed: Iterable[str]) -> set[str]:
    """The test files that import a changed file, directly or through others."""
    importers: dict[str, set[str]] = {}
    for path, imported in graph.items():
        for target in imported:
            importers.setdefault(target, set()).add(path)
    seen, todo = set(changed), list(changed)
    while todo:
        for importer in importers.get(todo.pop(), ()):
            if importer not in seen:
                seen.add(importer)
                todo.append(importer)
    return {p for p in seen if is_test_file(p) and p in graph}


def focus(root: Path, files: Sequence[str], changed: Iterable[str],
          failing: Iterable[str]) -> Focus | None:
    """What to run after `changed` (None: the whole suite), given the test ids that
    failed at the start or in the last probe."""
    changed = set(changed)
    if any(PurePosixPath(c).name in _WHOLE_SUITE for c in changed):
        return None
    tests = affected_tests(import_graph(root, files), {c for c in changed if c.endswith(".py")})
    present = set(files)
    ids = tuple(sorted({t for t in failing if t.split("::", 1)[0] in present}))
    return Focus(ids, tuple(sorted(tests)))


def any_failing(outcomes: Mapping[str, str]) -> bool:
    """Some of the tests run first fail: the round's verdict is red whatever the rest do."""
    return any(o in FAILING for o in outcomes.values())


def merged(previous: Mapping[str, str], fresh: Mapping[str, str],
           ran: Iterable[str]) -> dict[str, str]:
    """The outcomes now: those of the tests and files that ran, fresh (a test of a file
    that ran that did not run any more is gone), and the others' as they last ran."""
    targets = set(ran)
    kept = {t: o for t, o in previous.items()
            if t not in targets and t.split("::", 1)[0] not in targets}
    return {**kept, **fresh}
