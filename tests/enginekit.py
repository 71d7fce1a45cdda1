"""The Engine in the test's own process: a machine.yaml in a temporary folder whose probes are
tiny `python -c` programs printing what ruff and pytest print (data, judged by Jetbox's real
parsers and verdict), a scripted model served by the offline Ollama through the real client,
and the run opened and driven as `jetbox run` does (open_run, then execute). A round costs a
few tenths of a second, so limits, pauses, approvals and outcome checks are in the quick tier."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from jetbox.engine.drive import execute
from jetbox.engine.start import RunRequest, open_run
from jetbox.spec.machine import PACKAGED_MACHINE

GOAL = "Write hello.py with greet(name)"

# ruff as it prints a clean tree.
RUFF = "print('All checks passed!')"
# pytest -rA as it prints one test of hello.greet: it passes once hello.py defines greet.
PYTEST = """\
import pathlib, sys
path = pathlib.Path('hello.py')
ok = path.is_file() and 'def greet' in path.read_text()
print(('PASSED' if ok else 'FAILED') + ' test_hello.py::test_greet' + ('' if ok else ' - no greet'))
print('1 passed in 0.01s' if ok else '1 failed in 0.01s')
sys.exit(0 if ok else 1)
"""
# The same for the seed's mathx package (jetbox.offline.solvers.MathxSolver): its two tests
# pass once mathx.add is written. Like a data probe's program, it reads no arguments, and the
# clean room runs only the baseline's tests (none here), so it answers from the module alone.
MATHX_PYTEST = """\
import pathlib, sys
module = pathlib.Path('mathx/__init__.py')
if not module.is_file():
    print('no tests ran in 0.01s')
    sys.exit(5)
ok = 'def add' in module.read_text()
for name in ('test_add_ints', 'test_add_floats'):
    print(('PASSED' if ok else 'FAILED') + ' tests/test_mathx.py::' + name)
print('2 passed in 0.01s' if ok else '2 failed in 0.01s')
sys.exit(0 if ok else 1)
"""
# The seed's goal without "add tests": a data probe cannot run the tests a run adds on their
# own (the clean room does that only for pytest itself), so the verdict could never find one.
MATHX_DATA_GOAL = "Create a package mathx with add(a, b), then make ruff and pytest pass."


def project(workspace: Path) -> Path:
    """The test the data probe stands for, so the prober between edits (probes/focused.py)
    sees which file hello.py's change affects."""
    (workspace / "test_hello.py").write_text(
        "from hello import greet\n\n\ndef test_greet():\n"
        "    assert greet('Ada') == 'Hello, Ada!'\n", encoding="utf-8")
    return workspace


def machine_file(folder: Path, pytest: str = PYTEST, **changes: Any) -> Path:
    """Jetbox's own machine.yaml with data probes (`pytest`: the program standing for
    pytest) and `changes` (top-level keys) in it."""
    data = yaml.safe_load(PACKAGED_MACHINE.read_text(encoding="utf-8"))
    # -S: the programs need no site-packages, and a start without them takes a third of
    # the time (9 ms against 29), at every probe of every run the suite makes.
    probes = [{"name": "ruff", "cmd": [sys.executable, "-S", "-c", RUFF], "parser": "ruff"},
              {"name": "pytest", "cmd": [sys.executable, "-S", "-c", pytest],
               "parser": "pytest"}]
    data.update({"probes": probes, **changes})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "machine.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def mathx_machine(folder: Path) -> Path:
    """machine.yaml with data probes for MATHX_DATA_GOAL, for tests whose subject is
    not the probes (the model layer, the terminal, status.txt): a whole run in about a
    second instead of three or four with real ruff and pytest."""
    settings = yaml.safe_load(PACKAGED_MACHINE.read_text(encoding="utf-8"))["settings"]
    # The program reads no test ids, so every probe runs "the whole suite".
    return machine_file(folder, pytest=MATHX_PYTEST,
                        settings={**settings, "probe_focus": False})


def data_probes(workspace: Path) -> list[str]:
    """`jetbox run` arguments for mathx_machine, kept beside `workspace`."""
    return ["--machine", str(mathx_machine(workspace.parent / "machine"))]


@dataclass(frozen=True)
class Ran:
    """What one invocation left: its exit code, what it printed, and the files it keeps."""

    code: int
    err: str
    out: str
    workspace: Path

    @property
    def status(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        text = (self.workspace / "status.txt").read_text(encoding="utf-8")
        for line in text.splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
        return fields

    def records(self, kind: str | None = None) -> list[dict[str, Any]]:
        lines = (self.workspace / "agent_ledger.log").read_text(encoding="utf-8").splitlines()
        found = [json.loads(line) for line in lines if line.strip()]
        return [r for r in found if kind is None or r["kind"] == kind]


def run_engine(workspace: Path, machine: Path, host: str, goal: str | None = None,
               answer: str = "", **settings: Any) -> Ran:
    """One `jetbox run` invocation in this process, without a terminal (no one to ask)."""
    # No retries: a script that runs out is a failed test at once, not after 7 s of backoff.
    cli_settings: Mapping[str, Any] = {"host": host, "sandbox": "none", "retries": 0,
                                       **settings}
    request = RunRequest(goal=goal, workspace=workspace, machine=machine,
                         cli_settings=cli_settings, answer=answer)
    err, out = io.StringIO(), io.StringIO()
    engine = open_run(request, os.environ, workspace, err, out=out)
    code = execute(engine)
    return Ran(code, err.getvalue(), out.getvalue(), workspace)
