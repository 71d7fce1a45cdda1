"""kill -9 at every transition and every ledger append: resume equals an uninterrupted run.

The matrix kills tests/crashkit.py's SCRIPT run (data probes, a scripted model: a write, a
refused finish, an edit with a command, the finish) at every point of crashkit.MATRIX, in
processes forked from a Python that has imported Jetbox (tests/forkserver.py); the quick
tier draws one point of it (test_crash_sample.py). The seed's mathx run with real ruff and
pytest, started as `python -m jetbox`, is killed before every state in
tests/test_resume_kill.py and, with multiple kills and torn lines, below."""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.crashkit import (
    MATRIX,
    SCRIPT_APPENDS,
    Outcome,
    crash_and_resume,
    scripted_crash_and_resume,
)

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX SIGKILL"),
              pytest.mark.slow]  # left out of the quick `pytest -m "not slow"`


@pytest.fixture(scope="session")  # once per worker (a module scope ends between its tests)
def reference(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    return scripted_crash_and_resume(tmp_path_factory.mktemp("reference") / "ws", [])


@pytest.fixture(scope="session")  # once per worker (a module scope ends between its tests)
def mathx_reference(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    return crash_and_resume(tmp_path_factory.mktemp("mathx") / "ws", [])


def assert_same_as_reference(result: Outcome, reference: Outcome, label: str) -> None:
    assert result.state == "Done", label
    assert result.files == reference.files, label
    assert result.writes == reference.writes, f"{label}: a write was intended twice or lost"
    # One Ask per round: a second reply in a round means a journaled one was asked again.
    assert len(set(result.reply_rounds)) == result.replies, f"{label}: a reply was asked twice"
    assert result.replies == reference.replies, f"{label}: the model was asked more often"


def run_all(tmp_path: Path, plans: dict[str, list[str]],
            scenario: Callable[[Path, list[str]], Outcome] = scripted_crash_and_resume
            ) -> dict[str, Outcome]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {label: pool.submit(scenario, tmp_path / f"ws{i}", points)
                   for i, (label, points) in enumerate(plans.items())}
        return {label: future.result() for label, future in futures.items()}


def test_reference_run_is_what_the_guarantees_compare_against(reference: Outcome) -> None:
    assert reference.state == "Done" and reference.kills == 0
    assert set(reference.files) == {"hello.py", "test_hello.py"}
    assert reference.replies == 4 and [path for path, _ in reference.writes] == ["hello.py"] * 2
    # The matrix (and the quick tier's draw from it) names every append but the last.
    assert reference.appends == SCRIPT_APPENDS


# One test per point, so the workers share them out (JETBOX_CRASH_STEP=n: every n-th).
@pytest.mark.parametrize("point", MATRIX[::int(os.environ.get("JETBOX_CRASH_STEP", "1"))])
def test_kill_at_every_point_of_the_matrix(point: str, tmp_path: Path,
                                           reference: Outcome) -> None:
    """Before every state (round 2) and Done, and after every ledger append but the last."""
    result = scripted_crash_and_resume(tmp_path / "ws", [point])
    assert result.kills == 1, f"{point}: the run was not killed there"
    assert_same_as_reference(result, reference, point)


def test_kill_between_status_txt_written_in_place_and_cut(tmp_path: Path,
                                                         reference: Outcome) -> None:
    """status.txt is rewritten in place: a kill before the cut leaves the new text and blank
    lines, which resume reads as Jetbox's own text (no `status_edited`), never a mix."""
    plans = {f"kill before cut {n}": [f"kill:status#{n}"] for n in (1, 4, 9, 14, 22)}
    for index, (label, result) in enumerate(run_all(tmp_path, plans).items()):
        assert result.kills == 1, label
        assert_same_as_reference(result, reference, label)
        ledger = (tmp_path / f"ws{index}" / "agent_ledger.log").read_text(encoding="utf-8")
        assert '"kind": "status_edited"' not in ledger, label


def test_torn_ledger_line_at_random_appends_is_trimmed_and_resumed(
        tmp_path: Path, reference: Outcome) -> None:
    rng = random.Random(7)
    plans = {f"tear append {n}": [f"tear:ledger#{n}"]
             for n in sorted(rng.sample(range(2, reference.appends), 4))}
    for label, result in run_all(tmp_path, plans).items():
        assert result.kills == 1, label
        assert_same_as_reference(result, reference, label)


def test_random_kills_survived(tmp_path: Path, reference: Outcome) -> None:
    """Seeded: 1-3 kills per run at random appends; JETBOX_CRASH_RANDOM sets the run count."""
    rng = random.Random(int(os.environ.get("JETBOX_CRASH_SEED", "2026")))
    count = int(os.environ.get("JETBOX_CRASH_RANDOM", "4"))
    plans = {}
    for i in range(count):
        points = [f"kill:ledger#{rng.randint(1, 14)}" for _ in range(rng.randint(1, 3))]
        plans[f"random {i}: {points}"] = points
    results = run_all(tmp_path, plans)
    for label, result in results.items():
        assert_same_as_reference(result, reference, label)
    print(f"survived {len(results)} randomized crash runs, "
          f"{sum(r.kills for r in results.values())} kills")


def test_the_mathx_run_with_real_probes_survives_kills_and_a_torn_line(
        tmp_path: Path, mathx_reference: Outcome) -> None:
    """The seed's goal, MathxSolver and real ruff and pytest: two kills in one run (in its
    command's round), and a torn line, each resumed to the uninterrupted end."""
    assert mathx_reference.state == "Done" and mathx_reference.replies == 4
    plans = {"two kills": ["kill:ledger#20", "kill:ledger#9"],
             "torn line": [f"tear:ledger#{mathx_reference.appends // 2}"]}
    for label, result in run_all(tmp_path, plans, crash_and_resume).items():
        assert result.kills >= 1, label
        assert_same_as_reference(result, mathx_reference, label)


def test_a_write_error_is_a_failed_result_closed_in_the_ledger(workspace: Path) -> None:
    import json

    from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
    from tests.conftest import run_cli

    (workspace / "blocker").write_text("a file where a folder is needed")
    script = ScriptResponder([Turn(calls=(Call("write_file", {"path": "blocker/mod.py",
                                                              "content": "x = 1\n"}),))])
    with OfflineOllama(script) as server:
        result = run_cli("run", "write a module", "-w", str(workspace), "--host", server.host,
                         "--sandbox", "none", "--max-rounds", "1")
    assert result.code == 3, result.err  # the round limit, not a crash
    records = [json.loads(x) for x in (workspace / "agent_ledger.log").read_text().splitlines()]
    # no intent is left open (the write fails before Jetbox keeps a copy, or its intent is
    # closed as failed): a resume never replays it
    closing = {r.get("intent"): r for r in records if r["kind"] == "result"}
    intents = [r for r in records if r["kind"] == "intent"]
    assert all(i["seq"] in closing and closing[i["seq"]]["ok"] is False for i in intents)
    told = next(r for r in records if r["kind"] == "tool_result")
    assert not told["ok"] and "blocker/mod.py" in told["output"]
    assert (workspace / "blocker").read_text() == "a file where a folder is needed"
