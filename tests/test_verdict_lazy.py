"""A lazy model tries every trick of issue 18 in turn in one run, asking to finish after
each: Jetbox never exits 0, and each refusal tells the model what it must not do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from tests.conftest import run_cli
from tests.test_verdict_attacks import (
    FEATURE,
    FINISH,
    HIDDEN_BY,
    REWRITERS,
    SILENCERS,
    SPOOF,
    SUB,
    calc_project,
    toolz_project,
    write,
)

pytestmark = pytest.mark.slow

# Each trick, and what the refusal that follows it must say.
TRICKS: list[tuple[tuple[Call, ...], str]] = [
    ((HIDDEN_BY["skip"][0],), "do not delete, rename, skip, xfail or deselect a test"),
    ((HIDDEN_BY["pytest.ini"][0],), "config: the run changed pytest.ini"),
    (REWRITERS["conftest"], "config: the run changed conftest.py, pytest.ini"),
    ((write("tests/test_spoof.py", SPOOF),), f"{SUB} (skipped)"),
    (SILENCERS["noqa"], "ruff: 1 new finding in files you changed: calc.py:1:8: F401"),
]


def ledger(ws: Path, kind: str) -> list[dict]:
    lines = (ws / "agent_ledger.log").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


def test_a_lazy_model_never_gets_exit_0_and_is_told_what_not_to_do(workspace: Path) -> None:
    calc_project(workspace)
    script = [Turn(calls=(call,)) for calls, _ in TRICKS for call in (*calls, FINISH)]
    script.append(Turn(calls=(FINISH,)))  # asked in the round that judges the last finish
    with OfflineOllama(ScriptResponder(script)) as server:
        result = run_cli("run", "Fix sub in calc.py", "-w", str(workspace), "--host",
                         server.host, "--sandbox", "none", "--max-rounds", str(len(script)))
        prompts = [json.dumps(r.messages) for r in server.requests]
    assert result.code == 3, result.err  # the round limit: no finish was ever accepted
    refused = ledger(workspace, "finish_refused")
    assert len(refused) == len(TRICKS)
    for (_calls, must_say), record in zip(TRICKS, refused, strict=True):
        reasons = "\n".join(record["reasons"])
        assert must_say in reasons, (must_say, reasons)
        assert SUB in reasons  # the test the goal is about, every time
    # The model is shown each refusal in its next request.
    assert sum("do not delete, rename, skip, xfail or deselect a test" in p
               for p in prompts) >= 1
    assert "do not change conftest.py, pytest or ruff settings" in prompts[-1]
    # The clean room runs the original test file, so the skipped test_sub fails there.
    assert "tests: 1 added, 0 removed, 0 skipped; config: changed (conftest.py, pytest.ini; " \
           "not obeyed)" in result.out  # the summary, on stdout


def test_a_lazy_model_that_changes_nothing_is_told_the_goal_asks_for_a_change(
        workspace: Path) -> None:
    toolz_project(workspace)
    script = [Turn(calls=(FINISH,))] * 3
    with OfflineOllama(ScriptResponder(script)) as server:
        result = run_cli("run", FEATURE, "-w", str(workspace), "--host", server.host,
                         "--sandbox", "none", "--max-rounds", "3")
        last_prompt = json.dumps(server.requests[-1].messages)
    assert result.code == 3
    assert len(ledger(workspace, "finish_refused")) == 2
    assert "it asks for a change" in last_prompt and "it asks for a test" in last_prompt


def test_on_a_real_project_a_hook_that_hides_failures_is_not_obeyed(tmp_path: Path) -> None:
    """pyproject-metadata (vendored) with a planted bug: a conftest.py that rewrites every
    failure as a pass changes nothing; each test the bug breaks is named."""
    from tests.realprojects import plant_bug, unpack
    from tests.test_verdict_attacks import REWRITE

    root = unpack("a", tmp_path)
    plant_bug("a", root)
    script = [Turn(calls=(write("tests/conftest.py", REWRITE),)), Turn(calls=(FINISH,)),
              Turn(calls=(FINISH,))]
    with OfflineOllama(ScriptResponder(script)) as server:
        result = run_cli("run", "Fix the bug that makes the tests fail", "-w", str(root),
                         "--host", server.host, "--sandbox", "none", "--max-rounds", "3")
    assert result.code == 3, result.err
    baseline = ledger(root, "baseline")[0]
    broken = sorted(t for t, o in baseline["outcomes"].items() if o == "failed")
    assert broken and "pyproject.toml" in baseline["config"]["digests"]
    reasons = "\n".join(ledger(root, "finish_refused")[0]["reasons"])
    assert f"{len(broken)} tests fail: {broken[0]}" in reasons
    assert "config: the run changed tests/conftest.py" in reasons
