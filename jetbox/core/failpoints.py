"""Crash and fault injection for tests: JETBOX_FAILPOINT=<action>:<point>[#n].

`hold` parks the process at the point (printing a marker) so a test can kill it from
outside with SIGKILL; `kill` kills the process itself there, with no cleanup at all;
`tear:ledger#n` writes only half of the n-th ledger line, then kills (a torn tail);
`enospc:ledger#n` writes half of the n-th ledger line, then fails with ENOSPC the way a
full disk does (and every later append too: a full disk stays full); `raise:tool:<name>`
raises RuntimeError inside that tool's dispatch (an unexpected bug in a tool).
Points: `before:<State>` (just before a handler runs), `ledger#<n>` (after the n-th
ledger append of this process), `status#<n>` (after the n-th in-place write of status.txt,
before it is cut to length) and `tool:<name>`. Unset in normal use: one lookup.
"""

from __future__ import annotations

import os
import sys
import time

ENV = "JETBOX_FAILPOINT"
_hits: dict[str, int] = {}
_full: set[str] = set()


def _armed(point: str, actions: tuple[str, ...]) -> str | None:
    """The action to take at this visit of `point`, if the failpoint names it."""
    spec = os.environ.get(ENV)
    if not spec:
        return None
    action, _, where = spec.partition(":")
    where, _, nth = where.partition("#")
    if where != point or action not in actions:
        return None
    key = f"{action}:{point}"
    _hits[key] = _hits.get(key, 0) + 1
    return action if not nth or _hits[key] == int(nth) else None


def tears(point: str) -> bool:
    """Whether this visit of `point` should write half its data and then die."""
    return _armed(point, ("tear",)) is not None


def disk_full(point: str) -> bool:
    """Whether this visit of `point` should fail as if the disk were full (from the n-th on)."""
    key = f"enospc:{point}"
    if key in _full and os.environ.get(ENV, "").startswith(key):
        return True
    if _armed(point, ("enospc",)) is not None:
        _full.add(key)
        return True
    return False


def reset() -> None:
    """Forget the visits counted so far (for tests that run Jetbox in-process twice)."""
    _hits.clear()
    _full.clear()


def hit(point: str) -> None:
    action = _armed(point, ("hold", "kill", "raise"))
    if action == "raise":
        raise RuntimeError(f"failpoint raise:{point}")
    if action == "hold":
        sys.stderr.write(f"[failpoint] holding at {point}\n")
        sys.stderr.flush()
        time.sleep(3600)
    elif action == "kill":
        kill_self()


def kill_self() -> None:
    """Die the way a power cut or `kill -9` would: no finally blocks, no flushing."""
    if os.name == "nt":
        os._exit(137)
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
