"""`jetbox eval`: run a suite of small tasks against a model and report how it did."""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from jetbox.core.errors import EXIT_ERROR, ConfigError
from jetbox.core.text import counted
from jetbox.exec.process import capture
from jetbox.model.host import check_before_work
from jetbox.round.metrics import RunMetrics
from jetbox.spec.runtime import settings_here

CHECK_TIMEOUT_S = 300.0  # one of a task's checks (its tests)
HELP = "run a suite of small tasks against a model and report success, rounds, tokens, time"
DESCRIPTION = """\
Each task (a YAML file: goal, starting files, check commands, limits) runs in a fresh
temporary workspace through `jetbox run`; its check commands decide success. Reports per task
and in total (success rate, rounds, model calls, files, commands, refusals and errors, tokens,
median wall time) as a table, results/summary.json and results/summary.csv; each run's
status.txt, ledger and log are kept under the results folder. --offline replays each task's
`offline_script` through Jetbox's offline Ollama server (no GPU needed)."""
DEFAULT_SUITE = Path(__file__).resolve().parent.parent / "evals" / "default"
DEFAULT_CHECK = (("ruff", "check", "."), ("pytest", "-q"))
KEPT_FILES = ("status.txt", "agent_ledger.log", "agent.log")


@dataclass(frozen=True)
class Task:
    name: str
    goal: str
    files: dict[str, str]
    check: tuple[tuple[str, ...], ...]
    max_rounds: int
    timebox_s: float
    offline_script: tuple[dict[str, Any], ...]
    path: Path


@dataclass(frozen=True)
class RunResult:
    task: str
    run: int
    success: bool
    exit_code: int | None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    said: str = ""  # the run's last line on stderr when it could not work (exit 1, 2, 4)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", nargs="?", help="folder of task YAML files (default: shipped)")
    parser.add_argument("-m", "--model", help="model (default: as `jetbox run` here: "
                                              "$JETBOX_MODEL, [tool.jetbox], gpt-oss:20b)")
    parser.add_argument("--host", help="Ollama server (default: as `jetbox run` here: "
                                       "$JETBOX_HOST, $OLLAMA_HOST, [tool.jetbox])")
    parser.add_argument("-k", "--runs", type=int, default=1, help="runs per task (default 1)")
    parser.add_argument("--timebox", type=float, help="seconds per run (overrides the tasks)")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="runs in parallel")
    parser.add_argument("--results", default="eval-results", help="results folder")
    parser.add_argument("--offline", action="store_true",
                        help="replay each task's offline_script instead of asking a model")


def load_task(path: Path) -> Task:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("goal"), str):
        raise ConfigError(f"{path}: a task needs at least `goal:`")
    unknown = set(data) - {"name", "goal", "files", "check", "limits", "offline_script"}
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}")
    checks = data.get("check") or DEFAULT_CHECK
    limits = data.get("limits") or {}
    return Task(name=str(data.get("name", path.stem)), goal=data["goal"],
                files={str(k): str(v) for k, v in (data.get("files") or {}).items()},
                check=tuple(tuple(map(str, c)) for c in checks),
                max_rounds=int(limits.get("max_rounds", 12)),
                timebox_s=float(limits.get("timebox_s", 600)),
                offline_script=tuple(data.get("offline_script") or ()), path=path)


def load_suite(folder: Path) -> list[Task]:
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder of task YAML files")
    tasks = [load_task(p) for p in sorted(folder.glob("*.yaml"))]
    if not tasks:
        raise ConfigError(f"{folder}: no *.yaml tasks")
    return tasks


def offline_responder(task: Task) -> Any:
    from jetbox.offline import Call, ScriptResponder, Turn

    turns = [Turn(calls=tuple(Call(name, args) for name, args in step.items()))
             for step in task.offline_script]
    return ScriptResponder(turns)


def check_passes(task: Task, workspace: Path) -> bool:
    from jetbox.probes.runner import ProbeSpec, resolve_argv

    for argv in task.check:
        command = resolve_argv(ProbeSpec("check", argv))
        done = capture(command, workspace, CHECK_TIMEOUT_S)
        if done is None or done.returncode != 0:
            return False
    return True


def run_task(task: Task, index: int, args: argparse.Namespace, results: Path) -> RunResult:
    """One run of one task; any failure becomes a result, never an exception."""
    workspace = Path(tempfile.mkdtemp(prefix=f"jetbox-eval-{task.name}-"))
    try:
        for rel, content in task.files.items():
            (workspace / rel).parent.mkdir(parents=True, exist_ok=True)
            (workspace / rel).write_text(content, encoding="utf-8")
        code, said = _jetbox(task, workspace, args)
        success = check_passes(task, workspace)
        metrics = _metrics(workspace)
        return RunResult(task.name, index, success, code, metrics,
                         said="" if code in (0, 3) else said)
    except Exception as exc:  # noqa: BLE001 - a crashing task must not stop the suite
        return RunResult(task.name, index, False, None, _metrics(workspace),
                         f"{type(exc).__name__}: {exc}")
    finally:
        kept = results / task.name / f"run{index}"
        kept.mkdir(parents=True, exist_ok=True)
        for name in KEPT_FILES:
            if (workspace / name).exists():
                shutil.copy2(workspace / name, kept / name)
        shutil.rmtree(workspace, ignore_errors=True)


def _jetbox(task: Task, workspace: Path, args: argparse.Namespace) -> tuple[int, str]:
    """`jetbox run` on the task: its exit code and the last line it wrote on stderr."""
    timebox = args.timebox or task.timebox_s
    argv = [sys.executable, "-m", "jetbox", "run", task.goal, "-w", str(workspace), "--quiet",
            "--max-rounds", str(task.max_rounds), "--timebox", str(timebox)]
    argv += ["--model", args.model] if args.model else []
    source = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": source + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if not args.offline:
        argv += ["--host", args.host] if args.host else []
        return _run_jetbox(argv, workspace, env, timebox + 120)
    from jetbox.offline import FakeModel, OfflineOllama

    with OfflineOllama(offline_responder(task), [FakeModel(args.model or "gpt-oss:20b")]) as s:
        return _run_jetbox([*argv, "--host", s.host], workspace, env, timebox + 120)


def _run_jetbox(argv: list[str], workspace: Path, env: dict[str, str],
                timeout_s: float) -> tuple[int, str]:
    done = capture(argv, workspace, timeout_s, env=env)
    if done is None:  # the task's result says so (run_task)
        raise subprocess.TimeoutExpired(argv, timeout_s)
    return done.returncode, _last_line(done.stderr)


def _last_line(output: bytes) -> str:
    lines = output.decode("utf-8", "replace").strip().splitlines()
    return lines[-1].removeprefix("jetbox: ") if lines else ""


def _metrics(workspace: Path) -> dict[str, Any]:
    from jetbox.store.ledger import Ledger

    path = workspace / "agent_ledger.log"
    if not path.exists():
        return {}
    metrics = RunMetrics.from_records(Ledger(path, fsync=False).current_run())
    return {**asdict(metrics), "files_written": len(metrics.files_written)}


def aggregate(results: list[RunResult]) -> list[dict[str, Any]]:
    """One row per task and a TOTAL row: success rate, medians and sums."""
    rows = []
    groups: dict[str, list[RunResult]] = {}
    for result in results:
        groups.setdefault(result.task, []).append(result)
    groups["TOTAL"] = results
    for name, group in groups.items():
        metric = [r.metrics for r in group if r.metrics]

        def med(key: str, of: list[dict[str, Any]] = metric) -> float:
            return statistics.median(m[key] for m in of) if of else 0

        rows.append({"task": name, "runs": len(group),
                     "success_rate": round(sum(r.success for r in group) / len(group), 3),
                     "rounds": med("rounds"), "model_calls": med("model_calls"),
                     "files_written": med("files_written"), "commands": med("commands"),
                     "refusals_and_errors": sum(m["refusals"] + m["tool_errors"] for m in metric)
                     + sum(bool(r.error) for r in group),
                     "tokens_in": sum(m["tokens_in"] for m in metric),
                     "tokens_out": sum(m["tokens_out"] for m in metric),
                     "wall_s_median": round(med("wall_s"), 2)})
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    lines = ["  ".join(f"{k:>{widths[k]}}" for k in keys)]
    lines += ["  ".join(f"{str(r[k]):>{widths[k]}}" for k in keys) for r in rows]
    return "\n".join(lines) + "\n"


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    tasks = load_suite(Path(args.suite) if args.suite else DEFAULT_SUITE)
    # The model and server `run` would use here (flags, JETBOX_*, [tool.jetbox]), passed to
    # every task's run, which works in a temporary folder with no [tool.jetbox] of its own.
    settings = settings_here(Path.cwd(), os.environ, {"model": args.model, "host": args.host})
    args = argparse.Namespace(**{**vars(args), "model": settings.model,
                                 "host": settings.host or None})
    if args.offline:
        missing = [t.name for t in tasks if not t.offline_script]
        if missing:
            raise ConfigError(f"--offline needs an offline_script in: {', '.join(missing)}")
    else:  # no server or no model: say so now, not after every task has failed
        check_before_work(settings.host, settings.model)
    results_dir = Path(args.results).resolve()
    results_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(t, k) for t in tasks for k in range(1, max(args.runs, 1) + 1)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        finished = _Finished(len(jobs), err)
        results = list(pool.map(lambda job: _reported(job, args, results_dir, finished), jobs))
    rows = aggregate(results)
    (results_dir / "summary.json").write_text(json.dumps(
        {"rows": rows, "runs": [asdict(r) for r in results]}, indent=2), encoding="utf-8")
    with open(results_dir / "summary.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out.write(render(rows))
    out.write(f"\n{counted(len(results), 'run')} in {time.monotonic() - started:.1f} s; results in "
              f"{results_dir}\n")
    return _nothing_ran(results, err)


class _Finished:
    """How many runs have ended; runs end in parallel, and each line is written whole."""

    def __init__(self, total: int, err: TextIO) -> None:
        self.total, self.err, self.count = total, err, 0
        self.lock = threading.Lock()

    def said(self, result: RunResult, seconds: float) -> None:
        how = ("passed" if result.success else f"could not run ({result.error[:80]})"
               if result.error else f"failed (exit {result.exit_code})")
        with self.lock:
            self.count += 1
            self.err.write(f"[{self.count}/{self.total}] {result.task} run {result.run}: "
                           f"{how} in {seconds:.1f} s\n")
            self.err.flush()


def _reported(job: tuple[Task, int], args: argparse.Namespace, results: Path,
              finished: _Finished) -> RunResult:
    """One run, and a line on stderr as it ends: a suite takes minutes, and a person
    should see it move (the table comes at the end, on stdout)."""
    started = time.monotonic()
    result = run_task(job[0], job[1], args, results)
    finished.said(result, time.monotonic() - started)
    return result


def _nothing_ran(results: list[RunResult], err: TextIO) -> int:
    """0, or when no run could work at all (each stopped at a usage error, an unreachable
    model or a crash), an exit code and why, rather than a table of zeros that exits 0."""
    if any(r.success or r.exit_code in (0, 3) for r in results):
        return 0
    why = next((r.said or r.error for r in results if r.said or r.error), "no reason given")
    codes = {r.exit_code for r in results}
    err.write(f"jetbox eval: no task could run: {why}\n")
    shared = codes.pop() if len(codes) == 1 else None  # every run stopped the same way
    return shared if shared is not None else EXIT_ERROR
