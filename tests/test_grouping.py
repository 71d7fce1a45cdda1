"""The suite's own scheduling (tests/grouping.py): under `-n 2 --dist loadgroup` a module
named there runs on one worker, and the other tests still spread over both."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.grouping import ONE_WORKER

pytestmark = pytest.mark.slow  # two xdist workers start: seconds


def test_a_grouped_module_runs_on_one_worker_and_the_rest_spreads(tmp_path: Path) -> None:
    pytest.importorskip("xdist", reason="pytest-xdist is not installed (the dev extra)")
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "conftest.py").write_text(
        "from tests.grouping import pytest_xdist_make_scheduler  # noqa: F401\n")
    # The group is quick and the rest slow, so the group's worker is free for the rest
    # at once: xdist gives a worker more only when it has at most two tests left, and with
    # a slow group the other worker could drain the queue alone (that is not a failure).
    body = "import time\n\nimport pytest\n\n\n@pytest.mark.parametrize('n', range(8))\n" \
           "def test_n(n):\n    time.sleep({})\n"
    grouped = Path(ONE_WORKER[0]).name
    for name, seconds in ((grouped, 0), ("test_spread.py", 0.2)):
        (tests / name).write_text(body.format(seconds))
    done = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup",
                           "-v", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                           "tests"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": f"{ROOT}", "PATH": "/usr/bin:/bin",
                               "PYTHONDONTWRITEBYTECODE": "1"}, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    workers: dict[str, set[str]] = {grouped: set(), "test_spread.py": set()}
    for worker, module in re.findall(r"\[(gw\d)\].*PASSED tests/(test_\w+\.py)::", done.stdout):
        workers[module].add(worker)
    assert len(workers[grouped]) == 1, done.stdout
    assert workers["test_spread.py"] == {"gw0", "gw1"}, done.stdout
