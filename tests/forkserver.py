"""`jetbox run` children forked from a Python that has already imported Jetbox (POSIX).

The crash matrix starts about 160 Jetbox processes, each killed at a failpoint or resuming
after one. A `python -m jetbox` start spends most of its second on imports (the ollama
client, httpx, pydantic, Jetbox's own modules) before the run's first step. Here a server
process imports them once, single-threaded, and forks one child per run: the child is a
fresh process with the run's argv, environment and folder, that has run nothing of Jetbox
but its imports (every cache is still empty: they fill on first use), dies of SIGKILL at its
failpoint as a started one does, and leaves only what it wrote to the disk. What starting
a process does itself (the command line, sys.path, the exit) is tested with real starts:
tests/test_resume_kill.py, the matrix's mathx case and the rest of the suite."""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The server: import every Jetbox module (as `python -m jetbox` would import those a run
# needs; importing the rest changes nothing a run reads), then fork a child per request.
SERVER = r"""
import importlib, json, os, pkgutil, sys
import jetbox.__main__  # its sys.path rule, as at a real start
import jetbox, states, ollama
for package in (jetbox, states):
    for found in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not found.name.endswith("__main__"):
            importlib.import_module(found.name)
from jetbox.cli import main
print("ready", flush=True)
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            os.chdir(job["cwd"])
            os.environ.clear()
            os.environ.update(job["env"])
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            code = main(job["argv"])
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""


class _Server:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, env=dict(env),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout is not None and self.process.stdin is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        ready = self.stdout.readline()
        assert ready == "ready\n", f"the fork server did not start: {ready!r}"

    def run(self, argv: list[str], env: Mapping[str, str], cwd: Path, timeout_s: float) -> int:
        self.stdin.write(json.dumps({"argv": argv, "env": dict(env), "cwd": str(cwd)}) + "\n")
        self.stdin.flush()
        pid = int(self.stdout.readline())
        if not select.select([self.stdout], [], [], timeout_s)[0]:
            os.kill(pid, signal.SIGKILL)  # as subprocess.run's timeout ends a child
            self.stdout.readline()
            raise subprocess.TimeoutExpired(argv, timeout_s)
        return int(self.stdout.readline())

    def close(self) -> None:
        self.stdin.close()
        self.process.wait(timeout=30)


_idle: list[_Server] = []
_lock = threading.Lock()


def forked_run(argv: list[str], env: Mapping[str, str], cwd: Path = ROOT,
               timeout_s: float = 120) -> int:
    """`python -m jetbox ARGV` as a forked child; its exit code, -9 when it was killed.
    Callers in parallel threads each get a server of their own."""
    with _lock:
        server = _idle.pop() if _idle else None
    if server is None:  # started without the run's failpoint (read at its first use)
        server = _Server({**{k: v for k, v in env.items() if not k.startswith("JETBOX_")},
                          "PYTHONPATH": str(ROOT)})
    try:
        code = server.run(argv, env, cwd, timeout_s)
    except BaseException:
        server.process.kill()
        raise
    with _lock:
        _idle.append(server)
    return code


@atexit.register
def _close_all() -> None:
    with _lock:
        while _idle:
            _idle.pop().close()
