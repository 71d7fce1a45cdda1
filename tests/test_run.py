"""A whole run through the real machine, against the offline Ollama server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.offline.solvers import MathxSolver
from tests.conftest import MATHX_GOAL, ROOT, run_cli, status_fields

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow


def ledger(workspace: Path) -> list[dict]:
    path = workspace / "agent_ledger.log"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_full_run_reaches_done_and_leaves_plaintext_state(workspace: Path,
                                                          mathx_server: OfflineOllama) -> None:
    result = run_cli("run", MATHX_GOAL, "--workspace", str(workspace),
                     "--host", mathx_server.host, "--sandbox", "none")
    assert result.code == 0, result.err
    assert (workspace / "mathx" / "__init__.py").read_text().count("def add") == 1
    fields = status_fields(workspace)
    assert fields["State"] == "Done"
    assert fields["Status"].startswith("green")
    assert fields["Goal"] == MATHX_GOAL
    kinds = [r["kind"] for r in ledger(workspace)]
    assert kinds[0] == "run_start" and kinds[-1] == "config_seen"  # as the session left it
    assert kinds[-2] in ("status_written", "run_end")
    assert kinds.count("model_reply") == len(mathx_server.requests) == 4
    assert "done in round" in (workspace / "agent.log").read_text(encoding="utf-8")


def test_every_transition_is_recorded_and_status_names_the_next_state(
        workspace: Path, mathx_server: OfflineOllama) -> None:
    run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
            "--sandbox", "none")
    transitions = [r for r in ledger(workspace) if r["kind"] == "transition"]
    pairs = [(t["source"], t["dest"]) for t in transitions]
    assert pairs[:7] == [("Probe", "Compact"), ("Compact", "Plan"), ("Plan", "Ask"),
                         ("Ask", "Calls"), ("Calls", "Reflect"), ("Reflect", "Persist"),
                         ("Persist", "Probe")]
    assert pairs[-1] == ("Probe", "Done")
    rounds = [t["round"] for t in transitions if t["dest"] == "Probe"]
    assert rounds == list(range(2, 2 + len(rounds)))


def test_round_limit_pauses_with_exit_3_and_the_next_run_resumes(
        workspace: Path, mathx_server: OfflineOllama) -> None:
    first = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                    "--max-rounds", "2", "--sandbox", "none")
    assert first.code == 3, first.err
    fields = status_fields(workspace)
    assert fields["State"] == "Probe" and fields["Round"] == "3"
    assert "paused: round limit" in fields["Status"]
    again = run_cli("run", "-w", str(workspace), "--host", mathx_server.host, "--sandbox", "none")
    assert again.code == 0, again.err
    assert status_fields(workspace)["State"] == "Done"
    assert [r["kind"] for r in ledger(workspace)].count("run_start") == 1


def test_timebox_pauses_with_exit_3(workspace: Path, mathx_server: OfflineOllama) -> None:
    result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                     "--timebox", "0.001", "--sandbox", "none")
    assert result.code == 3
    assert "paused: timebox" in status_fields(workspace)["Status"]


def test_a_person_edit_of_next_reaches_the_model(workspace: Path,
                                                 mathx_server: OfflineOllama) -> None:
    run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
            "--max-rounds", "1", "--sandbox", "none")
    status = workspace / "status.txt"
    text = status.read_text(encoding="utf-8")
    edited = "\n".join(line for line in text.splitlines() if not line.startswith("Next:"))
    status.write_text(edited + "\nNext: also document add in README.md\r\n", encoding="utf-8")
    run_cli("run", "-w", str(workspace), "--host", mathx_server.host, "--max-rounds", "1",
            "--sandbox", "none")
    prompt = json.dumps(mathx_server.requests[-1].messages)
    assert "also document add in README.md" in prompt
    assert any(r["kind"] == "status_edited" for r in ledger(workspace))


def test_invalid_state_line_is_a_clear_error(workspace: Path, mathx_server: OfflineOllama) -> None:
    (workspace / "status.txt").write_text(f"Goal: {MATHX_GOAL}\nState: Dancing\nRound: 2\n")
    result = run_cli("run", "-w", str(workspace), "--host", mathx_server.host)
    assert result.code == 2
    assert "State: Dancing" in result.err and "--fresh" in result.err
    assert "Traceback" not in result.err


def test_a_different_goal_keeps_the_unfinished_run_until_fresh_then_keeps_its_status(
        workspace: Path, mathx_server: OfflineOllama) -> None:
    run_cli("run", "Old goal", "-w", str(workspace), "--host", mathx_server.host,
            "--max-rounds", "1", "--sandbox", "none")
    kept = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                   "--sandbox", "none")
    assert kept.code == 2 and "'Old goal'" in kept.err and "--fresh" in kept.err
    result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
                     "--sandbox", "none", "--fresh")
    assert result.code == 0, result.err
    assert "the previous run is set aside" in result.err
    records = ledger(workspace)
    superseded = [r for r in records if r["kind"] == "run_superseded"]
    assert len(superseded) == 1 and "Goal: Old goal" in superseded[0]["status"]
    assert [r["kind"] for r in records].count("run_start") == 2


def test_fresh_starts_over_at_round_1(workspace: Path, mathx_server: OfflineOllama) -> None:
    run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
            "--max-rounds", "2", "--sandbox", "none")
    assert status_fields(workspace)["Round"] == "3"
    run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", mathx_server.host,
            "--max-rounds", "1", "--fresh", "--sandbox", "none")
    assert status_fields(workspace)["Round"] == "2"


def test_no_goal_and_nothing_to_resume_is_a_usage_error(workspace: Path) -> None:
    result = run_cli("run", "-w", str(workspace))
    assert result.code == 2 and "no goal given" in result.err


def test_early_finish_is_refused_until_probes_are_green(workspace: Path) -> None:
    script = ScriptResponder([
        Turn(calls=(Call("finish", {"summary": "nothing to do"}),)),
        Turn(calls=(Call("write_file", {"path": "mathx/__init__.py",
                                        "content": "def add(a, b):\n    return a + b\n"}),)),
        Turn(calls=(Call("write_file", {"path": "tests/test_add.py", "content":
                                        "from mathx import add\n\n\ndef test_add():\n"
                                        "    assert add(1, 2) == 3\n"}),)),
        Turn(calls=(Call("finish", {"summary": "done"}),)),
    ])
    with OfflineOllama(script) as server:
        result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", server.host,
                         "--sandbox", "none")
        second_prompt = json.dumps(server.requests[1].messages)
    assert result.code == 0, result.err
    refused = [r for r in ledger(workspace) if r["kind"] == "finish_refused"]
    assert len(refused) == 1
    assert "finish was refused" in second_prompt


def test_the_seed_goal_works_against_the_demo_package(tmp_path: Path) -> None:
    workspace = tmp_path / "jetbox-copy"
    shutil.copytree(ROOT / "mathx", workspace / "mathx")
    (workspace / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "test_mathx.py", workspace / "tests")
    shutil.copy(ROOT / "pyproject.toml", workspace)
    before = (ROOT / "mathx" / "__init__.py").read_text()
    with OfflineOllama(MathxSolver(workspace)) as server:
        # The seed's "Create mathx.add ..." asks for a change, which a run that changes
        # nothing does not meet (tests/test_verdict_attacks.py); this goal asks for none.
        result = run_cli("run", "Check that mathx.add is tested, then make ruff and pytest "
                         "pass.", "-w", str(workspace), "--host", server.host,
                         "--sandbox", "none")
    assert result.code == 0, result.err
    assert "pytest: 2 passed" in result.err
    assert (workspace / "mathx" / "__init__.py").read_text() == before  # already there


def test_unreachable_server_exits_4_and_keeps_the_state(workspace: Path) -> None:
    result = run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", "http://127.0.0.1:9",
                     "--sandbox", "none")
    assert result.code == 4
    assert "cannot reach Ollama at http://127.0.0.1:9" in result.err
    # Checked before the baseline probe (tests/test_checks_first.py): the run starts there.
    assert status_fields(workspace)["State"] == "Probe"
