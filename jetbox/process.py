"""Running a child process with a timeout and capped output (hardened in tools work)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


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


def run_process(
    argv: Sequence[str],
    cwd: Path,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    max_output_chars: int = 20_000,
) -> ProcessResult:
    """Run argv (never through a shell) with stdin closed; stdout and stderr merged."""
    started = time.monotonic()
    try:
        completed = subprocess.run(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raw = exc.output or b""
        text = raw.decode("utf-8", errors="replace")
        return ProcessResult(tuple(argv), None, cap_text(text, max_output_chars), True,
                             time.monotonic() - started)
    text = completed.stdout.decode("utf-8", errors="replace")
    return ProcessResult(tuple(argv), completed.returncode, cap_text(text, max_output_chars),
                         False, time.monotonic() - started)
