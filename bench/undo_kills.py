"""Undo survival: `jetbox undo` killed with SIGKILL at random moments, then run again, must
leave the project exactly as it was before the run (every file's bytes and mode, `git status`
and `git diff`), with the undo recorded once.

The run is made by Jetbox's own toolbox on a real project (pyproject-metadata, vendored):
edits and overwrites of tracked files, new files in new folders, and a command that deletes,
rewrites and chmods files.

    python bench/undo_kills.py [--kills 60] [--files 150] [--seed 2026]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import save  # noqa: E402
from jetbox.engine.start import own_files  # noqa: E402
from jetbox.exec.gitrepo import exclude_own_files  # noqa: E402
from jetbox.store.history import RUN_CLOSED, UNDO_START  # noqa: E402
from jetbox.store.kinds import RunStart  # noqa: E402
from jetbox.store.ledger import Ledger  # noqa: E402
from jetbox.store.workspace import Workspace  # noqa: E402
from jetbox.tools.toolbox import Toolbox  # noqa: E402
from tests.realprojects import unpack  # noqa: E402

OWN = {"status.txt", "agent_ledger.log", "agent.log", ".jetbox.lock", ".jetbox.lock.takeover"}


def tree(root: Path) -> dict[str, tuple[str, int]]:
    """Every file but git's and Jetbox's own: its digest and mode."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".git", ".jetbox")]
        for name in files:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if rel not in OWN:
                found[rel] = (hashlib.sha256(path.read_bytes()).hexdigest(),
                              stat.S_IMODE(path.lstat().st_mode))
    for folder, dirs, _files in os.walk(root):  # empty folders count too
        dirs[:] = [d for d in dirs if d not in (".git", ".jetbox")]
        if not os.listdir(folder):
            found[Path(folder).relative_to(root).as_posix() + "/"] = ("dir", 0)
    return found


def git_view(root: Path) -> tuple[str, str]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              check=True).stdout
    return git("status", "--porcelain"), git("diff")


def make_run(root: Path, files: int) -> None:
    """A run's worth of changes, journaled as a run journals them."""
    exclude_own_files(root, own_files(Workspace.at(root)))  # as a run's start does
    ledger = Ledger(root / "agent_ledger.log")
    ledger.append(RunStart(goal="bench"))
    tools = Toolbox(root, ledger)
    tracked = sorted(p for p in root.rglob("*.py") if ".git" not in p.parts)
    calls: list[tuple[str, dict[str, object]]] = []
    for index, path in enumerate(tracked):
        rel = path.relative_to(root).as_posix()
        calls.append(("write_file", {"path": rel, "content": f"# replaced {index}\n"}))
    for index in range(files):
        calls.append(("write_file", {"path": f"new/d{index % 7}/f{index}.txt",
                                     "content": f"new {index}\n" * 20}))
    script = ("import pathlib\n\npathlib.Path('LICENSE').unlink()\n"
              "pathlib.Path('README.md').write_text('rewritten\\n')\n"
              "pathlib.Path('pyproject.toml').chmod(0o600)\n")
    calls += [("write_file", {"path": "cleanup.py", "content": script}),
              ("run_cmd", {"cmd": ["python", "cleanup.py"]}),
              ("edit_file", {"path": "docs/changelog.md", "old": "# Changelog", "new": "# C"})]
    for name, arguments in calls:
        result = tools.dispatch(name, arguments)
        if not result.ok:
            raise RuntimeError(f"{name} {arguments}: {result.output}")


def undo(folder: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "jetbox", "undo", "-w", str(folder)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def where(folder: Path) -> str:
    kinds = [r.kind for r in Ledger(folder / "agent_ledger.log").current_run()]
    if RUN_CLOSED in kinds:
        return "after the undo"
    return "mid-undo" if UNDO_START in kinds else "before the plan"


def planned(folder: Path) -> bool:
    """Whether the undo's plan is journaled (the ledger's tail names it)."""
    with open(folder / "agent_ledger.log", "rb") as handle:
        handle.seek(max(0, handle.seek(0, os.SEEK_END) - 65536))
        return b'"undo_start"' in handle.read()


def wait_for_plan(folder: Path, child: subprocess.Popen[bytes], limit_s: float) -> float:
    started = time.monotonic()
    while not planned(folder) and child.poll() is None and \
            time.monotonic() - started < limit_s:
        time.sleep(0.001)
    return time.monotonic() - started


def trial(template: Path, folder: Path, delay_s: float, expected: tuple,
          after_plan: bool) -> tuple[str, bool]:
    """Kill an undo `delay_s` after it starts (or after its plan is journaled), finish it
    with a second undo, and check the result is exact."""
    shutil.copytree(template, folder, symlinks=True)
    child = undo(folder)
    if after_plan:
        wait_for_plan(folder, child, 30.0)
    time.sleep(delay_s)
    child.send_signal(signal.SIGKILL)
    child.wait()
    landed = where(folder)
    finish = undo(folder)
    _, err = finish.communicate()
    kinds = [r.kind for r in Ledger(folder / "agent_ledger.log").current_run()]
    again = subprocess.run([sys.executable, "-m", "jetbox", "undo", "-w", str(folder)],
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                           text=True, check=False)
    exact = (finish.returncode == 0 and (tree(folder), git_view(folder)) == expected
             and kinds.count(RUN_CLOSED) == 1 and kinds.count(UNDO_START) == 1
             and again.stdout.startswith("nothing to undo"))
    if not exact:
        print(f"NOT EXACT in {folder} ({landed}): {err.decode(errors='replace')[-300:]}")
    shutil.rmtree(folder) if exact else None
    return landed, exact


def uninterrupted(template: Path, folder: Path, expected: tuple,
                  ) -> tuple[bool, float, float]:
    """One undo left to finish: whether it is exact, when its plan was journaled and when
    it ended (seconds from its start)."""
    shutil.copytree(template, folder, symlinks=True)
    started = time.monotonic()
    child = undo(folder)
    plan_s = wait_for_plan(folder, child, 60.0)
    code = child.wait()
    elapsed = time.monotonic() - started
    return code == 0 and (tree(folder), git_view(folder)) == expected, plan_s, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--files", type=int, default=150, help="new files the run creates")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        project = unpack("a", Path(tmp) / "project")
        expected = (tree(project), git_view(project))
        make_run(project, args.files)
        changed = len(expected[0].keys() ^ tree(project).keys())
        exact, plan_s, full_s = uninterrupted(project, Path(tmp) / "uninterrupted", expected)
        results = []
        for i in range(args.kills):  # a quarter anywhere, the rest while files are restored
            anywhere = i % 4 == 0
            delay = rng.uniform(0, full_s) if anywhere else rng.uniform(0, full_s - plan_s)
            results.append(trial(project, Path(tmp) / f"t{i}", delay, expected, not anywhere))
    table = Counter(results)
    print(f"uninterrupted undo: exact={exact}, plan journaled at {plan_s:.2f} s, done at "
          f"{full_s:.2f} s (process start included); "
          f"the run: {args.files} new files, {changed} paths added or removed in all")
    print(f"{'kill landed':<18} {'kills':>6} {'exact after re-run':>19}")
    for place in ("before the plan", "mid-undo", "after the undo"):
        total = sum(n for (p, _), n in table.items() if p == place)
        good = table[(place, True)]
        print(f"{place:<18} {total:>6} {good:>13}/{total:<5}")
    good = sum(ok for _, ok in results)
    print(f"{'all':<18} {len(results):>6} {good:>13}/{len(results):<5}")
    save("undo_kills", {"kills": len(results), "exact": good,
                        "by_place": {f"{p} {ok}": n for (p, ok), n in table.items()}})
    sys.exit(0 if good == len(results) and exact else 1)


if __name__ == "__main__":
    main()
