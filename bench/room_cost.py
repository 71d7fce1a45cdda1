"""What the verdict's clean room (jetbox/probes/room.py) adds to a run.

Two projects: a 5,000-file tree (50 packages of 98 modules, 100 tests) and a project whose
suite takes about 30 s. For each, after the run's change (one source edit and one new test
that fails before it), the finish is judged the old way (Prober.run: the whole suite in the
workspace) and in the room (Prober.verify: the room and the baseline tree built, the original
suite in the room, ruff in both trees, the new test in both). What the room adds is the
baseline's snapshot (once per run) plus verify minus the plain probe; it is set against the
run's probe time, counted here as the two whole-suite probes every run makes at least (the
baseline and the finish). Medians of `--repeat` runs.

    python bench/room_cost.py [--repeat 3] [--slow-seconds 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import save  # noqa: E402
from jetbox.exec.interpreter import find_interpreter  # noqa: E402
from jetbox.probes import room  # noqa: E402
from jetbox.probes.runner import Prober  # noqa: E402

WHEELS = Path(__file__).resolve().parent.parent / "tests" / "projects" / "wheels"


def project_python(folder: Path) -> str:
    """A venv with only pytest, as a project has (offline, from the vendored wheels):
    Jetbox's own dev environment loads hypothesis and langsmith plugins at every start."""
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-index", "--find-links", str(WHEELS), "pytest"], check=True)
    return str(python)

MODULE = '"""Module {i}."""\n\n\ndef value_{i}(x):\n    """Return x plus {i}."""\n' \
         '    return x + {i}\n' + "".join(f"\n\ndef helper_{{i}}_{n}(x):\n    return x * {n}\n"
                                          for n in range(12))


def big_tree(root: Path) -> None:
    for p in range(50):
        package = root / f"pkg{p:02d}"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        for i in range(98):
            (package / f"mod{i:03d}.py").write_text(MODULE.format(i=i))
    tests = root / "tests"
    tests.mkdir()
    for p in range(50):
        (tests / f"test_pkg{p:02d}.py").write_text(
            f"from pkg{p:02d}.mod000 import value_0\nfrom pkg{p:02d}.mod001 import value_1\n\n\n"
            "def test_zero():\n    assert value_0(1) == 1\n\n\n"
            "def test_one():\n    assert value_1(1) == 2\n")


def slow_suite(root: Path, seconds: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_slow.py").write_text(
        "import time\n\nimport pytest\n\nfrom calc import add\n\n\n"
        f"@pytest.mark.parametrize('n', range({seconds * 2}))\n"
        "def test_slow(n):\n    time.sleep(0.5)\n    assert add(n, 1) == n + 1\n")


def change(root: Path) -> None:
    """The run's change: one source edit, one new test that fails before it."""
    target = next(root.rglob("calc.py"), None) or root / "pkg00" / "mod000.py"
    target.write_text(target.read_text() + "\n\ndef double(x):\n    return 2 * x\n")
    module = "calc" if target.name == "calc.py" else "pkg00.mod000"
    (root / "tests" / "test_new.py").write_text(
        f"from {module} import double\n\n\ndef test_double():\n    assert double(2) == 4\n")


def timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def measure(name: str, make: Callable[[Path], None], repeat: int,
            python: str) -> dict[str, float]:
    rows: dict[str, list[float]] = {"snapshot": [], "plain": [], "room": []}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch) / "ws"
            root.mkdir()
            make(root)
            prober = Prober(root, python=find_interpreter(root, python, {}))
            seconds, tree = timed(lambda: room.snapshot(root))  # noqa: B023
            rows["snapshot"].append(seconds)
            change(root)
            rows["plain"].append(timed(lambda: prober.run(None, reuse=False))[0])  # noqa: B023
            seconds, report = timed(lambda: prober.verify(str(tree)))  # noqa: B023
            assert report.room is not None and report.room.new_after, "the room ran no new test"
            rows["room"].append(seconds)
    medians = {k: statistics.median(v) for k, v in rows.items()}
    added = medians["snapshot"] + medians["room"] - medians["plain"]
    share = added / (2 * medians["plain"])
    print(f"| {name} | {medians['snapshot']:.2f} s | {medians['plain']:.2f} s | "
          f"{medians['room']:.2f} s | {added:.2f} s | {share:.1%} |")
    return {**medians, "added_s": added, "share_of_two_probes": share}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--slow-seconds", type=int, default=30)
    args = parser.parse_args()
    print("| project | snapshot (once) | finish, plain | finish, room | room adds | "
          "share of 2 whole-suite probes |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        python = project_python(Path(folder))
        results = {
            "5,000 files": measure("5,000 files", big_tree, args.repeat, python),
            f"{args.slow_seconds} s suite": measure(
                f"{args.slow_seconds} s suite",
                lambda root: slow_suite(root, args.slow_seconds), args.repeat, python),
        }
    save("room_cost", {"repeat": args.repeat, "results": results})


if __name__ == "__main__":
    main()
