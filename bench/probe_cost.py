"""Probe cost: a round after a file change (ruff and pytest run) vs one after no change
(the last result is reused, no subprocess).

    python bench/probe_cost.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

from common import save, scripted_run, stats_ms

from jetbox.model.base import call

MODULE = '"""m."""\n\n\ndef add(a, b):\n    """Sum."""\n    return a + b  # v{}\n'
TEST = ('"""t."""\n\nfrom m import add\n\n\ndef test_add():\n    """It adds."""\n'
        "    assert add(1, 2) == 3\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="rounds of each kind")
    args = parser.parse_args()
    steps: list[Any] = []
    for index in range(args.rounds):  # change, then no change, alternately
        steps += [call("write_file", path="m.py", content=MODULE.format(index)),
                  call("read_file", path="m.py")]
    steps.append(call("finish", summary="done"))
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        workspace.mkdir()
        (workspace / "m.py").write_text(MODULE.format("start"))
        (workspace / "test_m.py").write_text(TEST)
        records = scripted_run(workspace, steps, max_rounds=len(steps) + 5)
    probes = {r["round"]: r for r in records if r["kind"] == "probe"}
    starts = {r["round"]: r["ts"] for r in records
              if r["kind"] == "transition" and r["source"] == "Probe"}
    begins = {r["round"]: r["ts"] for r in records if r["kind"] == "transition"
              and r["dest"] == "Probe"}
    changed, unchanged = [], []
    for round_no, probe in probes.items():
        if round_no in begins and round_no in starts:
            (unchanged if probe["reused"] else changed).append(starts[round_no] - begins[round_no])
    c, u = stats_ms(changed), stats_ms(unchanged)
    print(f"{'Probe state':<28} {'median':>10} {'p95':>10} {'n':>4}")
    print(f"{'after a file change':<28} {c['median_ms']:>7.1f} ms {c['p95_ms']:>7.1f} ms "
          f"{c['n']:>4}")
    print(f"{'after no change (reused)':<28} {u['median_ms']:>7.2f} ms {u['p95_ms']:>7.2f} ms "
          f"{u['n']:>4}")
    ratio = statistics.median(changed) / statistics.median(unchanged)
    print(f"\na no-change round's Probe is {ratio:.0f}x cheaper")
    save("probe_cost", {"changed": c, "unchanged": u, "ratio": round(ratio, 1)})


if __name__ == "__main__":
    main()
