"""What a `jetbox run` process and its model requests cost besides the work itself.

Two costs that every run pays, each measured both ways:
- a model request on a kept-alive connection to the offline server (`jetbox serve`, every
  test), with and without TCP_NODELAY on the server's side (Ollama, in Go, sends with it):
  without it a reply's headers and body leave as two writes, and the second waits for the
  client's delayed ACK;
- the exit of a whole scripted run (tests/crashkit.py's SCRIPT, data probes): `python -m
  jetbox` (cli.entry freezes the garbage collector before exiting, so the interpreter's last
  collection skips the objects the imports made) against the same run through cli.main
  and sys.exit, as before. The figure is the time from the run's last ledger record to the
  process's end.

    python bench/process_overhead.py [--repeat 9]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from common import ROOT, save

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.offline.stream import WireHandler
from tests import crashkit, enginekit

OLD_EXIT = "import sys; from jetbox.cli import main; sys.exit(main())"


def request_ms(nodelay: bool, count: int) -> float:
    """Median of `count` chat requests through one ollama.Client (after the first)."""
    import ollama

    WireHandler.disable_nagle_algorithm = nodelay
    turns = [Turn(calls=(Call("finish", {"summary": "done"}),))] * (count + 1)
    with OfflineOllama(ScriptResponder(turns)) as server:
        client = ollama.Client(host=server.host)
        times = []
        for _ in range(count + 1):
            started = time.perf_counter()
            client.chat(model="gpt-oss:20b", messages=[{"role": "user", "content": "hi"}])
            times.append(time.perf_counter() - started)
    WireHandler.disable_nagle_algorithm = True
    return statistics.median(times[1:]) * 1000


def exit_ms(entry: list[str]) -> tuple[float, float]:
    """(from the last ledger record to the process's end, the whole process) of one run."""
    folder = Path(tempfile.mkdtemp())
    (folder / "ws").mkdir()
    workspace = enginekit.project(folder / "ws")
    machine = enginekit.machine_file(folder / "machine")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with OfflineOllama(ScriptResponder(list(crashkit.SCRIPT))) as server:
        started = time.time()
        subprocess.run([sys.executable, *entry, "run", enginekit.GOAL, "-w", str(workspace),
                        "--host", server.host, "--sandbox", "none", "--quiet", "--machine",
                        str(machine)], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ended = time.time()
    last = json.loads((workspace / "agent_ledger.log").read_text().splitlines()[-1])["ts"]
    last_s = datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp() \
        if isinstance(last, str) else float(last)
    return (ended - last_s) * 1000, (ended - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    requests = {"with TCP_NODELAY": request_ms(True, 30),
                "without": request_ms(False, 30)}
    exits: dict[str, list[tuple[float, float]]] = {"python -m jetbox (entry)": [],
                                                   "main, then sys.exit": []}
    for _ in range(args.repeat):  # interleaved: the machine's speed drifts
        exits["python -m jetbox (entry)"].append(exit_ms(["-m", "jetbox"]))
        exits["main, then sys.exit"].append(exit_ms(["-c", OLD_EXIT]))
    print(f"{'model request, kept-alive connection':<40} {'median':>10}")
    for label, ms in requests.items():
        print(f"{label:<40} {ms:>7.1f} ms")
    print(f"\n{'a scripted run':<28} {'last record to exit':>20} {'whole process':>14}")
    table = {}
    for label, pairs in exits.items():
        tail = statistics.median(p[0] for p in pairs)
        whole = statistics.median(p[1] for p in pairs)
        table[label] = {"exit_ms": round(tail, 1), "process_ms": round(whole, 1)}
        print(f"{label:<28} {tail:>17.1f} ms {whole:>11.1f} ms")
    save("process_overhead", {"request_ms": requests, "run": table, "repeat": args.repeat})


if __name__ == "__main__":
    main()
