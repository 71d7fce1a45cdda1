"""What the snapshots undo needs cost: the time and disk of FileWatch.snapshot (before every
command and probe) on a 5,000-file tree, and on a tree holding a 100 MB file (over the
watch's copy limit: digested, not copied), and of a tool write to that file (copied first).
Under bwrap, also what a command's private copy of the workspace (tools/cmdcopy.py) adds to
each command on the 5,000-file tree: a command that rewrites one file, run through the
toolbox in its copy and, for comparison, in the workspace itself; medians of `--repeat`.

    python bench/undo_snapshots.py [--repeat 5]   # writes bench/results/undo_snapshots.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import save  # noqa: E402
from jetbox.exec.sandbox import bwrap_usable  # noqa: E402
from jetbox.store.kinds import RunStart  # noqa: E402
from jetbox.store.ledger import Ledger  # noqa: E402
from jetbox.store.objects import FileState, ObjectStore, keep_before  # noqa: E402
from jetbox.tools import cmdcopy  # noqa: E402
from jetbox.tools.policy import ToolPolicy  # noqa: E402
from jetbox.tools.toolbox import Toolbox  # noqa: E402
from jetbox.tools.watch import FileWatch  # noqa: E402

FILES = 5000
BIG_BYTES = 100 << 20  # 100 MiB


def disk(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def timed(action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return round(time.perf_counter() - started, 3)


def five_thousand(root: Path) -> None:
    for index in range(FILES):
        folder = root / f"pkg{index // 100:02}"
        folder.mkdir(exist_ok=True)
        (folder / f"mod{index:04}.py").write_text(f"VALUE = {index}\n" * 20)


class InTheWorkspace(Toolbox):
    """The toolbox as without a private copy: the command runs in the workspace, watched."""

    def _private_copy(self, before: dict[str, FileState]) -> cmdcopy.Built | None:
        return None


def per_command(root: Path, repeat: int) -> dict[str, object]:
    """One command (it rewrites one file) through the toolbox under bwrap, in its copy and
    in the workspace; the first of each apart (the session's first snapshot, and the copy
    built whole), then the median of the next `repeat`."""
    five_thousand(root)
    (root / "touch.py").write_text("import pathlib, time\n"
                                   "pathlib.Path('pkg00/mod0000.py').write_text(str(time.time()))\n")
    ledger = Ledger(root / "agent_ledger.log")
    ledger.append(RunStart(goal="bench"))
    policy = ToolPolicy(sandbox="bwrap")
    FileWatch(root, ObjectStore.of(root)).snapshot()  # the store filled: neither pays it
    times: dict[str, list[float]] = {"in_its_copy": [], "in_the_workspace": []}
    tools = {"in_its_copy": Toolbox(root, ledger, policy),
             "in_the_workspace": InTheWorkspace(root, ledger, policy)}
    first: dict[str, float] = {}
    for round_no in range(repeat + 1):
        for name, toolbox in tools.items():
            started = time.perf_counter()
            assert toolbox.dispatch("run_cmd", {"cmd": ["python", "touch.py"]}).ok
            if round_no:
                times[name].append(time.perf_counter() - started)
            else:
                first[name] = round(time.perf_counter() - started, 3)
    copy, plain = (statistics.median(times[n]) for n in ("in_its_copy", "in_the_workspace"))
    return {"files": FILES, "repeat": repeat, "first_command_s": first,
            "in_its_copy_median_s": round(copy, 3),
            "in_the_workspace_median_s": round(plain, 3),
            "the_copy_adds_median_s": round(copy - plain, 3)}


def many_files(root: Path) -> dict[str, object]:
    five_thousand(root)
    store = ObjectStore.of(root)
    watch = FileWatch(root, store)
    first = timed(watch.snapshot)
    again = timed(watch.snapshot)
    (root / "pkg00" / "mod0000.py").write_text("changed\n")
    one_changed = timed(watch.snapshot)
    return {"files": FILES, "first_snapshot_s": first, "unchanged_snapshot_s": again,
            "one_changed_snapshot_s": one_changed, "tree_bytes": disk(root) - disk(
                store.folder), "objects_bytes": disk(store.folder)}


def big_file(root: Path) -> dict[str, object]:
    big = root / "data.bin"
    with open(big, "wb") as handle:
        for _ in range(BIG_BYTES // (1 << 20)):
            handle.write(bytes(range(256)) * 4096)
    store = ObjectStore.of(root)
    watch = FileWatch(root, store)
    first = timed(watch.snapshot)
    again = timed(watch.snapshot)
    with open(big, "ab") as handle:
        handle.write(b"x")
    appended = timed(watch.snapshot)
    after_watch = disk(store.folder)
    copy = timed(lambda: keep_before(store, root, "data.bin"))
    return {"bytes": big.stat().st_size, "first_snapshot_s": first,
            "unchanged_snapshot_s": again, "after_1_byte_append_s": appended,
            "objects_bytes_after_snapshots": after_watch,
            "tool_write_copy_first_s": copy, "objects_bytes_after_tool_copy": disk(store.folder)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two, \
            tempfile.TemporaryDirectory() as three:
        result: dict[str, object] = {"many_files": many_files(Path(one)),
                                     "big_file": big_file(Path(two))}
        result["command_copy"] = per_command(Path(three), args.repeat) if bwrap_usable() \
            else "bwrap is not usable here: commands run in the workspace, no copy"
    save("undo_snapshots", result)
    print(result)


if __name__ == "__main__":
    main()
