"""How soon Jetbox sees a child end: `run_process` (a thread blocked in waitpid) vs
Popen.wait(timeout), which polls on POSIX (sleeps doubling from 0.5 ms to 50 ms), vs a
plain blocking Popen.wait() as the floor. Every probe, command and clean-room check is
such a child.

    python bench/child_wait.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import save

from jetbox.exec.process import run_process

SLEEPS_S = (0.0, 0.01, 0.025, 0.035, 0.1, 0.3)


def child(sleep_s: float) -> list[str]:
    return [sys.executable, "-S", "-c", f"import time; time.sleep({sleep_s})"]


def timed(start: float) -> float:
    return time.perf_counter() - start


def polled(argv: list[str]) -> float:
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    process.wait(timeout=60)
    return timed(start)


def blocking(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.Popen(argv, stdout=subprocess.DEVNULL).wait()
    return timed(start)


def jetbox(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    run_process(argv, cwd, timeout_s=60)
    return timed(start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="children of each kind")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for sleep_s in SLEEPS_S:
            argv = child(sleep_s)
            runs: dict[str, list[float]] = {"blocking": [], "polled": [], "run_process": []}
            for _ in range(args.repeat):  # interleaved, so load drifts hit all three alike
                runs["blocking"].append(blocking(argv))
                runs["polled"].append(polled(argv))
                runs["run_process"].append(jetbox(argv, Path(tmp)))
            rows.append({"child_sleep_ms": sleep_s * 1000,
                         **{k: round(statistics.median(v) * 1000, 1) for k, v in runs.items()}})
    print(f"{'child sleeps':>13} {'blocking wait':>14} {'wait(timeout)':>14} "
          f"{'run_process':>12}   (medians, ms)")
    for row in rows:
        print(f"{row['child_sleep_ms']:>10.0f} ms {row['blocking']:>14.1f} {row['polled']:>14.1f}"
              f" {row['run_process']:>12.1f}")
    save("child_wait", {"repeat": args.repeat, "rows": rows})


if __name__ == "__main__":
    main()
