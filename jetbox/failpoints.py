"""Crash injection for tests: JETBOX_FAILPOINT=hold:<point> or kill:<point>[#n].

`hold` parks the process at the point (printing a marker) so a test can kill it from
outside with SIGKILL; `kill` kills the process itself there, with no cleanup at all.
Points: `before:<State>` (just before a handler runs) and `ledger:<n>` (after the
n-th ledger append of this process). Unset in normal use: one dictionary lookup.
"""

from __future__ import annotations

import os
import sys
import time

ENV = "JETBOX_FAILPOINT"
_hits: dict[str, int] = {}


def hit(point: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    action, _, where = spec.partition(":")
    where, _, nth = where.partition("#")
    if where != point:
        return
    _hits[point] = _hits.get(point, 0) + 1
    if nth and _hits[point] != int(nth):
        return
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
