"""The crash matrix, sampled for the quick tier: kill -9 at one failpoint drawn from the
whole matrix (crashkit.MATRIX: every transition and every ledger append of crashkit.SCRIPT's
run; tests/test_crash.py runs all of it in the slow tier and CI), then resume; the run ends as
an uninterrupted one does. The draw changes daily; JETBOX_CRASH_SEED repeats one, and a
failure names its seed and failpoint."""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import pytest

from tests.crashkit import MATRIX, scripted_crash_and_resume

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX SIGKILL")

SEED = int(os.environ.get("JETBOX_CRASH_SEED", str(int(time.time()) // 86400)))
SAMPLE = random.Random(SEED).choice(MATRIX)


def test_a_kill_at_a_sampled_failpoint_resumes_to_the_uninterrupted_end(tmp_path: Path) -> None:
    label = f"JETBOX_CRASH_SEED={SEED} {SAMPLE}"
    print(label)
    result = scripted_crash_and_resume(tmp_path / "ws", [SAMPLE])
    assert result.kills == 1, f"{label}: the run was not killed there"
    assert result.state == "Done", label
    assert set(result.files) == {"hello.py", "test_hello.py"}, label
    assert [path for path, _ in result.writes] == ["hello.py"] * 2, f"{label}: written twice"
    assert result.replies == 4 and result.reply_rounds == (1, 2, 3, 4), label
