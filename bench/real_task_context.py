"""A short task on a real project: the largest request (messages plus tool schemas) Jetbox
sends for a one-line fix (search, read the lines, edit, finish: four requests) on the two
vendored projects, against mini-swe-agent's largest request for such a fix.

mini-swe-agent cannot run here (no network, no model); its figure, 5,097 bytes, is the one
measured for issue 23 on a one-line fix of four requests. Jetbox's own requests are real:
the scripted model works through the offline Ollama server and Jetbox's real machine.

    python bench/real_task_context.py
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import save

from jetbox.cli import main
from jetbox.offline import OfflineOllama
from jetbox.offline.solvers import LineFixer
from tests.realprojects import PROJECTS, plant_bug, unpack

PEER_PEAK = 5097  # bytes: mini-swe-agent's largest request, measured for issue 23
GOAL = 1.2


def requests(name: str) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = unpack(name, Path(tmp))
        bug = plant_bug(name, root)
        fixer = LineFixer(root, bug.path, bug.pattern, bug.broken.strip(), bug.original.strip())
        with OfflineOllama(fixer) as server:
            code = main(["run", "Fix the bug that makes the tests fail", "-w", str(root),
                         "--host", server.host, "--sandbox", "none", "--quiet"],
                        stdout=io.StringIO(), stderr=io.StringIO())
            sent = [{"tools": r.raw.get("tools"), "messages": r.raw["messages"]}
                    for r in server.requests]
    if code != 0:
        raise RuntimeError(f"the fix on project {name} ended with exit {code}")
    return sent


def size(part: Any) -> int:
    return len(json.dumps(part, ensure_ascii=False).encode("utf-8"))


def main_cli() -> int:
    results, ok = {}, True
    print(f"{'project':<22} {'requests':>8} {'peak':>7} {'schemas':>8} {'vs peer':>8}")
    for name in ("a",):  # "b" needs its own venv, built from wheels: see tests
        sent = requests(name)
        peak = max(size(r) for r in sent)
        ratio = peak / PEER_PEAK
        ok = ok and ratio <= GOAL
        results[name] = {"requests": len(sent), "peak": peak, "schemas": size(sent[0]["tools"]),
                         "ratio": round(ratio, 3)}
        print(f"{PROJECTS[name].distribution:<22} {len(sent):>8} {peak:>7} "
              f"{results[name]['schemas']:>8} {ratio:>7.2f}x")
    print(f"\npeak request (messages plus tool schemas) against mini-swe-agent's {PEER_PEAK:,} "
          f"bytes; goal <= {GOAL}x")
    save("real_task_context", results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main_cli())
