"""Probes: the real state of the workspace (files, ruff, pytest), without the model."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from jetbox.core.errors import ConfigError
from jetbox.core.prompts import say
from jetbox.core.text import escape_name
from jetbox.exec.interpreter import Interpreter
from jetbox.exec.process import run_process, scrubbed_env
from jetbox.probes import room
from jetbox.probes.changes import ChangeDetector, file_digest
from jetbox.probes.parsers import parse_generic, parse_pytest, parse_ruff
from jetbox.probes.report import (
    OutcomeChannel,
    OutcomeReport,
    count_outcomes,
    disagreements,
    shadowing,
    test_file_digests,
)
from jetbox.probes.room import RoomVerdict
from jetbox.probes.testconfig import TestConfig, pinned_copy, snapshot
from jetbox.store.workspace import STATE_DIR, absent_protected, remove_created
from jetbox.tools.policy import pytest_guards

MAX_DETAIL_CHARS = 1500
MAX_FILES_SHOWN = 60
MAX_PROBE_OUTPUT = 2_000_000  # pytest prints one line per test: hundreds of tests fit
PARSERS = ("ruff", "pytest", "generic")


@dataclass(frozen=True)
class ProbeSpec:
    """One check from machine.yaml's `probes:`."""

    name: str
    argv: tuple[str, ...]
    parser: str = "generic"  # ruff | pytest | generic (ok = exit code 0)
    timeout_s: float = 120.0
    required: bool = True    # counts toward green


DEFAULT_PROBES = (
    ProbeSpec("ruff", ("ruff", "check", "."), "ruff"),
    ProbeSpec("pytest", ("pytest", "-q"), "pytest"),
)

# Flags Jetbox adds so a probe's output is compact and probing writes no caches.
EXTRA_ARGS = {
    # --ignore-noqa: a noqa comment the run adds cannot hide a finding (the baseline is taken
    # with it too, so the project's own noqa comments hide nothing new either).
    "ruff": ("--output-format", "concise", "--no-cache", "--ignore-noqa"),
    # --verbosity after the project's addopts: -q twice (theirs and ours) hides the summary.
    # -rfEsxXp: one summary line per test (its id and outcome), for the baseline comparison.
    "pytest": ("-rfEsxXp", "--tb=short", "-p", "no:cacheprovider", "--color=no", "--verbosity=-1"),
}


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    summary: str        # one short line
    details: str        # bounded: first failures, ruff locations
    exit_code: int | None
    timed_out: bool
    duration_s: float
    counts: Mapping[str, int] = field(default_factory=dict)
    required: bool = True
    findings: tuple[str, ...] = ()           # ruff: `path:line:col: CODE message`, all of them
    outcomes: Mapping[str, str] = field(default_factory=dict)  # pytest: test id -> outcome
    parser: str = "generic"
    problems: tuple[str, ...] = ()           # pytest: why its outcomes cannot be trusted
    plugins: tuple[str, ...] = ()            # pytest: plugin modules loaded from the project
    test_files: Mapping[str, str] = field(default_factory=dict)  # file of a test id -> digest


@dataclass(frozen=True)
class ProbeReport:
    files: tuple[str, ...]
    checks: tuple[CheckResult, ...]
    fingerprint: str
    reused: bool = False
    config_changed: tuple[str, ...] = ()  # test/lint config unlike the baseline's: not obeyed
    room: RoomVerdict | None = None  # a finish judged in the clean room

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeReport:
        checks = tuple(CheckResult(**c) for c in data["checks"])
        return cls(tuple(data["files"]), checks, data["fingerprint"], data.get("reused", False),
                   tuple(data.get("config_changed", ())), RoomVerdict.from_dict(data.get("room")))


def probe_specs_from_yaml(data: object, source: str = "machine.yaml") -> tuple[ProbeSpec, ...]:
    """machine.yaml's `probes:` list; missing means the default ruff + pytest probes."""
    if data is None:
        return DEFAULT_PROBES
    if not isinstance(data, list):
        raise ConfigError(f"{source}: `probes` must be a list")
    specs = []
    for index, raw in enumerate(data):
        where = f"{source}: probes[{index}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise ConfigError(f"{where}: needs `name` and `cmd`")
        unknown = set(raw) - {"name", "cmd", "parser", "timeout_s", "required"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
        cmd = raw.get("cmd")
        argv = shlex.split(cmd) if isinstance(cmd, str) else cmd
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise ConfigError(f"{where}: `cmd` must be a command line or a list of strings")
        parser = raw.get("parser", "generic")
        if parser not in PARSERS:
            raise ConfigError(f"{where}: `parser` must be one of {', '.join(PARSERS)}")
        specs.append(ProbeSpec(raw["name"], tuple(argv), parser,
                               float(raw.get("timeout_s", 120)), bool(raw.get("required", True))))
    return tuple(specs)


def resolve_argv(spec: ProbeSpec, python: Path | None = None,
                 workspace: Path | None = None) -> list[str]:
    """python and pytest through the project's interpreter, ruff through Jetbox's own with -P
    (a workspace ruff.py never answers for it); nothing from the workspace. pytest gets the
    same guards as the model's pytest commands."""
    program, *rest = spec.argv
    project = str(python or sys.executable)
    prefix = {"python": [project], "ruff": [sys.executable, "-P", "-m", "ruff"],
              "pytest": [project, "-m", "pytest"]}.get(program, [program])
    if program == "python" and rest[:2] == ["-m", "ruff"]:
        prefix = [sys.executable, "-P"]
    module = rest[:2] if rest[:2] == ["-m", spec.parser] else []
    runs_parser = runs_own_parser(spec)
    guards = pytest_guards(workspace) if workspace and spec.parser == "pytest" and \
        runs_parser and not any(a.startswith(("--log-file", "--basetemp")) for a in rest) else []
    return [*prefix, *module, *guards, *rest[len(module):],
            *(EXTRA_ARGS.get(spec.parser, ()) if runs_parser else ())]


def _in_room(spec: ProbeSpec, excludes: Sequence[str]) -> ProbeSpec:
    """ruff as the room lints: every Python file, whatever an ignore rule or ruff's default
    excludes (`_build/`, `dist/`) say, but no virtual environment, cache or state folder
    (`excludes`)."""
    if spec.parser != "ruff" or not runs_own_parser(spec):
        return spec
    return replace(spec, argv=(*spec.argv, "--no-respect-gitignore", "--config",
                               f"exclude = {json.dumps(list(excludes))}"))


def runs_own_parser(spec: ProbeSpec) -> bool:
    """The probe runs ruff or pytest itself, so Jetbox's flags (and its plugin) apply."""
    program, *rest = spec.argv
    return program == spec.parser or rest[:2] == ["-m", spec.parser]


class RoomBytecode:
    """The clean room's bytecode folder (PYTHONPYCACHEPREFIX), one for the process: filled
    for each interpreter once (Prober._warm), before any of the run's code ran, then kept
    for the finishes after. Filling it again at each finish cost a pytest start (about 1 s).
    Kept only as it was filled: every file's digest is taken then and compared before each
    use, and a folder that differs at all (a file the run's code wrote, changed or removed;
    the room's own Python writes none) is emptied and filled again. A file a run changed
    since it was compiled is compiled again by the room's Python, in memory, as Python
    checks each source against its bytecode."""

    PREFIX = "jetbox-pycache-"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._filled: set[str] = set()  # interpreters warmed into it
        self._digests: dict[str, str] = {}

    @contextlib.contextmanager
    def use(self, warm: Callable[[Path], None], interpreter: str | None) -> Iterator[Path]:
        """The folder for one finish: with nothing to warm (no probe runs pytest itself),
        an empty one of its own, removed after it."""
        if interpreter is None:
            with tempfile.TemporaryDirectory(prefix=self.PREFIX) as empty:
                yield Path(empty)
        else:
            yield self.folder(warm, interpreter)

    def folder(self, warm: Callable[[Path], None], interpreter: str) -> Path:
        with self._lock:
            if self._path is None or _digests(self._path) != self._digests:
                self._empty()
            assert self._path is not None
            if interpreter not in self._filled:
                warm(self._path)
                self._filled.add(interpreter)
                self._digests = _digests(self._path)
            return self._path

    def _empty(self) -> None:
        if self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
        self.remove_orphans()
        # Named with this process's id: a Jetbox killed before its exit removes it leaves
        # it behind, and the next one to fill a folder removes it (remove_orphans).
        self._path = Path(tempfile.mkdtemp(prefix=f"{self.PREFIX}{os.getpid()}-"))
        weakref.finalize(self, shutil.rmtree, self._path, True)  # at the latest, at exit
        self._filled.clear()
        self._digests = {}

    @classmethod
    def remove_orphans(cls, where: Path | None = None) -> list[str]:
        """Remove the folders Jetbox processes that no longer run left in the temporary
        folder (killed, or the machine stopped); the names removed."""
        from jetbox.store.lock import pid_alive

        removed = []
        for path in Path(where or tempfile.gettempdir()).glob(f"{cls.PREFIX}*-*"):
            pid = path.name[len(cls.PREFIX):].partition("-")[0]
            if pid.isdigit() and not pid_alive(int(pid)) and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        return removed


def _digests(folder: Path) -> dict[str, str]:
    """Every file under `folder` by its path there, with its digest (changes.file_digest: a
    link's target, or that it is not a regular file, so neither ever matches a file)."""
    found: dict[str, str] = {}
    for top, folders, files in os.walk(folder):  # links to folders are listed, not followed
        links = [name for name in folders if os.path.islink(os.path.join(top, name))]
        for name in (*files, *links):
            path = os.path.join(top, name)
            found[os.path.relpath(path, folder)] = file_digest(path)
    return found


ROOM_BYTECODE = RoomBytecode()


class Prober:
    """Runs the probes in parallel, or reuses the last report when nothing changed."""

    def __init__(self, workspace: Path, specs: Sequence[ProbeSpec] = DEFAULT_PROBES,
                 sandbox: str = "none", max_workers: int = 4,
                 python: Interpreter | None = None, pass_env: tuple[str, ...] = ()) -> None:
        self.workspace = workspace
        self.pass_env = pass_env  # the `pass_env` setting
        self.specs = tuple(specs)
        self.sandbox = sandbox
        self.max_workers = max_workers
        self.python = python
        self.changes = ChangeDetector(workspace)
        self.runs = 0  # probe subprocesses started: a no-change round adds none
        self.removed: list[str] = []  # protected names the last probes created; removed

    def run(self, previous: ProbeReport | None = None, reuse: bool = True,
            pinned: TestConfig | None = None, *, full: bool = True,
            failing: Sequence[str] = ()) -> ProbeReport:
        """Probe now; with `reuse`, the previous report stands if no file's content changed.
        With `pinned` (the baseline's test and lint configuration), a run that changed it
        is probed in a scratch copy with the baseline's files put back. `full=False` says
        the whole suite is not needed, `failing` the test ids to run first: FocusedProber
        runs less then, this prober always runs every probe whole."""
        self.removed = []
        files, mark = self.changes.snapshot()
        if reuse and previous is not None and previous.fingerprint == mark:
            return replace(previous, reused=True)
        env = self._env()
        absent = absent_protected(self.workspace)  # a model's conftest.py runs in here too
        changed = pinned.changed(snapshot(self.workspace, files)) if pinned else ()
        if changed and pinned is not None:
            with pinned_copy(self.workspace, pinned, changed) as (scratch, stuck):
                checks = self._all(env, scratch)
            changed = tuple(say("verdict.not_put_back", path=p) if p in stuck else p
                            for p in changed)
        else:
            checks = self._all(env, self.workspace)
        self.removed = remove_created(self.workspace, absent)
        checks = tuple(with_test_files(c, self.workspace) for c in checks)
        return ProbeReport(tuple(escape_name(f) for f in files), checks, mark,
                           config_changed=changed)

    def verify(self, tree: str, baseline_lint: Sequence[str] | None = None,
               allow_test_changes: bool = False,
               pinned: TestConfig | None = None) -> ProbeReport:
        """Judge a finish in the clean room (room.py): the probes run on the run's source
        change applied to the baseline `tree`, with the baseline's tests, conftest files,
        configuration and ignore rules; then the tests the run added run there, and once
        more with its source change taken back. The interpreter reads no bytecode the run
        could have written. `baseline_lint`: ruff's findings at the baseline, linted as the
        room lints (`lint_baseline`)."""
        self.removed = []
        files, mark = self.changes.snapshot()
        changed = pinned.changed(snapshot(self.workspace, files)) if pinned else ()
        base = room.load(self.workspace, tree)
        if base is None:
            return self._no_room(files, mark, changed)
        change = room.changes(self.workspace, base)
        specs = tuple(_in_room(spec, room.lint_excludes(self.workspace)) for spec in self.specs)
        try:
            return self._in_the_room(base, change, specs, files, mark, changed,
                                     baseline_lint, allow_test_changes)
        except OSError as exc:  # a full disk, a file that cannot be read: say so, refuse
            return self._no_room(files, mark, changed, say("probe.room_failed", error=exc))

    def _in_the_room(self, base: room.Manifest, change: room.Change,
                     specs: tuple[ProbeSpec, ...], files: list[str], mark: str,
                     changed: tuple[str, ...], baseline_lint: Sequence[str] | None,
                     allow_test_changes: bool) -> ProbeReport:
        with room.built(self.workspace, base, change, allow_test_changes) as built, \
                ROOM_BYTECODE.use(self._warm, self._warm_key()) as cache:
            # No __pycache__ is read: the room has none, and the prefix folder holds only
            # what a pytest start compiled before any of the run's code ran (_warm).
            env = {**self._env(), "PYTHONPYCACHEPREFIX": str(cache)}
            checks = tuple(with_test_files(c, built.path)
                           for c in self._all(env, built.path, specs))
            # The run's tests join the room only after its run of the original tests.
            after = self._new_tests(base, built, env)
            room.without_the_change(self.workspace, base, built)
            before = self._new_tests(base, built, env)
        verdict = room.RoomVerdict(change, change.changed_tests if allow_test_changes else (),
                                   after, before, tuple(baseline_lint)
                                   if baseline_lint is not None else None)
        checks = tuple(_with_new_tests(c, after) for c in checks)
        return ProbeReport(tuple(escape_name(f) for f in files), checks, mark,
                           config_changed=changed, room=verdict)

    def lint_baseline(self) -> tuple[str, ...] | None:
        """ruff's findings now, linted as the room lints (every file, ignored ones too, but
        no virtual environment): the baseline the room's findings are held to. None without
        a ruff probe, or when ruff cannot run."""
        spec = next((s for s in self.specs if s.parser == "ruff"), None)
        if spec is None:
            return None
        check = self._check(_in_room(spec, room.lint_excludes(self.workspace)), self._env(),
                            self.workspace)
        return None if check.timed_out or (not check.ok and not check.findings) \
            else check.findings

    def _warm_key(self) -> str | None:
        """The interpreter _warm fills the bytecode folder for; None when nothing is warmed.
        Only a probe that runs pytest itself: any other command judged by the pytest parser
        (a script, `make test`) is never started with pytest's arguments in an empty folder."""
        if not any(s.parser == "pytest" and runs_own_parser(s) for s in self.specs):
            return None
        return str(self.python.python if self.python else sys.executable)

    def _warm(self, cache: Path) -> None:
        """Fill the room's bytecode folder with what a pytest start imports, compiled by a
        pytest that collects nothing in an empty folder: none of the run's code has run when
        it is written. Without it every pytest start in the room compiled the standard library
        and pytest from source (3.7 s against 1.0 s for a one-test project), because the
        room's Python writes no bytecode. Under bwrap the room sees the folder read-only
        (_run_check); best effort: if this fails, the room's Python compiles, as before."""
        spec = next((s for s in self.specs if s.parser == "pytest" and runs_own_parser(s)),
                    None)
        if spec is None:
            return
        python = self.python.python if self.python else None
        own = {**{k: v for k, v in self._env().items() if k != "PYTHONDONTWRITEBYTECODE"},
               "PYTHONPYCACHEPREFIX": str(cache)}
        with tempfile.TemporaryDirectory(prefix="jetbox-warm-") as empty:
            try:
                run_process([*resolve_argv(spec, python, Path(empty)), "--collect-only", "-q",
                             "-p", "no:cacheprovider"], cwd=Path(empty), env=own,
                            timeout_s=spec.timeout_s, max_output_chars=MAX_DETAIL_CHARS,
                            sandbox=self.sandbox, workspace=Path(empty),
                            visible=self.python.folders() if self.python else (),
                            writable=(cache,))
            except OSError:
                pass

    def _new_tests(self, base: room.Manifest, built: room.Room,
                   env: dict[str, str]) -> dict[str, str]:
        """The outcomes, by test id, of the test files the run added or changed, put into
        the room."""
        spec = next((s for s in self.specs if s.parser == "pytest" and runs_own_parser(s)),
                    None)
        if spec is None or not (built.change.new_tests or built.change.changed_tests):
            return {}
        outcomes: dict[str, str] = {}
        # One pytest per file: a module that patches the code at import must not make
        # another file's tests pass.
        for target in room.add_run_tests(self.workspace, base, built.path, built.change):
            check = self._check(replace(spec, argv=(*spec.argv, target)), env, built.path)
            broken = not check.outcomes and check.exit_code not in (0, 5)
            outcomes.update({target: "error"} if broken else check.outcomes)
        return outcomes

    def _no_room(self, files: list[str], mark: str, changed: tuple[str, ...],
                 problem: str = "") -> ProbeReport:
        problem = problem or say("probe.room_missing", folder=f"{STATE_DIR}/{room.ROOM_DIR}")
        check = CheckResult("room", False, say("probe.room_not_built"), problem, None, False,
                            0.0)
        return ProbeReport(tuple(escape_name(f) for f in files), (check,), mark,
                           config_changed=changed,
                           room=room.RoomVerdict(problems=(problem,)))

    def _env(self) -> dict[str, str]:
        # Plugins installed in the project's environment load, as when the person runs
        # pytest: without them (pytest-asyncio, ...) the baseline would disagree with pytest.
        return {**scrubbed_env(pass_env=self.pass_env), "PYTHONDONTWRITEBYTECODE": "1",
                "NO_COLOR": "1"}

    def _all(self, env: dict[str, str], where: Path,
             specs: Sequence[ProbeSpec] | None = None) -> tuple[CheckResult, ...]:
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            return tuple(pool.map(lambda spec: self._check(spec, env, where),
                                  self.specs if specs is None else specs))

    def _check(self, spec: ProbeSpec, env: dict[str, str], where: Path) -> CheckResult:
        self.runs += 1
        if spec.parser == "pytest" and runs_own_parser(spec):
            with OutcomeChannel() as channel:
                check = self._run_check(spec, {**env, **channel.env}, where, channel)
                check = with_report(check, channel.read())
            shadow = shadowing(where)
            return replace(check, parser=spec.parser, ok=check.ok and not shadow,
                           problems=(*check.problems, *shadow))
        return replace(self._run_check(spec, env, where), parser=spec.parser)

    def _run_check(self, spec: ProbeSpec, env: dict[str, str], where: Path,
                   channel: OutcomeChannel | None = None) -> CheckResult:
        if spec.parser == "pytest" and self.python is not None and not self.python.has_pytest:
            return CheckResult(spec.name, False, say("probe.not_installed", name=spec.name),
                               self.python.pytest_missing_hint(), None, False, 0.0,
                               {"missing": 1}, spec.required)
        python = self.python.python if self.python else None
        try:
            result = run_process([*resolve_argv(spec, python, where),
                                  *(channel.args if channel else ())], cwd=where,
                                 timeout_s=spec.timeout_s, env=env,
                                 max_output_chars=MAX_PROBE_OUTPUT, sandbox=self.sandbox,
                                 workspace=where,
                                 visible=(*(self.python.folders() if self.python else ()),
                                          *_prefix(env)),
                                 writable=(channel.folder,) if channel else ())
        except OSError as exc:
            return CheckResult(spec.name, False, say("probe.cannot_run", name=spec.name,
                                                     error=exc), "", None,
                               False, 0.0, {}, spec.required)
        if result.timed_out:
            return CheckResult(spec.name, False, say("probe.timed_out", name=spec.name,
                                                     seconds=spec.timeout_s),
                               result.output[-MAX_DETAIL_CHARS:],
                               None, True, result.duration_s, {}, spec.required)
        parse = {"ruff": parse_ruff, "pytest": parse_pytest}.get(spec.parser, parse_generic)
        parsed = parse(spec.name, result.returncode, result.output)
        return CheckResult(spec.name, parsed.ok, parsed.summary, parsed.details[:MAX_DETAIL_CHARS],
                           result.returncode, False, result.duration_s, parsed.counts,
                           spec.required, parsed.findings, parsed.outcomes)


def _with_new_tests(check: CheckResult, after: Mapping[str, str]) -> CheckResult:
    """The room's pytest result with the outcomes of the tests the run added (run apart,
    in the room), so they are counted and must pass like any other."""
    new = {t: o for t, o in after.items() if t not in check.outcomes}
    if check.parser != "pytest" or not new:
        return check
    outcomes = {**check.outcomes, **new}
    counts = {**count_outcomes(outcomes), **{k: v for k, v in check.counts.items()
                                             if k == "warnings"}}
    failing = any(o in ("failed", "error") for o in new.values())
    return replace(check, outcomes=outcomes, counts=counts, ok=check.ok and not failing)


def with_report(check: CheckResult, report: OutcomeReport | None) -> CheckResult:
    """Outcomes from Jetbox's plugin, never from the text (a test's name or output could
    write any line); pytest's exit status must agree with them."""
    if check.timed_out or check.exit_code is None:
        return check
    problems = disagreements(report, check.exit_code)
    if report is None:
        return replace(check, ok=False, outcomes={}, problems=problems)
    counts = count_outcomes(report.outcomes)
    ok = check.exit_code == 0 and counts.get("passed", 0) > 0 and not problems
    return replace(check, ok=ok, outcomes=dict(report.outcomes), problems=problems,
                   plugins=report.plugins, counts={**counts, **{
                       k: v for k, v in check.counts.items() if k == "warnings"}})


def with_test_files(check: CheckResult, root: Path) -> CheckResult:
    if check.parser != "pytest" or not check.outcomes:
        return check
    return replace(check, test_files=test_file_digests(root, check.outcomes))


def _prefix(env: Mapping[str, str]) -> tuple[Path, ...]:
    """The room's bytecode folder, shown read-only in the sandbox: read, never written."""
    folder = env.get("PYTHONPYCACHEPREFIX")
    return (Path(folder),) if folder else ()
