"""Crash survival: seeded random kill -9s during scripted mathx runs; every run must end
exactly like an uninterrupted one.

    python bench/crash_survival.py [--kills 1000] [--seed 2026] [--jobs 2]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import save  # noqa: E402
from tests.crashkit import Outcome, crash_and_resume  # noqa: E402


def survived(result: Outcome, reference: Outcome) -> bool:
    return (result.state == "Done" and result.files == reference.files
            and result.writes == reference.writes
            and len(set(result.reply_rounds)) == result.replies == reference.replies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=1000,
                        help="kills that must land (a kill point past the end of a resumed "
                             "run does not land; batches continue until this many did)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    plans: list[list[str]] = []
    results: list[Outcome] = []
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        reference = crash_and_resume(Path(tmp) / "reference", [])
        started = time.monotonic()
        while sum(r.kills for r in results) < args.kills:
            batch = [[f"kill:ledger#{rng.randint(1, reference.appends)}"
                      for _ in range(rng.randint(1, 3))] for _ in range(10 * args.jobs)]
            folders = [Path(tmp) / f"run{len(plans) + i}" for i in range(len(batch))]
            results += pool.map(crash_and_resume, folders, batch)
            plans += batch
        elapsed = time.monotonic() - started
    ok = [survived(r, reference) for r in results]
    kills = sum(r.kills for r in results)
    print(f"{'runs':>6} {'kills injected':>15} {'kills landed':>13} {'survived':>9} "
          f"{'seconds':>8}")
    print(f"{len(results):>6} {sum(map(len, plans)):>15} {kills:>13} "
          f"{sum(ok):>5}/{len(ok):<3} {elapsed:>8.0f}")
    print(f"median kills per run {statistics.median(r.kills for r in results):.0f}; "
          f"reference run: {reference.appends} ledger appends, {reference.replies} replies")
    save("crash_survival", {
        "seed": args.seed, "runs": len(results), "kills_injected": sum(map(len, plans)),
        "kills_landed": kills, "survived": sum(ok), "seconds": round(elapsed, 1),
        "failures": [p for p, good in zip(plans, ok, strict=True) if not good]})
    sys.exit(0 if all(ok) else 1)


if __name__ == "__main__":
    main()
