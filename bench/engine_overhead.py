"""Engine overhead: Jetbox's own cost per transition and per round, with an instant scripted
model and no probes; and its share of a round when the model takes 1 s.

    python bench/engine_overhead.py [--rounds 200] [--slow-rounds 8]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from common import machine_without_probes, save, scripted_run, stats_ms

from jetbox.model.base import Reply, ToolCall, call


def steps(rounds: int, delay_s: float = 0.0) -> list[Any]:
    """Reads of different files (no loop, no change), then finish; each after `delay_s`."""
    def step(reply: Reply) -> Any:
        def slow(messages: Any) -> Reply:
            time.sleep(delay_s)
            return reply
        return slow if delay_s else reply
    replies = [Reply(tool_calls=(ToolCall("read_file", {"path": f"f{i % 20}.txt"}),))
               for i in range(rounds - 1)]
    return [step(r) for r in [*replies, call("finish", summary="done")]]


def measure(rounds: int, delay_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        workspace.mkdir()
        for index in range(20):
            (workspace / f"f{index}.txt").write_text(f"file {index}\n" * 20)
        records = scripted_run(workspace, steps(rounds, delay_s),
                               machine_without_probes(Path(tmp)), max_rounds=rounds + 5)
    transitions = [r["ts"] for r in records if r["kind"] == "transition"]
    starts = [r["ts"] for r in records if r["kind"] == "transition" and r["dest"] == "Probe"]
    return {"rounds": len(starts) + 1,
            "per_transition": stats_ms([b - a for a, b in zip(transitions, transitions[1:],
                                                              strict=False)]),
            "per_round": stats_ms([b - a for a, b in zip(starts, starts[1:], strict=False)])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--slow-rounds", type=int, default=8)
    args = parser.parse_args()
    instant = measure(args.rounds, 0.0)
    slow = measure(args.slow_rounds, 1.0)
    round_s = slow["per_round"]["median_ms"] / 1000
    share = (round_s - 1.0) / round_s
    print(f"{'model':<10} {'rounds':>6} {'transition median':>18} {'p95':>8} "
          f"{'round median':>13} {'p95':>8}")
    for label, result in (("instant", instant), ("1 s", slow)):
        t, r = result["per_transition"], result["per_round"]
        print(f"{label:<10} {result['rounds']:>6} {t['median_ms']:>15.2f} ms {t['p95_ms']:>5.2f} ms"
              f" {r['median_ms']:>10.2f} ms {r['p95_ms']:>5.1f} ms")
    print(f"\nwith a 1 s model, Jetbox's own share of a round: {share * 100:.2f} %")
    save("engine_overhead", {"instant": instant, "one_second_model": slow,
                             "jetbox_share_with_1s_model": round(share, 5)})


if __name__ == "__main__":
    main()
