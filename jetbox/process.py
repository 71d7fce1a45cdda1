"""Child processes: argv only, no stdin, scrubbed env, capped output, whole tree killed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# Variables whose names look like credentials never reach a child the model controls.
SECRET_NAME = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE|SESSION",
                         re.IGNORECASE)
_CHUNK = 65536
# Every child carries its workspace in this variable, so that a later Jetbox can find
# grandchildren that outlived a killed Jetbox (the parent-death signal reaches only the
# direct child) and end them.
CHILD_MARKER = "JETBOX_CHILD_OF"


@dataclass(frozen=True)
class ProcessResult:
    """What a finished (or killed) child produced."""

    argv: tuple[str, ...]
    returncode: int | None
    output: str
    timed_out: bool
    duration_s: float


def cap_text(text: str, max_chars: int) -> str:
    """Keep the head and tail of `text`, saying how much was cut from the middle."""
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    elided = len(text) - 2 * half
    return f"{text[:half]}\n... [{elided} characters elided] ...\n{text[-half:]}"


def scrubbed_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment minus anything that looks like a secret."""
    source = os.environ if base is None else base
    return {k: v for k, v in source.items() if not SECRET_NAME.search(k)}


class _HeadTail:
    """Collects a stream keeping only its first and last bytes: huge output costs no memory."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def feed(self, chunk: bytes) -> None:
        room = self.max_bytes // 2 - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        excess = len(self.tail) - self.max_bytes // 2
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def text(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        tail = self.tail.decode("utf-8", errors="replace")
        if not self.dropped:
            return head + tail
        return f"{head}\n... [{self.dropped} bytes elided] ...\n{tail}"


def _pump(stream: IO[bytes], sink: _HeadTail) -> None:
    while chunk := stream.read(_CHUNK):
        sink.feed(chunk)


def _parent_death_setup() -> Callable[[], None]:
    """The child's setup: die with Jetbox (Linux parent-death signal).

    ctypes and libc are looked up here, in Jetbox, before the fork: an import inside the
    child would search sys.path, where a model-written `ctypes.py` could be waiting."""
    if not sys.platform.startswith("linux"):
        return lambda: None
    import ctypes
    import signal

    prctl, sigkill = ctypes.CDLL(None, use_errno=True).prctl, int(signal.SIGKILL)
    return lambda: prctl(1, sigkill)  # PR_SET_PDEATHSIG


def _spawn_options() -> dict[str, Any]:
    if os.name == "nt":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True, "preexec_fn": _parent_death_setup()}


def kill_tree(process: subprocess.Popen[bytes]) -> None:
    """Kill the child and everything it started."""
    if os.name == "nt":
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(process.pid)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        process.kill()
        return
    import signal

    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_process(
    argv: Sequence[str],
    cwd: Path,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    max_output_chars: int = 20_000,
    sandbox: str = "none",
    workspace: Path | None = None,
    visible: Sequence[Path] = (),
) -> ProcessResult:
    """Run argv (never through a shell), stdout and stderr merged, stdin closed; `visible`
    are folders the sandbox must show read-only (the project's interpreter)."""
    started = time.monotonic()
    full_argv = list(argv)
    if sandbox == "bwrap":
        from jetbox.sandbox import bwrap_argv

        full_argv = bwrap_argv(full_argv, workspace or cwd, visible=visible)
    sink = _HeadTail(max_output_chars)
    child_env = {**(os.environ if env is None else env),
                 CHILD_MARKER: str((workspace or cwd).resolve())}
    process = subprocess.Popen(full_argv, cwd=cwd, env=child_env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, **_spawn_options())
    job = _windows_job(process)
    assert process.stdout is not None
    reader = threading.Thread(target=_pump, args=(process.stdout, sink), daemon=True)
    reader.start()
    timed_out = False
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        kill_tree(process)  # also reaps grandchildren left behind by a finished child
        process.wait()
        reader.join(timeout=5)
        process.stdout.close()
        if job is not None:
            job.close()
    return ProcessResult(tuple(argv), None if timed_out else process.returncode, sink.text(),
                         timed_out, time.monotonic() - started)


def reap_strays(workspace: Path) -> list[int]:
    """Kill processes a previous, killed Jetbox left running for this workspace (Linux).

    Called while holding the workspace lock, so no live Jetbox owns them."""
    proc = Path("/proc")
    if not sys.platform.startswith("linux") or not proc.is_dir():
        return []
    import signal

    marker = f"{CHILD_MARKER}={workspace.resolve()}".encode() + b"\0"
    killed = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes() + b"\0":
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
        except OSError:
            continue
    return killed


def _windows_job(process: subprocess.Popen[bytes]) -> Any:
    """Windows: a job object that kills the whole tree when Jetbox's handle closes."""
    if os.name != "nt":
        return None
    from jetbox.winjob import KillOnCloseJob

    return KillOnCloseJob.attach(process.pid)
