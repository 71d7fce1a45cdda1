"""Probe time on a real project with a slow suite: a one-line fix made in five edits, with
the whole suite run after every edit (probe_focus off: Jetbox before issue 23) and with
focused probes (the default).

The project is pyproject-metadata 0.12.1 (vendored in tests/projects) with its planted bug
and one added test module of slow tests (each sleeps, standing for slow integration tests
of a part the fix does not touch: they import nothing of the package). The scripted model
makes four edits that do not fix the bug yet (comments in the function holding it), then
the fix, then finishes. Probe's wall time per round is read from the ledger.

    python bench/probe_time.py [--slow-tests 8] [--slow-s 4]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from common import ROOT, save, scripted_run

from jetbox.model.base import call
from tests.realprojects import PROJECTS, plant_bug, unpack

SLOW = '''"""Slow tests of another part of the project (each stands for seconds of real work)."""

import time

import pytest


@pytest.mark.parametrize("case", range({n}))
def test_slow_integration(case: int) -> None:
    time.sleep({s})
    assert case >= 0
'''


def steps() -> list[Any]:
    bug = PROJECTS["a"].bug
    fix = call("edit_file", path=bug.path, old=bug.broken, new=bug.original)
    return [*_renames(bug.path), fix, call("finish", summary="fixed the Project-URL separator")]


def _renames(path: str) -> list[Any]:
    """Four edits that change the file but not its behaviour: a comment, renamed each time."""
    names = ["'Obsoletes-Dist'", "'Obsoletes-Dist' (a)", "'Obsoletes-Dist' (b)",
             "'Obsoletes-Dist' (c)", "'Obsoletes-Dist' (d)"]
    return [call("edit_file", path=path, old=f"        # skip {a}\n", new=f"        # skip {b}\n")
            for a, b in zip(names, names[1:], strict=False)]


def probe_seconds(records: list[dict[str, Any]]) -> list[float]:
    """Wall time of each visit to Probe: from entering it to leaving it."""
    times, entered = [], records[0]["ts"]
    for record in records:
        if record["kind"] == "transition" and record["dest"] == "Probe":
            entered = record["ts"]
        if record["kind"] == "transition" and record["source"] == "Probe":
            times.append(record["ts"] - entered)
    return times


def measure(focus: bool, slow_tests: int, slow_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = unpack("a", Path(tmp))
        (root / "tests" / "test_slow_integration.py").write_text(
            SLOW.format(n=slow_tests, s=slow_s), encoding="utf-8")
        plant_bug("a", root)
        records = scripted_run(root, steps(), max_rounds=20, probe_focus=focus)
    times = probe_seconds(records)
    done = any(r["kind"] == "transition" and r["dest"] == "Done" for r in records)
    verdicts = [r["verdict"] for r in records if r["kind"] == "probe"]
    return {"probe_focus": focus, "done": done, "probes_s": [round(t, 2) for t in times],
            "total_s": round(sum(times), 2), "verdicts": verdicts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow-tests", type=int, default=8)
    parser.add_argument("--slow-s", type=float, default=4.0)
    args = parser.parse_args()
    before = measure(False, args.slow_tests, args.slow_s)
    after = measure(True, args.slow_tests, args.slow_s)
    print(f"{'probes':<22} {'done':>5} {'total':>8}  per round (s)")
    for label, result in (("whole suite each time", before), ("focused", after)):
        print(f"{label:<22} {str(result['done']):>5} {result['total_s']:>6.1f} s  "
              f"{', '.join(f'{t:.1f}' for t in result['probes_s'])}")
    share = after["total_s"] / before["total_s"]
    between = sum(after["probes_s"][1:-1]) / sum(before["probes_s"][1:-1])
    floor = 2 / len(before["probes_s"])
    print(f"\nprobes between the edits (all but the first and the finish's): "
          f"{between * 100:.1f} % of the time they took with the whole suite (goal <= 30 %)")
    print(f"every probe of the run: {share * 100:.0f} % (the first and the finish's still run "
          f"the whole suite: {floor * 100:.1f} % is the floor)")
    save("probe_time", {"before": before, "after": after, "share": round(share, 3),
                        "between_edits_share": round(between, 3), "root": str(ROOT)})
    return 0 if before["done"] and after["done"] and between <= 0.3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
