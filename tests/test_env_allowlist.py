"""Commands get an allow-listed environment: no credential of any shape reaches them."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetbox.offline import Call, FakeModel, OfflineOllama, ScriptResponder, Turn
from tests.conftest import run_cli

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

QWEN = FakeModel("qwen2.5-coder:7b", ("completion", "tools"), 32768, "qwen2", "midstream")
SECRETS = {
    "DATABASE_URL": "postgres://u:pw-db-4411@h/db",
    "PIP_INDEX_URL": "https://u:pw-pip-4412@host/simple",
    "HTTPS_PROXY": "http://u:pw-proxy-4413@proxy:3128",
    "https_proxy": "http://u:pw-proxy-4414@proxy:3128",
    "GH_PAT": "ghp_secret4415",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-4416",
    "MY_TOKEN": "token-4417",
    "SSH_AUTH_SOCK": "/tmp/ssh-agent-4418.sock",
    "PYTHONPATH": "/host/lib-4419",
}
PRINT_ENV = "import os\nfor name, value in sorted(os.environ.items()):\n    print(name, value)\n"


def test_no_secret_reaches_a_command_the_ledger_or_the_model(
        workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MY_BUILD_FLAVOUR", "flavour-passed-4420")
    monkeypatch.setenv("JETBOX_PASS_ENV", "MY_BUILD_FLAVOUR")
    script = ScriptResponder([
        Turn(calls=(Call("write_file", {"path": "env.py", "content": PRINT_ENV}),
                    Call("run_cmd", {"cmd": ["python", "env.py"]}))),
        Turn(calls=(Call("finish", {"summary": "printed"}),))])
    with OfflineOllama(script, [QWEN]) as server:
        result = run_cli("run", "print the environment", "-w", str(workspace), "--host",
                         server.host, "--model", QWEN.name, "--sandbox", "none",
                         "--max-rounds", "2")
        seen_by_model = "\n".join(str(r.messages) for r in server.requests)
    ledger = (workspace / "agent_ledger.log").read_text(encoding="utf-8")
    log = (workspace / "agent.log").read_text(encoding="utf-8")
    assert result.code == 3, result.err  # the round limit, after the command ran
    assert "flavour-passed-4420" in ledger and "flavour-passed-4420" in seen_by_model
    assert "PATH " in seen_by_model and "HOME " in seen_by_model
    for name, value in SECRETS.items():
        for where, text in (("ledger", ledger), ("model", seen_by_model), ("log", log),
                            ("terminal", result.err)):
            assert value not in text, f"{name} reached the {where}"
