"""What the snapshots undo needs cost: the time and disk of FileWatch.snapshot (before every
command and probe) on a 5,000-file tree, and on a tree holding a 100 MB file (over the
watch's copy limit: digested, not copied), and of a tool write to that file (copied first).

    python bench/undo_snapshots.py        # writes bench/results/undo_snapshots.json
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import save  # noqa: E402
from jetbox.store.objects import ObjectStore, keep_before  # noqa: E402
from jetbox.tools.watch import FileWatch  # noqa: E402

FILES = 5000
BIG_BYTES = 100 << 20  # 100 MiB


def disk(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def timed(action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return round(time.perf_counter() - started, 3)


def many_files(root: Path) -> dict[str, object]:
    for index in range(FILES):
        folder = root / f"pkg{index // 100:02}"
        folder.mkdir(exist_ok=True)
        (folder / f"mod{index:04}.py").write_text(f"VALUE = {index}\n" * 20)
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
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
        result = {"many_files": many_files(Path(one)), "big_file": big_file(Path(two))}
    save("undo_snapshots", result)
    print(result)


if __name__ == "__main__":
    main()
