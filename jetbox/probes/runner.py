"""Probes: the real state of the workspace (files, ruff, pytest), without the model."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from jetbox.core.errors import ConfigError
from jetbox.core.text import escape_name
from jetbox.exec.interpreter import Interpreter
from jetbox.exec.process import run_process, scrubbed_env
from jetbox.probes.changes import ChangeDetector
from jetbox.store.workspace import absent_protected, remove_created
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
    "ruff": ("--output-format", "concise", "--no-cache"),
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


@dataclass(frozen=True)
class ProbeReport:
    files: tuple[str, ...]
    checks: tuple[CheckResult, ...]
    fingerprint: str
    reused: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeReport:
        checks = tuple(CheckResult(**c) for c in data["checks"])
        return cls(tuple(data["files"]), checks, data["fingerprint"], data.get("reused", False))


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
    runs_parser = program == spec.parser or bool(module)
    guards = pytest_guards(workspace) if workspace and spec.parser == "pytest" and \
        runs_parser and not any(a.startswith(("--log-file", "--basetemp")) for a in rest) else []
    return [*prefix, *module, *guards, *rest[len(module):],
            *(EXTRA_ARGS.get(spec.parser, ()) if runs_parser else ())]


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

    def run(self, previous: ProbeReport | None = None, reuse: bool = True) -> ProbeReport:
        """Probe now; with `reuse`, the previous report stands if no file's content changed."""
        self.removed = []
        files, mark = self.changes.snapshot()
        if reuse and previous is not None and previous.fingerprint == mark:
            return replace(previous, reused=True)
        # Plugins installed in the project's environment load, as when the person runs
        # pytest: without them (pytest-asyncio, ...) the baseline would disagree with pytest.
        env = {**scrubbed_env(pass_env=self.pass_env), "PYTHONDONTWRITEBYTECODE": "1",
               "NO_COLOR": "1"}
        absent = absent_protected(self.workspace)  # a model's conftest.py runs in here too
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            checks = tuple(pool.map(lambda spec: self._check(spec, env), self.specs))
        self.removed = remove_created(self.workspace, absent)
        return ProbeReport(tuple(escape_name(f) for f in files), checks, mark)

    def _check(self, spec: ProbeSpec, env: dict[str, str]) -> CheckResult:
        self.runs += 1
        return replace(self._run_check(spec, env), parser=spec.parser)

    def _run_check(self, spec: ProbeSpec, env: dict[str, str]) -> CheckResult:
        if spec.parser == "pytest" and self.python is not None and not self.python.has_pytest:
            return CheckResult(spec.name, False, f"{spec.name}: not installed in the project's "
                               f"Python", self.python.pytest_missing_hint(), None, False, 0.0,
                               {"missing": 1}, spec.required)
        python = self.python.python if self.python else None
        try:
            result = run_process(resolve_argv(spec, python, self.workspace), cwd=self.workspace,
                                 timeout_s=spec.timeout_s, env=env,
                                 max_output_chars=MAX_PROBE_OUTPUT, sandbox=self.sandbox,
                                 workspace=self.workspace,
                                 visible=self.python.folders() if self.python else ())
        except OSError as exc:
            return CheckResult(spec.name, False, f"{spec.name}: cannot run ({exc})", "", None,
                               False, 0.0, {}, spec.required)
        if result.timed_out:
            return CheckResult(spec.name, False, f"{spec.name}: timed out after "
                               f"{spec.timeout_s:g} s", result.output[-MAX_DETAIL_CHARS:],
                               None, True, result.duration_s, {}, spec.required)
        parse = {"ruff": parse_ruff, "pytest": parse_pytest}.get(spec.parser, parse_generic)
        parsed = parse(spec.name, result.returncode, result.output)
        return CheckResult(spec.name, parsed.ok, parsed.summary, parsed.details[:MAX_DETAIL_CHARS],
                           result.returncode, False, result.duration_s, parsed.counts,
                           spec.required, parsed.findings, parsed.outcomes)


@dataclass(frozen=True)
class Parsed:
    ok: bool
    summary: str
    details: str
    counts: dict[str, int]
    findings: tuple[str, ...] = ()
    outcomes: dict[str, str] = field(default_factory=dict)


RUFF_LINE = re.compile(r"^(?P<loc>[^\s:][^:]*:\d+:\d+): (?P<code>[A-Z]+\d+|SyntaxError|"
                       r"invalid-syntax)\b:? ?(?P<msg>.*)$", re.M)
PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|warnings?)")
PYTEST_OUTCOME = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS) (\S.*?)(?: - .*)?$", re.M)
PYTEST_SUMMARY = re.compile(r"^=*\s*(?:\d+ \w+.*|no tests ran.*) in [\d.]+s.*$", re.M)


def parse_ruff(name: str, code: int | None, output: str) -> Parsed:
    found = list(RUFF_LINE.finditer(output))
    if code == 0:
        return Parsed(True, f"{name}: clean", "", {"errors": 0})
    if not found:
        last = next((ln for ln in reversed(output.splitlines()) if ln.strip()), "no output")
        return Parsed(False, f"{name}: failed (exit {code}): {last[:160]}", output[-800:],
                      {"errors": 1})
    codes: dict[str, int] = {}
    for match in found:
        codes[match["code"]] = codes.get(match["code"], 0) + 1
    tally = ", ".join(f"{c} x{n}" for c, n in sorted(codes.items()))
    details = "\n".join(f"{m['loc']}: {m['code']} {m['msg'].strip()}" for m in found[:15])
    if len(found) > 15:
        details += f"\n... {len(found) - 15} more"
    every = tuple(f"{m['loc']}: {m['code']} {m['msg'].strip()}" for m in found)
    return Parsed(False, f"{name}: {len(found)} errors ({tally})", details,
                  {"errors": len(found)}, findings=every)


def parse_pytest(name: str, code: int | None, output: str) -> Parsed:
    summary_lines = PYTEST_SUMMARY.findall(output)
    # The duration changes every run; without it, an unchanged result reads the same.
    line = re.sub(r" in [\d.]+s.*$", "", summary_lines[-1].strip("= ")) if summary_lines else ""
    counts: dict[str, int] = {}
    for number, word in PYTEST_COUNT.findall(line):
        key = {"error": "errors", "warning": "warnings"}.get(word, word)
        counts[key] = counts.get(key, 0) + int(number)
    failures = [ln.strip() for ln in output.splitlines()
                if ln.startswith(("FAILED ", "ERROR "))][:8]
    if not failures:
        failures = [ln.strip() for ln in output.splitlines() if ln.startswith("E ")][:8]
    details = "\n".join(failures) or ("" if code == 0 else output[-800:])
    outcomes = {test_id: word.lower() for word, test_id in PYTEST_OUTCOME.findall(output)}
    if code == 5 or counts.get("passed", 0) == 0 and code == 0:
        return Parsed(False, f"{name}: no tests ran", details, counts, outcomes=outcomes)
    if code == 0:
        return Parsed(True, f"{name}: {line or 'passed'}", "", counts, outcomes=outcomes)
    return Parsed(False, f"{name}: {line or f'failed (exit {code})'}", details, counts,
                  outcomes=outcomes)


def parse_generic(name: str, code: int | None, output: str) -> Parsed:
    last = next((ln for ln in reversed(output.splitlines()) if ln.strip()), "")
    ok = code == 0
    verdict = "ok" if ok else f"failed (exit {code})"
    summary = f"{name}: {verdict}" + (f": {last[:120]}" if last else "")
    return Parsed(ok, summary, "" if ok else output[-800:], {})
