"""The round keeps a small model on track: what reaches its prompt, loops, flat context."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.context_growth import Growth, measure
from jetbox.offline import Call, ChatRequest, OfflineOllama, Turn
from tests.conftest import run_cli, status_fields

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
# One worker builds the module's fixtures once (tests/grouping.py).
pytestmark = [pytest.mark.slow]

BUGGY = '"""mathx."""\n\n\ndef add(a, b):\n    """Sum."""\n    return a - b\n'
FIXED = '"""mathx."""\n\n\ndef add(a, b):\n    """Sum."""\n    return a + b\n'
TESTS = '"""Tests."""\n\nfrom mathx import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n'


def seed(workspace: Path, module: str) -> None:
    (workspace / "mathx").mkdir()
    (workspace / "mathx" / "__init__.py").write_text(module)
    (workspace / "tests").mkdir()
    (workspace / "tests" / "test_mathx.py").write_text(TESTS)


def prompt(request: ChatRequest) -> str:
    return "\n".join(str(m.get("content", "")) for m in request.messages)


class FixesOnlyWhatItSees:
    """A model that can fix the problem only if the evidence is in its prompt."""

    def __init__(self, evidence: str, fix: Call) -> None:
        self.evidence, self.fix = evidence, fix
        self.saw_evidence = False

    def __call__(self, request: ChatRequest) -> Turn:
        text = prompt(request)
        if "ruff: clean" in text.split("Probes now:")[-1] and \
                "1 passed" in text.split("Probes now:")[-1]:
            return Turn(calls=(Call("finish", {"summary": "fixed"}),))
        if self.evidence in text:
            self.saw_evidence = True
            return Turn(calls=(self.fix,))
        return Turn(calls=(Call("list_dir", {"path": "."}),))


def test_failing_assertion_text_reaches_the_model_which_fixes_the_bug(workspace: Path) -> None:
    seed(workspace, BUGGY)
    model = FixesOnlyWhatItSees("assert -1 == 5", Call("write_file", {
        "path": "mathx/__init__.py", "content": FIXED}))
    with OfflineOllama(model) as server:
        result = run_cli("run", "Fix the failing test", "-w", str(workspace), "--host",
                         server.host, "--sandbox", "none", "--max-rounds", "5")
    assert result.code == 0, result.err
    assert model.saw_evidence
    assert (workspace / "mathx" / "__init__.py").read_text() == FIXED


def test_ruff_code_reaches_the_model_which_fixes_the_lint_error(workspace: Path) -> None:
    seed(workspace, "import os\n" + FIXED)
    model = FixesOnlyWhatItSees("F401", Call("write_file", {
        "path": "mathx/__init__.py", "content": FIXED}))
    with OfflineOllama(model) as server:
        result = run_cli("run", "Fix the lint error", "-w", str(workspace), "--host",
                         server.host, "--sandbox", "none", "--max-rounds", "5")
    assert result.code == 0, result.err
    assert model.saw_evidence
    assert "import os" not in (workspace / "mathx" / "__init__.py").read_text()


def test_a_model_repeating_the_same_call_is_warned_then_stopped_red(workspace: Path) -> None:
    seed(workspace, BUGGY)
    same = Turn(calls=(Call("read_file", {"path": "mathx/__init__.py"}),))
    with OfflineOllama(lambda request: same) as server:
        result = run_cli("run", "Fix the failing test", "-w", str(workspace), "--host",
                         server.host, "--sandbox", "none")
        prompts = [prompt(r) for r in server.requests]
    assert result.code == 3
    fields = status_fields(workspace)
    assert fields["Status"].startswith("red - paused: loop")
    assert len(prompts) == 4
    assert "same call 2 times in a row" in prompts[2]


def test_a_round_where_no_file_changed_runs_no_probe_subprocess(workspace: Path) -> None:
    seed(workspace, FIXED)
    script = iter([Call("write_file", {"path": "notes.txt", "content": "x"}),
                   Call("read_file", {"path": "notes.txt"}),
                   Call("list_dir", {"path": "."}),
                   Call("read_file", {"path": "notes.txt"})])
    with OfflineOllama(lambda request: Turn(calls=(next(script),))) as server:
        result = run_cli("run", "Take notes", "-w", str(workspace), "--host", server.host,
                         "--sandbox", "none", "--max-rounds", "4")
    assert result.code == 3, result.err
    records = [json.loads(x) for x in (workspace / "agent_ledger.log").read_text().splitlines()]
    probes = [r for r in records if r["kind"] == "probe"]
    # Round 1 probes (2 subprocesses, and ruff once more as the clean room lints, for the
    # baseline), round 2 re-probes (notes.txt was written: ruff runs, pytest not, as no test
    # can import it), rounds 3 and 4 follow rounds that changed nothing: no subprocess.
    assert [p["subprocesses"] for p in probes] == [3, 4, 4, 4]
    assert [p["reused"] for p in probes] == [False, False, True, True]


@pytest.fixture(scope="session")  # not module: a worker may run other modules between these
def growth() -> Growth:
    return measure(rounds=30, num_ctx=8192)


def test_no_request_exceeds_the_context_budget(growth: Growth) -> None:
    assert growth.rounds == 30
    assert max(growth.sizes) <= growth.budget_chars


def test_largest_request_is_at_most_half_the_full_history_at_round_30(growth: Growth) -> None:
    assert growth.largest <= 0.5 * growth.baseline_final


def test_new_bytes_per_request_stay_near_the_full_history_growth(growth: Growth) -> None:
    assert growth.mean_new <= 1.5 * growth.baseline_growth


def test_the_stable_prefix_is_byte_identical_in_every_request(growth: Growth) -> None:
    assert growth.prefix_identical
    assert growth.prefix_chars > 1000  # system prompt, tools and goal
