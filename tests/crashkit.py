"""Crash-injection helpers shared by the crash tests and bench/crash_survival.py."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.offline.solvers import MathxSolver
from jetbox.store.workspace import IGNORED_DIRS, PROTECTED_NAMES
from tests import enginekit
from tests.forkserver import forked_run

ROOT = Path(__file__).resolve().parent.parent
GOAL = "Create a package mathx with add(a, b), add tests, then make ruff and pytest pass."


@dataclass(frozen=True)
class Outcome:
    """What a run left behind, in the terms the crash guarantees are stated in."""

    files: dict[str, str]                 # relative path -> sha256, Jetbox's own files excluded
    state: str
    writes: tuple[tuple[str, str], ...]   # (path, sha256) of every write or edit intent, in order
    replies: int                          # model replies journaled
    reply_rounds: tuple[int, ...]         # the round of each journaled reply
    appends: int                          # ledger records
    kills: int                            # how many times the process died on the way


def snapshot(workspace: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted(workspace.rglob("*")):
        rel = path.relative_to(workspace)
        if path.is_file() and rel.name not in PROTECTED_NAMES and \
                not any(part in IGNORED_DIRS for part in rel.parts):
            out[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def outcome(workspace: Path, kills: int) -> Outcome:
    if not (workspace / "agent_ledger.log").exists() or not (workspace / "status.txt").exists():
        return Outcome(snapshot(workspace), "(no run)", (), 0, (), 0, kills)
    lines = (workspace / "agent_ledger.log").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    state = ""
    for line in (workspace / "status.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("State:"):
            state = line.partition(":")[2].strip()
    writes = tuple((r["path"], r["sha256"]) for r in records
                   if r["kind"] == "intent" and r.get("action") in ("write", "edit"))
    rounds = tuple(r["round"] for r in records if r["kind"] == "model_reply")
    return Outcome(snapshot(workspace), state, writes, len(rounds), rounds, len(records), kills)


def jetbox(workspace: Path, host: str, failpoint: str | None = None,
           goal: str | None = GOAL, timeout_s: float = 120, machine: Path | None = None,
           fork: bool = False) -> int:
    """One `python -m jetbox run` child; returns its exit code (-9 when it was killed).
    `fork`: forked from a Python that has imported Jetbox already (tests/forkserver.py)."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(workspace.parent)}
    import os

    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("JETBOX_", "OLLAMA_"))},
           **env}
    if failpoint:
        env["JETBOX_FAILPOINT"] = failpoint
    argv = [sys.executable, "-m", "jetbox", "run", *([goal] if goal else []), "-w",
            str(workspace), "--host", host, "--sandbox", "none", "--quiet",
            *(["--machine", str(machine)] if machine else [])]
    if fork:
        return forked_run(argv[3:], env, ROOT, timeout_s)
    return subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=timeout_s, check=False).returncode


def crash_and_resume(workspace: Path, failpoints: list[str], max_resumes: int = 4,
                     machine: Path | None = None) -> Outcome:
    """Run with each failpoint in turn (each run killed there), then resume until done.
    `machine`: another machine.yaml (the quick tier's, with data probes)."""
    workspace.mkdir(parents=True, exist_ok=True)
    kills = 0
    with OfflineOllama(MathxSolver(workspace)) as server:
        for index, point in enumerate(failpoints):
            code = jetbox(workspace, server.host, point, GOAL if index == 0 else None,
                          machine=machine)
            kills += code == -9
        for _ in range(max_resumes):
            code = jetbox(workspace, server.host, None, None if failpoints else GOAL,
                          machine=machine)
            if code == 0:
                break
    return outcome(workspace, kills)


# The run the crash matrix kills (tests/test_crash.py whole, tests/test_crash_sample.py one
# point of it): the hello goal with data probes (tests/enginekit.py: ruff and pytest as
# tiny programs, judged by the real parsers, verdict and clean room), each process forked
# from a Python that has imported Jetbox (tests/forkserver.py), so a kill and its resume
# cost under a second, and a scripted model whose four replies cover what a crash can
# interrupt: a write, a finish the probes refuse, an edit with a command in one reply, and
# the finish.
GREET = "def greet(name):\n    return f'Hello, {name}!'\n"
SCRIPT = (Turn(calls=(Call("write_file", {"path": "hello.py", "content": "x = 1\n"}),)),
          Turn(calls=(Call("finish", {"summary": "too early"}),)),
          Turn(calls=(Call("edit_file", {"path": "hello.py", "old": "x = 1\n", "new": GREET}),
                      Call("run_cmd", {"cmd": ["python", "hello.py"]}))),
          Turn(calls=(Call("finish", {"summary": "greet written"}),)))
# What an uninterrupted run of SCRIPT appends to the ledger (test_crash checks it).
SCRIPT_APPENDS = 69
# Every kill point: before each looping state in round 2, and after each ledger append
# but the last (which is the run's end).
STATES = ["Probe", "Compact", "Plan", "Ask", "Calls", "Reflect", "Persist"]
MATRIX = [f"kill:before:{state}#2" for state in STATES] + \
    ["kill:before:Done"] + [f"kill:ledger#{n}" for n in range(1, SCRIPT_APPENDS)]


def scripted_crash_and_resume(workspace: Path, failpoints: list[str],
                              max_resumes: int = 4) -> Outcome:
    """SCRIPT's run, killed at each failpoint in turn, then resumed until it ends. The model
    is a script, so the server also checks that no journaled reply is asked for again."""
    workspace.mkdir(parents=True, exist_ok=True)
    enginekit.project(workspace)
    machine = enginekit.machine_file(workspace.parent / f"{workspace.name}-machine")
    kills = 0
    with OfflineOllama(ScriptResponder(list(SCRIPT))) as server:
        code = None
        for index, point in enumerate(failpoints):
            code = jetbox(workspace, server.host, point, enginekit.GOAL if index == 0 else None,
                          machine=machine, fork=True)
            kills += code == -9
        for _ in range(max_resumes):
            if code == 0:
                break
            code = jetbox(workspace, server.host, None, None if failpoints else enginekit.GOAL,
                          machine=machine, fork=True)
        asked = len(server.requests)
    result = outcome(workspace, kills)
    assert asked == result.replies, f"{failpoints}: the model was asked {asked} times for " \
                                    f"{result.replies} journaled replies"
    return result
