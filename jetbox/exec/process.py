"""Child processes: argv only, no stdin, an allow-listed env, capped output, whole tree
killed, and a timeout that holds however the child's descendants hold its pipe."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # bwrap is loaded only when a command runs in it (run_process)
    from jetbox.exec.sandbox import WorkCopy

# The only variables a child the model controls inherits (plus the `pass_env` setting):
# credentials hide in too many shapes (DATABASE_URL, HTTPS_PROXY=http://u:pw@..., GH_PAT)
# for a list of forbidden names to catch them. PYTHONPATH, PYTHONSTARTUP and PYTHONHOME
# are left out on purpose: they make a child import or run code from outside the
# workspace; the PYTHON* variables kept only change how Python prints and decodes.
ALLOWED_ENV = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
    "TERM", "VIRTUAL_ENV", "SYSTEMROOT", "SYSTEMDRIVE", "COMSPEC", "PATHEXT", "WINDIR",
    "APPDATA", "LOCALAPPDATA", "USERPROFILE", "PYTHONIOENCODING", "PYTHONUTF8",
    "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED",
    # The person's own choice that pytest loads no installed plugins: the probes then see
    # what their pytest sees. It only narrows what runs and carries nothing secret.
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
    # The locale categories by their exact names: `LC_*` would pass anything so named, and
    # ssh forwards LC_* from the client (AcceptEnv LC_*), a known way to carry tokens.
    "LC_ALL", "LC_CTYPE", "LC_COLLATE", "LC_MESSAGES", "LC_MONETARY", "LC_NUMERIC",
    "LC_TIME", "LC_ADDRESS", "LC_IDENTIFICATION", "LC_MEASUREMENT", "LC_NAME", "LC_PAPER",
    "LC_TELEPHONE"})
_CHUNK = 65536
GRACE_S = 1.0  # how long a pipe held open by an escaped descendant is still read
# Every child carries its workspace in this variable, so that a later Jetbox can find
# grandchildren that outlived a killed Jetbox (the parent-death signal reaches only the
# direct child) and end them.
CHILD_MARKER = "JETBOX_CHILD_OF"
# And each command its own id, so that descendants which left its process group (a new
# session, a double fork) are found and ended with it (Linux; elsewhere the job object or
# the sandbox's pid namespace does this).
COMMAND_MARKER = "JETBOX_COMMAND_ID"


@dataclass(frozen=True)
class ProcessResult:
    """What a finished (or killed) child produced."""

    argv: tuple[str, ...]
    returncode: int | None
    output: str
    timed_out: bool
    duration_s: float


def scrubbed_env(base: Mapping[str, str] | None = None,
                 pass_env: Iterable[str] = ()) -> dict[str, str]:
    """The allow-listed part of the environment, plus the variables named in `pass_env`."""
    source = os.environ if base is None else base
    extra = {name.strip().upper() for name in pass_env if name.strip()}
    return {k: v for k, v in source.items() if k.upper() in ALLOWED_ENV or k.upper() in extra}


def hide_own_environment() -> bool:
    """Make Jetbox non-dumpable (Linux): /proc/<Jetbox>/environ, which holds the
    environment Jetbox started with whatever os.environ says now, is then unreadable to a
    command of the same unprivileged user. Root's commands can still read it (they have
    CAP_SYS_PTRACE); only the bwrap sandbox (its own PID namespace) hides it from them.
    Whether it took effect."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    pr_set_dumpable = 4
    return ctypes.CDLL(None, use_errno=True).prctl(pr_set_dumpable, 0, 0, 0, 0) == 0


def pass_env_names(setting: str) -> tuple[str, ...]:
    """The `pass_env` setting ("NAME, OTHER") as names."""
    return tuple(name.strip() for name in setting.split(",") if name.strip())


class _HeadTail:
    """Collects a stream keeping only its first and last bytes: huge output costs no memory."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.lock = threading.Lock()  # a reader given up on may still be feeding

    def feed(self, chunk: bytes) -> None:
        with self.lock:
            self._feed(chunk)

    def _feed(self, chunk: bytes) -> None:
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
        with self.lock:
            head = self.head.decode("utf-8", errors="replace")
            tail = self.tail.decode("utf-8", errors="replace")
            dropped = self.dropped
        if not dropped:
            return head + tail
        return f"{head}\n... [{dropped} bytes elided] ...\n{tail}"


def _pump(stream: IO[bytes], sink: _HeadTail, stop: threading.Event) -> None:
    """Read until EOF, or until `stop` (POSIX): a descendant that escaped the kill may hold
    the pipe open for minutes, and a blocked read cannot be interrupted from outside."""
    fd = stream.fileno()
    if os.name == "nt":  # no select() on pipes; the job object kills every holder instead
        while chunk := os.read(fd, _CHUNK):
            sink.feed(chunk)
        return
    import select

    poller = select.poll()  # not select(): it fails for descriptors above 1023
    poller.register(fd, select.POLLIN | select.POLLHUP)
    while not stop.is_set():
        if poller.poll(50):
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                return
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


def _spawn_options(platform: str = sys.platform) -> dict[str, Any]:
    """Windows: a new process group, created suspended until it is in its job (see
    winjob); POSIX: a new session that dies with Jetbox."""
    if platform == "win32":
        from jetbox.exec.winjob import SPAWN_FLAGS

        return {"creationflags": SPAWN_FLAGS}
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


@dataclass(frozen=True)
class Captured:
    """What one of Jetbox's own programs printed, kept apart (stdout is its answer)."""

    returncode: int
    stdout: bytes
    stderr: bytes


def capture(argv: Sequence[str], cwd: Path | None = None, timeout_s: float = 30.0,
            env: Mapping[str, str] | None = None, stdin: bytes | None = None,
            on_slow: tuple[float, Callable[[], None]] | None = None) -> Captured | None:
    """Run a program of Jetbox's own (git, ruff, the search helper) and collect its output:
    argv only, never a shell, stdin closed unless `stdin` is given, `env` as given (None:
    Jetbox's own). None when it passes `timeout_s` (it is killed). `on_slow` = (seconds,
    check): when it is still running after that long, `check()` runs meanwhile (it may raise
    to say why, e.g. a FIFO that blocks git). OSError (no such program) is the caller's."""
    child = subprocess.Popen(list(argv), cwd=cwd, env=None if env is None else dict(env),
                             stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with child:
        try:
            out, err = _communicate(child, stdin, timeout_s, on_slow)
        except subprocess.TimeoutExpired:
            return None
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
    return Captured(child.returncode, out, err)


def _communicate(child: subprocess.Popen[bytes], stdin: bytes | None, timeout_s: float,
                 on_slow: tuple[float, Callable[[], None]] | None) -> tuple[bytes, bytes]:
    if on_slow is None:
        return child.communicate(stdin, timeout=timeout_s)
    slow_s, check = on_slow
    try:
        return child.communicate(stdin, timeout=min(slow_s, timeout_s))
    except subprocess.TimeoutExpired:
        if slow_s >= timeout_s:
            raise
        check()
    return child.communicate(timeout=timeout_s - slow_s)


def run_process(
    argv: Sequence[str],
    cwd: Path,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    max_output_chars: int = 20_000,
    sandbox: str = "none",
    workspace: Path | None = None,
    visible: Sequence[Path] = (),
    writable: Sequence[Path] = (),
    copy: WorkCopy | None = None,
) -> ProcessResult:
    """Run argv (never through a shell), stdout and stderr merged, stdin closed; `visible`
    are folders the sandbox must show read-only (the project's interpreter), `writable`
    folders of Jetbox's own it must let the child write (a probe's outcome report); under
    bwrap, `copy` is the workspace's private copy the child sees in its place."""
    started = time.monotonic()
    full_argv = list(argv)
    if sandbox == "bwrap":
        from jetbox.exec.sandbox import bwrap_argv

        full_argv = bwrap_argv(full_argv, workspace or cwd, visible=visible, writable=writable,
                               copy=copy)
    sink = _HeadTail(max_output_chars)
    command_id = uuid.uuid4().hex
    child_env = {**(os.environ if env is None else env),
                 CHILD_MARKER: str((workspace or cwd).resolve()), COMMAND_MARKER: command_id}
    process = subprocess.Popen(full_argv, cwd=cwd, env=child_env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, **_spawn_options())
    job = _windows_job(process)  # before the suspended child runs a single instruction
    timed_out = _wait_reading(process, sink, timeout_s, command_id, job)
    return ProcessResult(tuple(argv), None if timed_out else process.returncode, sink.text(),
                         timed_out, time.monotonic() - started)


def _wait_reading(process: subprocess.Popen[bytes], sink: _HeadTail, timeout_s: float,
                  command_id: str, job: Any = None) -> bool:
    """Collect the output until the child ends or times out, then end its whole tree;
    whether it timed out."""
    assert process.stdout is not None
    stop = threading.Event()
    reader = threading.Thread(target=_pump, args=(process.stdout, sink, stop), daemon=True)
    reader.start()
    try:
        timed_out = not _ended_within(process, timeout_s)
    finally:
        kill_tree(process)  # also reaps grandchildren left behind by a finished child
        process.wait()
        _kill_marked(f"{COMMAND_MARKER}={command_id}")
        _stop_reading(reader, stop)
        if not reader.is_alive():
            process.stdout.close()  # never under a blocked reader: close() would wait for it
        if job is not None:
            job.close()
    return timed_out


def _ended_within(process: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Whether the child ended within `timeout_s`, known as it ends. On POSIX,
    Popen.wait(timeout) polls, sleeping up to 50 ms between looks: a child that took 35 ms
    was seen to end at 63 ms. A thread blocked in waitpid wakes when the child ends; on
    Windows wait() already blocks on the process handle."""
    if os.name == "nt":
        try:
            process.wait(timeout=timeout_s)
            return True
        except subprocess.TimeoutExpired:
            return False
    ended = threading.Event()

    def reap() -> None:
        process.wait()
        ended.set()

    threading.Thread(target=reap, daemon=True).start()
    return ended.wait(timeout_s if timeout_s < threading.TIMEOUT_MAX else None)


def _stop_reading(reader: threading.Thread, stop: threading.Event) -> None:
    """EOF comes at once when the tree is gone; a pipe still held after GRACE_S belongs to a
    descendant that left the process group, and is no longer waited for."""
    reader.join(GRACE_S)
    stop.set()
    reader.join(GRACE_S)


def reap_strays(workspace: Path) -> list[int]:
    """Kill processes a previous, killed Jetbox left running for this workspace (Linux).

    Called while holding the workspace lock, so no live Jetbox owns them."""
    return _kill_marked(f"{CHILD_MARKER}={workspace.resolve()}")


def _kill_marked(assignment: str) -> list[int]:
    """Kill every process whose environment holds `NAME=value` (Linux; elsewhere none)."""
    proc = Path("/proc")
    if not sys.platform.startswith("linux") or not proc.is_dir():
        return []
    import signal

    marker = b"\0" + assignment.encode() + b"\0"
    killed = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in b"\0" + (entry / "environ").read_bytes() + b"\0":
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
        except OSError:
            continue
    return killed


def _windows_job(process: subprocess.Popen[bytes]) -> Any:
    """Windows: the suspended child joins a job that kills the whole tree when Jetbox's
    handle closes, then runs. Resumed even when the job could not be made."""
    if sys.platform != "win32":
        return None
    from jetbox.exec.winjob import KillOnCloseJob

    try:
        return KillOnCloseJob.attach(process.pid)
    finally:
        KillOnCloseJob.resume(process.pid)
