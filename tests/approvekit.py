"""Shared pieces of the approval tests: a tiny project, a model that makes several calls in
one reply (as qwen does), and the ledger read back."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jetbox.offline import Call, FakeModel, OfflineOllama, ScriptResponder, Turn
from tests.conftest import ROOT
from tests.enginekit import machine_file

QWEN = FakeModel("qwen2.5-coder:7b", ("completion", "tools"), 32768, "qwen2", "midstream")
GOAL = "Set count to 11 in app.py"
EDIT = Call("edit_file", {"path": "app.py", "old": "count = 1\n", "new": "count = 11\n"})
PYTEST = Call("run_cmd", {"cmd": ["pytest", "-q"]})
FINISH = Call("finish", {"summary": "count is 11"})


def project(workspace: Path) -> Path:
    """app.py with count = 1 and a test that wants 11: the edit is the whole job."""
    (workspace / "app.py").write_text("count = 1\n")
    (workspace / "test_app.py").write_text(
        "from app import count\n\n\ndef test_count():\n    assert count == 11\n")
    return workspace


def server(*turns: Sequence[Call]) -> OfflineOllama:
    """The offline Ollama replying with these calls, one reply per turn."""
    return OfflineOllama(ScriptResponder([Turn(calls=tuple(t)) for t in turns]), models=[QWEN])


# pytest on project()'s test as data (tests/enginekit.py): approval is the subject, and a
# whole run takes about a second instead of three with real ruff and pytest.
APP_PYTEST = """\
import pathlib, sys
ok = 'count = 11' in pathlib.Path('app.py').read_text()
print(('PASSED' if ok else 'FAILED') + ' test_app.py::test_count')
print('1 passed in 0.01s' if ok else '1 failed in 0.01s')
sys.exit(0 if ok else 1)
"""


def run_args(workspace: Path, host: str, *extra: str, own_machine: bool = False) -> list[str]:
    """`jetbox run` on project() with data probes; `own_machine`: with the machine.yaml the
    workspace holds instead."""
    machine = [] if own_machine else \
        ["--machine", str(machine_file(workspace.parent / "machine", pytest=APP_PYTEST))]
    return ["run", "-w", str(workspace), "--host", host, "--model", QWEN.name,
            "--sandbox", "none", *machine, *extra]


def ledger(workspace: Path) -> list[dict[str, Any]]:
    lines = (workspace / "agent_ledger.log").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def kinds(workspace: Path, kind: str) -> list[dict[str, Any]]:
    return [r for r in ledger(workspace) if r["kind"] == kind]


def asked(workspace: Path) -> list[str]:
    """The lines of the questions the run put to a person, in order."""
    return [r["line"] for r in kinds(workspace, "approval_asked")]


def commands_run(workspace: Path) -> list[str]:
    """The programs of the commands that ran (each an intent), in order."""
    return [r["program"] for r in kinds(workspace, "intent") if r["action"] == "cmd"]


def tool_messages(request: Any) -> list[str]:
    """What the model was shown in one request (tool results and Jetbox's notes)."""
    return [str(m.get("content", "")) for m in request.messages]


class Terminal:
    """`python -m jetbox ARGV` on a pseudo-terminal, as a person at a terminal runs it
    (POSIX only: pty). `expect` reads until a text shows; `type` answers."""

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        import pty  # POSIX only: imported where it is used

        master, slave = pty.openpty()
        full_env = {**{k: v for k, v in os.environ.items()
                       if not k.startswith(("JETBOX_", "OLLAMA_", "NO_COLOR"))},
                    "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "COLUMNS": "100",
                    **(env or {})}
        self.process = subprocess.Popen([sys.executable, "-m", "jetbox", *argv], cwd=ROOT,
                                        env=full_env, stdin=slave, stdout=slave, stderr=slave,
                                        start_new_session=True)
        os.close(slave)
        self.master, self.seen, self.transcript = master, "", ""  # transcript: all of it

    def expect(self, text: str, timeout_s: float = 60) -> str:
        """Everything shown until `text` appears (AssertionError if it does not in time)."""
        deadline = time.monotonic() + timeout_s
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} did not show; the terminal shows:\n{self.seen[-2000:]}"
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk and self.process.poll() is not None:
                    assert text in self.seen, f"{text!r} never showed:\n{self.seen[-2000:]}"
                self._add(chunk)
        shown, _, self.seen = self.seen.partition(text)
        return shown + text

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode("utf-8"))

    def wait(self, timeout_s: float = 120) -> int:
        """The exit code, once everything the child wrote is read."""
        deadline = time.monotonic() + timeout_s
        while self.process.poll() is None and time.monotonic() < deadline:
            self._drain()
        code = self.process.wait(timeout=max(1.0, deadline - time.monotonic()))
        self._drain()
        os.close(self.master)
        return code

    def _drain(self) -> None:
        while select.select([self.master], [], [], 0.2)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self._add(chunk)

    def _add(self, chunk: bytes) -> None:
        text = chunk.decode("utf-8", "replace")
        self.seen += text
        self.transcript += text
