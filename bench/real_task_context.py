"""A short task on a real project: the largest request (messages plus tool schemas) and the
total uncached bytes of a one-line fix (search, read the lines, edit, finish: four requests)
on a vendored project, Jetbox against mini-swe-agent 2.4.6 on the same task.

Both agents run for real through the offline Ollama server, each with a scripted model
taking the same steps (bench/peer.py runs the peer). Without mini-swe-agent installed
(`pip install -e ".[peer]"`), the comparison is with the peak issue 23 quotes, 5,097 bytes,
measured on a task of its own, and the bench says so. Exits 1 above the goal (1.2x).

    python bench/real_task_context.py
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import peer
from common import save
from context_growth import uncached

from jetbox.cli import main
from jetbox.offline import OfflineOllama
from jetbox.offline.solvers import FUNCTION_LINES, LineFixer
from tests.realprojects import PROJECTS, plant_bug, unpack

QUOTED_PEAK = 5097  # bytes: mini-swe-agent's largest request on issue 23's own one-line fix
GOAL = 1.2
TASK = "Fix the bug that makes the tests fail"


def requests(name: str, lines: int) -> list[dict[str, Any]]:
    """Jetbox's requests for the fix, its scripted model reading `lines` past the match."""
    with tempfile.TemporaryDirectory() as tmp:
        root = unpack(name, Path(tmp))
        bug = plant_bug(name, root)
        fixer = LineFixer(root, bug.path, bug.pattern, bug.broken.strip(), bug.original.strip(),
                          lines)
        with OfflineOllama(fixer) as server:
            code = main(["run", TASK, "-w", str(root),
                         "--host", server.host, "--sandbox", "none", "--quiet"],
                        stdout=io.StringIO(), stderr=io.StringIO())
            sent = [{"tools": r.raw.get("tools"), "messages": r.raw["messages"]}
                    for r in server.requests]
    if code != 0:
        raise RuntimeError(f"the fix on project {name} ended with exit {code}")
    return sent


def peer_requests(name: str, lines: int) -> list[dict[str, Any]]:
    """mini-swe-agent's requests for the same fix, its scripted model taking the same steps."""
    with tempfile.TemporaryDirectory() as tmp:
        root = unpack(name, Path(tmp))
        bug = plant_bug(name, root)
        fixer = peer.LineFixer(bug.path, bug.pattern, bug.broken.strip(), bug.original.strip(),
                               lines)
        sent = peer.requests(root, fixer, TASK)
        if bug.broken.strip() in (root / bug.path).read_text(encoding="utf-8"):
            raise RuntimeError(f"mini-swe-agent's fix on project {name} did not land")
    return sent


def size(part: Any) -> int:
    return len(json.dumps(part, ensure_ascii=False).encode("utf-8"))


def total_uncached(sent: list[dict[str, Any]]) -> int:
    """Bytes after the longest prefix shared with the request before, summed (an
    append-only agent's total is its last request)."""
    return sum(uncached([json.dumps(r, ensure_ascii=False) for r in sent]))


def main_cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="*", default=[FUNCTION_LINES, 10],
                        help="how many lines past the match the scripted models read "
                             f"(default: {FUNCTION_LINES}, the whole function, and 10)")
    args = parser.parse_args()
    reason = peer.missing()
    if reason:
        print(f"{reason}: comparing with the peak issue 23 quotes, {QUOTED_PEAK:,} B, "
              f"measured on a task of its own, not this one\n")
    results, ok = {}, True
    print(f"{'project':<19} {'reads':>5} {'agent':<21} {'requests':>8} {'peak':>6} "
          f"{'schemas':>7} {'uncached':>8} {'peak vs peer':>12}")
    for name in ("a",):  # "b" needs its own venv, built from wheels: see tests
        for lines in args.lines:
            ours = requests(name, lines)
            theirs = None if reason else peer_requests(name, lines)
            peer_peak = QUOTED_PEAK if theirs is None else max(size(r) for r in theirs)
            peak = max(size(r) for r in ours)
            ratio = peak / peer_peak
            ok = ok and ratio <= GOAL
            result = {"requests": len(ours), "peak": peak, "schemas": size(ours[0]["tools"]),
                      "uncached": total_uncached(ours), "peer_peak": peer_peak,
                      "peer_measured": theirs is not None, "ratio": round(ratio, 3)}
            rows = [("jetbox", ours, f"{ratio:.2f}x")]
            if theirs is not None:
                rows.append((f"{peer.PEER} {peer.VERSION}", theirs, ""))
                result.update(peer_requests=len(theirs), peer_schemas=size(theirs[0]["tools"]),
                              peer_uncached=total_uncached(theirs))
            results[f"{name}-{lines + 1}-lines"] = result
            for agent, sent, versus in rows:
                print(f"{PROJECTS[name].distribution:<19} {lines + 1:>5} {agent:<21} "
                      f"{len(sent):>8} {max(size(r) for r in sent):>6} "
                      f"{size(sent[0]['tools']):>7} {total_uncached(sent):>8} {versus:>12}")
    against = ("mini-swe-agent's on the same task" if not reason
               else f"the {QUOTED_PEAK:,} B issue 23 quotes")
    print(f"\npeak request (messages plus tool schemas) against {against}; goal <= {GOAL}x")
    save("real_task_context", results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main_cli())
