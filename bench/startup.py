"""Start-up: wall time of `python -m jetbox --help`, `status` and `graph`, and proof that
the ollama client is not imported for them.

    python bench/startup.py [--repeat 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

from common import ROOT, save

COMMANDS = {
    "python -c pass (baseline)": ["-c", "pass"],
    "jetbox --help": ["-m", "jetbox", "--help"],
    "jetbox status": ["-m", "jetbox", "status", "-w", "{ws}"],
    "jetbox graph": ["-m", "jetbox", "graph", "--machine", str(ROOT / "jetbox/machine.yaml")],
}
PROBE = ("import sys; from jetbox.cli import build_parser, main; import io; build_parser(); "
         "main(['graph', '--machine', {m!r}], stdout=io.StringIO()); "
         "print(sorted(m for m in ('ollama', 'httpx', 'pydantic') if m in sys.modules))")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as ws:
        for label, argv in COMMANDS.items():
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                subprocess.run([sys.executable, *[a.format(ws=ws) for a in argv]], cwd=ROOT,
                               capture_output=True, check=True)
                times.append(time.perf_counter() - started)
            results[label] = {"median_ms": round(statistics.median(times) * 1000, 1),
                              "max_ms": round(max(times) * 1000, 1)}
    machine = ROOT / "jetbox/machine.yaml"
    heavy = subprocess.run([sys.executable, "-c", PROBE.format(m=str(machine))],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    print(f"{'command':<28} {'median':>10} {'max':>10}")
    for label, result in results.items():
        print(f"{label:<28} {result['median_ms']:>7.1f} ms {result['max_ms']:>7.1f} ms")
    print(f"\nheavy modules imported by --help and graph: {heavy}")
    save("startup", {"commands": results, "heavy_imports": heavy})


if __name__ == "__main__":
    main()
