"""Engine overhead: Jetbox's own cost per transition and per round, with an instant scripted
model and no probes; whether it grows with the run (the first tenth of a long run against the
last); its share of a round when the model takes 1 s; resuming a 20,000-record ledger.

    python bench/engine_overhead.py [--rounds 1500] [--slow-rounds 8]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import ROOT, machine_without_probes, save, scripted_run, stats_ms

from jetbox.engine.start import RunRequest, open_run
from jetbox.model.base import ScriptedModel, call
from jetbox.store.kinds import ModelReply, ToolCall
from jetbox.store.ledger import Ledger


def steps(rounds: int, delay_s: float = 0.0) -> list[Any]:
    """Reads of different files (no loop, no change), then finish; each after `delay_s`."""
    def step(reply: ModelReply) -> Any:
        def slow(messages: Any) -> ModelReply:
            time.sleep(delay_s)
            return reply
        return slow if delay_s else reply
    replies = [ModelReply(calls=(ToolCall("read_file", {"path": f"f{i % 20}.txt"}),))
               for i in range(rounds - 1)]
    return [step(r) for r in [*replies, call("finish", summary="done")]]


def reopen_ms(workspace: Path, machine: Path, repeat: int = 5) -> dict[str, Any]:
    """Opening the finished run again (load and check the ledger, find where it stopped,
    rebuild what a resume needs), without running a round: the median of `repeat`."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        open_run(RunRequest(None, workspace, machine, cli_settings={"sandbox": "none"},
                            quiet=True), {}, ROOT, io.StringIO(),
                 model_factory=lambda s, d: lambda: ScriptedModel([]))
        times.append(time.perf_counter() - started)
    loads = []
    for _ in range(repeat):
        started = time.perf_counter()
        records = len(Ledger(workspace / "agent_ledger.log").records())
        loads.append(time.perf_counter() - started)
    return {"records": records, **stats_ms(times), "ledger_load": stats_ms(loads)}


@contextlib.contextmanager
def disk_sync(enabled: bool) -> Iterator[None]:
    """With `enabled` off, fsync is skipped: what is left is Jetbox's own work, which is what
    must not grow with the run (on a busy disk fsync alone varies more than all of it)."""
    real = os.fsync
    if not enabled:
        os.fsync = lambda fd: None
    try:
        yield
    finally:
        os.fsync = real


def measure(rounds: int, delay_s: float, fsync: bool = True) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, disk_sync(fsync):
        workspace = Path(tmp) / "ws"
        workspace.mkdir()
        for index in range(20):
            (workspace / f"f{index}.txt").write_text(f"file {index}\n" * 20)
        machine = machine_without_probes(Path(tmp))
        records = scripted_run(workspace, steps(rounds, delay_s), machine,
                               max_rounds=rounds + 5)
        reopen = reopen_ms(workspace, machine) if not delay_s else {}
    transitions = [r["ts"] for r in records if r["kind"] == "transition"]
    starts = [r["ts"] for r in records if r["kind"] == "transition" and r["dest"] == "Probe"]
    rounds = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    tenth = max(1, len(rounds) // 10)
    return {"rounds": len(starts) + 1, "records": len(records),
            "per_transition": stats_ms([b - a for a, b in zip(transitions, transitions[1:],
                                                              strict=False)]),
            "per_round": stats_ms(rounds), "first_tenth": stats_ms(rounds[:tenth]),
            "last_tenth": stats_ms(rounds[-tenth:]), "reopen": reopen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1500)
    parser.add_argument("--slow-rounds", type=int, default=8)
    args = parser.parse_args()
    instant = measure(args.rounds, 0.0)
    nosync = measure(args.rounds, 0.0, fsync=False)
    slow = measure(args.slow_rounds, 1.0)
    round_s = slow["per_round"]["median_ms"] / 1000
    share = (round_s - 1.0) / round_s
    print(f"{'model':<10} {'rounds':>6} {'transition median':>18} {'p95':>8} "
          f"{'round median':>13} {'p95':>8}")
    for label, result in (("instant", instant), ("no fsync", nosync), ("1 s", slow)):
        t, r = result["per_transition"], result["per_round"]
        print(f"{label:<10} {result['rounds']:>6} {t['median_ms']:>15.2f} ms {t['p95_ms']:>5.2f} ms"
              f" {r['median_ms']:>10.2f} ms {r['p95_ms']:>5.1f} ms")
    for label, result in (("", instant), ("without fsync, ", nosync)):
        first, end = result["first_tenth"]["median_ms"], result["last_tenth"]["median_ms"]
        print(f"\n{label}round median, first tenth of the {result['rounds']}-round run: "
              f"{first:.2f} ms; last tenth: {end:.2f} ms ({end / first:.2f}x; "
              f"{result['records']} records)", end="")
    print()
    print(f"with a 1 s model, Jetbox's own share of a round: {share * 100:.2f} %")
    resume = instant["reopen"]
    print(f"opening the run again with {resume['records']} records in its ledger (load, "
          f"check, resume): median {resume['median_ms']:.0f} ms, of which reading and "
          f"checking the ledger {resume['ledger_load']['median_ms']:.0f} ms")
    save("engine_overhead", {"instant": instant, "no_fsync": nosync, "one_second_model": slow,
                             "resume": resume,
                             "jetbox_share_with_1s_model": round(share, 5)})


if __name__ == "__main__":
    main()
