"""Context growth: Jetbox's prompt bytes against an append-only agent's over the same rounds.

Runs a scripted model through the real machine and the offline Ollama, then rebuilds the
requests an append-only agent (mini-swe-agent's way: every reply and whole result kept) would
send for the same rounds, with the same tools, system prompt and goal. Compares the total
uncached bytes (what follows the longest common prefix with the previous request, summed;
for an append-only agent that is its final request) and the largest request. Exits 1 when a
figure is above the goal for 25 or 100 rounds. Writes bench/results/context_growth.json.

With mini-swe-agent 2.4.6 installed (`pip install -e ".[peer]"`), it also runs the real peer
on the same rounds (bench/peer.py: each call as the shell command its template suggests)
and holds Jetbox to the goals against it as well.

    python bench/context_growth.py [--rounds 25 100] [--num-ctx 8192] [--table]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import peer  # noqa: E402
from bench.common import save  # noqa: E402
from jetbox.cli import main  # noqa: E402
from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn  # noqa: E402
from jetbox.spec.compaction import CompactionPolicy  # noqa: E402

GOAL = "Grow a package of small helper modules, each with a docstring, keeping tests green."


def script(rounds: int) -> list[Turn]:
    """A fixed sequence: write a module, read it back, run the tests; repeat."""
    turns: list[Turn] = []
    for index in range(rounds):
        k = index // 3
        if index % 3 == 0:
            body = "\n".join(f"def f{k}_{j}(x: int) -> int:\n    \"\"\"Step {j} of helper {k}."
                             f"\"\"\"\n    return x + {j}\n\n" for j in range(5))
            call = Call("write_file", {"path": f"pkg/mod{k}.py", "content": f'"""Helpers {k}."""'
                                       f"\n\n\n{body}".rstrip() + "\n"})
        elif index % 3 == 1:
            call = Call("read_file", {"path": f"pkg/mod{k}.py"})
        else:
            call = Call("run_cmd", {"cmd": ["pytest", "-q"]})
        turns.append(Turn(thinking=f"Round {index + 1}: next step.", calls=(call,)))
    return turns


def machine_text(policy: dict[str, Any]) -> str:
    text = (ROOT / "jetbox/machine.yaml").read_text(encoding="utf-8")
    start = text.index("compaction:")
    end = text.index("\n\n", start)
    lines = "\n".join(f"  {key}: {value}" for key, value in policy.items())
    return text[:start] + "compaction:\n" + lines + text[end:]


def serialized(request: Any) -> str:
    return json.dumps({"tools": request.raw.get("tools"), "messages": request.raw["messages"]},
                      ensure_ascii=False)


def common_prefix(a: str, b: str) -> int:
    limit = min(len(a), len(b))
    for index in range(limit):
        if a[index] != b[index]:
            return index
    return limit


def seed(workspace: Path) -> None:
    (workspace / "pkg").mkdir(parents=True)
    (workspace / "pkg" / "__init__.py").write_text('"""A package."""\n')
    (workspace / "tests").mkdir()
    (workspace / "tests" / "test_pkg.py").write_text(
        '"""Tests."""\n\nimport pkg\n\n\ndef test_pkg() -> None:\n    assert pkg.__doc__\n')


def record_run(folder: Path, rounds: int, policy: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """Jetbox's requests as sent (JSON), and its ledger's tool results."""
    workspace = folder / "ws"
    seed(workspace)
    machine = folder / "machine.yaml"
    machine.write_text(machine_text(policy), encoding="utf-8")
    with OfflineOllama(ScriptResponder(script(rounds))) as server:
        code = main(["run", GOAL, "-w", str(workspace), "--host", server.host, "--machine",
                     str(machine), "--max-rounds", str(rounds), "--sandbox", "none", "--quiet"],
                    stdout=io.StringIO(), stderr=io.StringIO())
        if code not in (0, 3):
            raise RuntimeError(f"scripted run failed with exit {code}")
        requests = [serialized(r) for r in server.requests]
    ledger = (workspace / "agent_ledger.log").read_text(encoding="utf-8").splitlines()
    results = [json.loads(line) for line in ledger]
    return requests, [r for r in results if r["kind"] == "tool_result"]


def append_only(first: str, turns: list[Turn], results: list[Any]) -> list[str]:
    """The requests of an append-only agent over the same rounds: Jetbox's first request
    (tools, system prompt, goal), then every round's reply and its whole results, kept."""
    data = json.loads(first)
    messages = [m for m in data["messages"] if m["role"] == "system"][:1] + \
        [m for m in data["messages"] if m["content"].startswith("Goal: ")][:1]
    by_round: dict[int, list[Any]] = {}
    for result in results:
        by_round.setdefault(result["round"], []).append(result)
    requests = []
    for turn, round_results in zip(turns, by_round.values(), strict=False):
        requests.append(json.dumps({"tools": data["tools"], "messages": messages},
                                   ensure_ascii=False))
        calls = [{"function": {"name": c.name, "arguments": c.arguments}} for c in turn.calls]
        messages = [*messages, {"role": "assistant", "content": turn.content,
                                "thinking": turn.thinking, "tool_calls": calls},
                    *({"role": "tool", "content": r["output"], "tool_name": r["name"]}
                      for r in round_results)]
    return requests


def size(request: str) -> int:
    return len(request.encode("utf-8"))


@dataclass(frozen=True)
class Growth:
    rounds: int
    budget_chars: int
    sizes: list[int]
    baseline_sizes: list[int]
    new_chars: list[int]
    prefix_chars: int
    prefix_identical: bool
    largest: int
    baseline_final: int
    mean_new: float
    baseline_growth: float
    total_uncached: int  # bytes after the longest common prefix with the previous request
    peer_total: int | None = None  # mini-swe-agent's, run for real on the same rounds
    peer_peak: int | None = None

    @property
    def largest_ratio(self) -> float:
        return self.largest / self.baseline_final

    @property
    def new_ratio(self) -> float:
        return self.mean_new / self.baseline_growth

    @property
    def total_ratio(self) -> float:
        """Against the append-only agent, whose uncached total is its final request."""
        return self.total_uncached / self.baseline_final


def prefix_of(request: str) -> str:
    data = json.loads(request)
    return json.dumps({"tools": data["tools"], "messages": data["messages"][:2]})


def uncached(requests: list[str]) -> list[int]:
    encoded = [r.encode("utf-8") for r in requests]
    pairs = zip(encoded, encoded[1:], strict=False)
    return [len(encoded[0])] + [len(b) - common_prefix(a, b) for a, b in pairs]


def peer_run(rounds: int) -> list[str]:
    """mini-swe-agent's first `rounds` requests, its scripted model taking the same steps."""
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        seed(workspace)
        sent = peer.requests(workspace, ScriptResponder(peer.commands(script(rounds))), GOAL)
    return [json.dumps(r, ensure_ascii=False) for r in sent[:rounds]]


def measure(rounds: int = 30, num_ctx: int = 8192, with_peer: bool = False) -> Growth:
    policy = CompactionPolicy()
    with tempfile.TemporaryDirectory() as tmp:
        ours, results = record_run(Path(tmp) / "ours", rounds, asdict(policy))
    theirs = peer_run(len(ours)) if with_peer else []
    full = append_only(ours[0], script(rounds), results)
    new = uncached(ours)
    prefixes = {prefix_of(r) for r in ours}
    return Growth(
        rounds=len(ours), budget_chars=policy.budget_chars(num_ctx),
        sizes=[size(r) for r in ours], baseline_sizes=[size(r) for r in full],
        new_chars=new, prefix_chars=len(next(iter(prefixes))),
        prefix_identical=len(prefixes) == 1 and all(
            r.startswith(ours[0][:common_prefix(ours[0], ours[-1])]) for r in ours),
        largest=max(size(r) for r in ours), baseline_final=size(full[-1]),
        mean_new=statistics.mean(new[1:]),
        baseline_growth=(size(full[-1]) - size(full[0])) / (len(full) - 1),
        total_uncached=sum(new),
        peer_total=sum(uncached(theirs)) if theirs else None,
        peer_peak=max(size(r) for r in theirs) if theirs else None,
    )


GOALS = {25: (1.0, 0.5), 100: (1.0, 0.3)}  # rounds: (total uncached, peak) vs append-only


def report(growth: Growth, table: bool) -> bool:
    """Print one run's figures; whether they meet the goals for its length (if it has some)."""
    if table:
        print(f"{'round':>5} {'jetbox bytes':>13} {'uncached':>9} {'append-only':>12}")
        for index, (ours, new, full) in enumerate(zip(growth.sizes, growth.new_chars,
                                                      growth.baseline_sizes, strict=True), 1):
            print(f"{index:>5} {ours:>13} {new:>9} {full:>12}")
    total_goal, peak_goal = GOALS.get(growth.rounds, (float("inf"), float("inf")))
    ok = growth.total_ratio <= total_goal and growth.largest_ratio <= peak_goal
    if growth.peer_total and growth.peer_peak:
        total, peak = (growth.total_uncached / growth.peer_total,
                       growth.largest / growth.peer_peak)
        ok = ok and total <= total_goal and peak <= peak_goal
        print(f"{growth.rounds} requests, {peer.PEER} {peer.VERSION} run for real: total "
              f"uncached {growth.peer_total:,} B, peak {growth.peer_peak:,} B; Jetbox's are "
              f"{total:.2f}x and {peak:.2f}x (goals <= {total_goal} and <= {peak_goal})")
    print(f"{growth.rounds} requests: total uncached {growth.total_uncached:,} B = "
          f"{growth.total_ratio:.2f}x the append-only agent's {growth.baseline_final:,} B "
          f"(goal <= {total_goal}); peak {growth.largest:,} B = {growth.largest_ratio:.2f}x "
          f"(goal <= {peak_goal}); stable prefix {growth.prefix_chars:,} chars, identical: "
          f"{growth.prefix_identical}" + ("" if ok else "  ABOVE THE GOAL"))
    return ok


def main_cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, nargs="*", default=[25, 100])
    parser.add_argument("--num-ctx", type=int, default=8192)
    parser.add_argument("--table", action="store_true", help="every request's sizes")
    args = parser.parse_args()
    reason = peer.missing()
    if reason:
        print(f"{reason}: comparing with the append-only transcript only")
    results, ok = {}, True
    for rounds in args.rounds:
        growth = measure(rounds, args.num_ctx, with_peer=reason is None)
        ok = report(growth, args.table) and ok
        results[str(rounds)] = {**asdict(growth), "largest_ratio": growth.largest_ratio,
                                "total_ratio": growth.total_ratio}
    save("context_growth", results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main_cli())
