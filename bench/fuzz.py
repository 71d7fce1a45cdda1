"""The property-based tests of tests/test_properties.py, run long: many more examples each.

    python bench/fuzz.py [--scale 20] [--only dispatch]

CI runs every property with the counts in tests/test_properties.py (EXAMPLES); this runs
them with those counts times --scale, and prints properties x examples x seconds. A
falsified property prints hypothesis's minimal failing example and ends with exit 1.
"""

from __future__ import annotations

import argparse
import os
import time
import traceback
from collections.abc import Callable
from typing import Any

from common import save


def counted(test: Callable[..., None]) -> list[int]:
    """Count the examples a @given test runs, through hypothesis's documented inner_test."""
    calls = [0]
    inner = test.hypothesis.inner_test  # type: ignore[attr-defined]

    def counting(*args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        inner(*args, **kwargs)

    test.hypothesis.inner_test = counting  # type: ignore[attr-defined]
    return calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=20.0,
                        help="examples = CI's count x this (default 20)")
    parser.add_argument("--only", help="run the properties whose name contains this")
    args = parser.parse_args()
    os.environ["JETBOX_FUZZ_SCALE"] = str(args.scale)  # read when the module builds settings
    from tests import test_properties as props

    tests = {name: getattr(props, name) for name in dir(props)
             if name.startswith("test_") and (args.only is None or args.only in name)}
    rows, failed = [], 0
    for name, test in tests.items():
        calls = counted(test)
        started = time.perf_counter()
        verdict = "ok"
        try:
            if name.startswith("test_dispatch"):  # its module-scoped pytest fixture
                with props.arena() as traps:
                    test(traps)
            else:
                test()
        except Exception:  # a falsified property: show hypothesis's report, keep going
            traceback.print_exc()
            verdict, failed = "FAILED", failed + 1
        rows.append((name.removeprefix("test_"), calls[0], time.perf_counter() - started,
                     verdict))
    width = max(len(r[0]) for r in rows)
    print(f"{'property':<{width}}  {'examples':>8}  {'seconds':>8}  verdict")
    for prop, examples, seconds, verdict in rows:
        print(f"{prop:<{width}}  {examples:>8}  {seconds:>8.1f}  {verdict}")
    total_examples, total_s = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"{'total':<{width}}  {total_examples:>8}  {total_s:>8.1f}")
    save("fuzz", {"scale": args.scale, "properties": [
        {"property": p, "examples": e, "seconds": round(s, 2), "verdict": v}
        for p, e, s, v in rows]})
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
