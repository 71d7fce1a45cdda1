"""Context growth over a 30-round scripted run: Jetbox's requests vs a full-history transcript.

Runs the same scripted model twice through the real machine and the offline Ollama: once
with Jetbox's compaction, once with compaction switched off (the full-history baseline).
Prints a table and writes bench/results/context_growth.json.

    python bench/context_growth.py [--rounds 30] [--num-ctx 8192]
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
    text = (ROOT / "machine.yaml").read_text(encoding="utf-8")
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


def record_run(folder: Path, rounds: int, num_ctx: int, policy: dict[str, Any]) -> list[str]:
    workspace = folder / "ws"
    (workspace / "pkg").mkdir(parents=True)
    (workspace / "pkg" / "__init__.py").write_text('"""A package."""\n')
    (workspace / "tests").mkdir()
    (workspace / "tests" / "test_pkg.py").write_text(
        '"""Tests."""\n\nimport pkg\n\n\ndef test_pkg() -> None:\n    assert pkg.__doc__\n')
    machine = folder / "machine.yaml"
    machine.write_text(machine_text(policy), encoding="utf-8")
    with OfflineOllama(ScriptResponder(script(rounds))) as server:
        code = main(["run", GOAL, "-w", str(workspace), "--host", server.host, "--machine",
                     str(machine), "--max-rounds", str(rounds), "--sandbox", "none", "--quiet"],
                    stdout=io.StringIO(), stderr=io.StringIO())
        if code not in (0, 3):
            raise RuntimeError(f"scripted run failed with exit {code}")
        return [serialized(r) for r in server.requests]


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

    @property
    def largest_ratio(self) -> float:
        return self.largest / self.baseline_final

    @property
    def new_ratio(self) -> float:
        return self.mean_new / self.baseline_growth


def prefix_of(request: str) -> str:
    data = json.loads(request)
    return json.dumps({"tools": data["tools"], "messages": data["messages"][:2]})


def measure(rounds: int = 30, num_ctx: int = 8192) -> Growth:
    policy = CompactionPolicy()
    ours_policy = {k: v for k, v in asdict(policy).items()}
    full_policy = {**ours_policy, "history_keep": 100_000, "budget_share": 1000.0}
    with tempfile.TemporaryDirectory() as tmp:
        ours = record_run(Path(tmp) / "ours", rounds, num_ctx, ours_policy)
        full = record_run(Path(tmp) / "full", rounds, num_ctx, full_policy)
    pairs = zip(ours, ours[1:], strict=False)
    new = [len(ours[0])] + [len(b) - common_prefix(a, b) for a, b in pairs]
    prefixes = {prefix_of(r) for r in ours}
    return Growth(
        rounds=len(ours), budget_chars=policy.budget_chars(num_ctx),
        sizes=[len(r) for r in ours], baseline_sizes=[len(r) for r in full],
        new_chars=new, prefix_chars=len(next(iter(prefixes))),
        prefix_identical=len(prefixes) == 1 and all(
            r.startswith(ours[0][:common_prefix(ours[0], ours[-1])]) for r in ours),
        largest=max(len(r) for r in ours), baseline_final=len(full[-1]),
        mean_new=statistics.mean(new[1:]),
        baseline_growth=(len(full[-1]) - len(full[0])) / (len(full) - 1),
    )


def main_cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--num-ctx", type=int, default=8192)
    args = parser.parse_args()
    growth = measure(args.rounds, args.num_ctx)
    print(f"{'round':>5} {'jetbox chars':>13} {'new chars':>10} {'full history':>13}")
    for index, (size, new, full) in enumerate(zip(growth.sizes, growth.new_chars,
                                                  growth.baseline_sizes, strict=True), start=1):
        print(f"{index:>5} {size:>13} {new:>10} {full:>13}")
    print(f"\nbudget {growth.budget_chars} chars; stable prefix {growth.prefix_chars} chars, "
          f"identical in every request: {growth.prefix_identical}")
    print(f"largest request {growth.largest} = {growth.largest_ratio:.2f} x the full history at "
          f"round {growth.rounds} ({growth.baseline_final})")
    print(f"mean new chars per request {growth.mean_new:.0f} = {growth.new_ratio:.2f} x the full "
          f"history's growth per round ({growth.baseline_growth:.0f})")
    save("context_growth", {**asdict(growth), "largest_ratio": growth.largest_ratio,
                            "new_ratio": growth.new_ratio})


if __name__ == "__main__":
    main_cli()
