"""The test and lint configuration a run started with: every conftest.py, and pytest's and
ruff's settings wherever they live (pytest.ini, .pytest.ini, pytest.toml, .pytest.toml,
tox.ini [pytest], setup.cfg [tool:pytest], pyproject.toml [tool.pytest*] and [tool.ruff],
ruff.toml, .ruff.toml, at any depth). The baseline records it; when the run changed any of
it, the probes run in a scratch copy of the workspace with the baseline's files put back,
so nothing the run writes changes how outcomes are collected, reported or linted."""

from __future__ import annotations

import base64
import configparser
import hashlib
import json
import shutil
import tempfile
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jetbox.store.workspace import IGNORED_DIRS, PROTECTED_NAMES

CONFIG_NAMES = frozenset({"conftest.py", "pytest.ini", ".pytest.ini", "pytest.toml",
                          ".pytest.toml", "tox.ini", "setup.cfg", "pyproject.toml", "ruff.toml",
                          ".ruff.toml"})
INI_SECTIONS = ("pytest", "tool:pytest")
MAX_KEPT_BYTES = 1 << 20  # a larger config file is compared, not restored


@dataclass(frozen=True)
class TestConfig:
    """Per config file: a digest of what pytest and ruff read from it, and its bytes."""

    __test__ = False  # not a pytest test class, whatever its name
    digests: Mapping[str, str] = field(default_factory=dict)
    contents: Mapping[str, str] = field(default_factory=dict)  # base64, to restore

    def to_record(self) -> dict[str, Any]:
        return {"digests": dict(self.digests), "contents": dict(self.contents)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | None) -> TestConfig:
        record = record or {}
        return cls(dict(record.get("digests", {})), dict(record.get("contents", {})))

    def changed(self, now: TestConfig) -> tuple[str, ...]:
        """Config files added, removed or changed (in what pytest or ruff read) since."""
        paths = set(self.digests) | set(now.digests)
        return tuple(sorted(p for p in paths if self.digests.get(p) != now.digests.get(p)))


def config_paths(files: Iterable[str]) -> list[str]:
    return sorted(f for f in files if f.rsplit("/", 1)[-1] in CONFIG_NAMES)


def _digest(text: str | bytes) -> str:
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:32]


def relevant_digest(name: str, data: bytes) -> str:
    """The digest of what pytest and ruff read: a project's metadata or another tool's
    section of pyproject.toml, setup.cfg or tox.ini may change freely."""
    try:
        if name == "pyproject.toml":
            tool = tomllib.loads(data.decode("utf-8")).get("tool", {})
            part = {k: tool.get(k) for k in ("pytest", "ruff")}
            return _digest(json.dumps(part, sort_keys=True, default=str))
        if name in ("setup.cfg", "tox.ini"):
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(data.decode("utf-8"))
            part = {s: dict(parser[s]) for s in INI_SECTIONS if parser.has_section(s)}
            return _digest(json.dumps(part, sort_keys=True))
    except (ValueError, configparser.Error, AttributeError):
        pass  # unreadable: any change of its bytes counts
    return _digest(data)


def snapshot(root: Path, files: Iterable[str]) -> TestConfig:
    digests, contents = {}, {}
    for rel in config_paths(files):
        try:
            data = (root / rel).read_bytes()
        except OSError:
            continue
        digests[rel] = relevant_digest(rel.rsplit("/", 1)[-1], data)
        if len(data) <= MAX_KEPT_BYTES:
            contents[rel] = base64.b64encode(data).decode("ascii")
    return TestConfig(digests, contents)


def _skipped(folder: str, names: list[str]) -> set[str]:
    top = {n for n in names if n in IGNORED_DIRS or n.endswith(".egg-info")
           or (Path(folder, n) / "pyvenv.cfg").exists()}
    return top | {n for n in names if n in PROTECTED_NAMES}


def _inside(scratch: Path, rel: str) -> Path | None:
    """The scratch path of `rel`, or None when a symlink would lead the write elsewhere."""
    target = scratch / rel
    if not target.parent.resolve().is_relative_to(scratch.resolve()):
        return None
    return target


def _put_back(scratch: Path, baseline: TestConfig, rel: str) -> bool:
    """The baseline's version of `rel` in the scratch copy (none if the run added it)."""
    target = _inside(scratch, rel)
    if target is None or (rel in baseline.digests and rel not in baseline.contents):
        return False
    try:
        if target.is_symlink() or target.exists():
            target.unlink()
        if rel in baseline.contents:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base64.b64decode(baseline.contents[rel]))
    except OSError:  # a folder named conftest.py, ...
        return False
    return True


@contextmanager
def pinned_copy(root: Path, baseline: TestConfig, changed: Iterable[str]
                ) -> Iterator[tuple[Path, tuple[str, ...]]]:
    """A scratch copy of the workspace with the baseline's version of each changed config
    file (a file the run added is left out), and the files that could not be put back."""
    scratch = Path(tempfile.mkdtemp(prefix="jetbox-verify-")) / root.name
    try:
        try:
            shutil.copytree(root, scratch, symlinks=True, ignore=_skipped)
        except shutil.Error:
            pass  # what cannot be copied (a socket, an unreadable file) the tests lack
        stuck = tuple(rel for rel in changed if not _put_back(scratch, baseline, rel))
        yield scratch, stuck
    finally:
        shutil.rmtree(scratch.parent, ignore_errors=True)
