"""A command is re-run after a crash only when Jetbox itself resolved it as pytest or ruff."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from jetbox.offline import Call, FakeModel, OfflineOllama, ScriptResponder, Turn
from jetbox.store.kinds import Intent
from jetbox.store.ledger import Ledger
from jetbox.tools.recovery import is_idempotent_program, resolve_command
from tests.conftest import jetbox_process, run_cli

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

QWEN = FakeModel("qwen2.5-coder:7b", ("completion", "tools"), 32768, "qwen2", "midstream")
# A model's own script named like the test runner: appends a line, then takes its time.
FAKE_PYTEST = ("import time\nfrom pathlib import Path\nwith Path('effects.log').open('a') as f:"
               "\n    f.write('side effect\\n')\ntime.sleep(60)\n")


def test_idempotency_comes_from_the_resolved_program_not_the_arguments(tmp_path: Path) -> None:
    assert is_idempotent_program("pytest", tmp_path) and is_idempotent_program("ruff", tmp_path)
    assert not is_idempotent_program("python", tmp_path)
    (tmp_path / "pytest.py").write_text("print('shadows the real pytest under python -m')\n")
    assert not is_idempotent_program("pytest", tmp_path)
    ledger = Ledger(tmp_path / "ledger.log")
    named = ledger.append(Intent(action="cmd", argv=["python", "tools/pytest.py"]))
    assert isinstance(named, Intent) and named.idempotent is None
    assert resolve_command(ledger, named) is not None  # an old record: not re-run
    checked = ledger.append(Intent(action="cmd", argv=["python", "-m", "ruff"],
                                   program="ruff", idempotent=True))
    assert isinstance(checked, Intent) and resolve_command(ledger, checked) is None


@pytest.mark.skipif(os.name == "nt", reason="kills with SIGKILL")
def test_a_model_script_named_pytest_is_not_rerun_after_a_kill(workspace: Path) -> None:
    (workspace / "tools").mkdir()
    (workspace / "tools" / "pytest.py").write_text(FAKE_PYTEST)
    run_script = Call("run_cmd", {"cmd": ["python", "tools/pytest.py"]})
    script = ScriptResponder([Turn(calls=(run_script,)),
                              Turn(calls=(Call("finish", {"summary": "ran it"}),))])
    effects = workspace / "effects.log"
    with OfflineOllama(script, [QWEN]) as server:
        killed = jetbox_process("run", "run the tool", "-w", str(workspace), "--host",
                                server.host, "--model", QWEN.name, "--sandbox", "none")
        deadline = time.monotonic() + 30
        while not effects.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(killed.pid, signal.SIGKILL)  # mid-command: its intent has no result
        killed.communicate()
        resumed = run_cli("run", "-w", str(workspace), "--host", server.host, "--model",
                          QWEN.name, "--sandbox", "none", "--max-rounds", "1")
    records = [json.loads(line) for line in
               (workspace / "agent_ledger.log").read_text().splitlines()]
    intent = next(r for r in records if r["kind"] == "intent" and r["action"] == "cmd")
    assert intent["program"] == "python" and intent["idempotent"] is False
    assert "resuming a journaled reply" in resumed.err
    assert effects.read_text() == "side effect\n"  # once: not run again on resume
    assert any(r.get("recovered") == "unknown" for r in records if r["kind"] == "result")
