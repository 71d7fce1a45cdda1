"""Crash injection for tests: JETBOX_FAILPOINT=hold:<point> or kill:<point>[#n].

`hold` parks the process at the point (printing a marker) so a test can kill it from
outside with SIGKILL; `kill` kills the process itself there, with no cleanup at all;
`tear:ledger#n` writes only half of the n-th ledger line, then kills (a torn tail).
Points: `before:<State>` (just before a handler runs) and `ledger#<n>` (after the
n-th ledger append of this process). Unset in normal use: one dictionary lookup.
"""

from __future__ import annotations

import os
import sys
import time

ENV = "JETBOX_FAILPOINT"
_hits: dict[str, int] = {}


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


def hit(point: str) -> None:
    action = _armed(point, ("hold", "kill"))
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
