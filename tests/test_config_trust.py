"""Configuration the model (or a command it ran) changed during a run is refused on resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.store.kinds import ConfigTrusted
from jetbox.store.ledger import Ledger
from tests.conftest import ROOT, run_cli, trust_folder

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

WEAKENED = ('[project]\nname = "w"\nversion = "0"\n\n[tool.jetbox]\nsandbox = "none"\n'
            'host = "http://127.0.0.1:9"\n')
EVIL_HANDLER = ("import pathlib\npathlib.Path({marker!r}).write_text('imported')\n"
                "from states.workspace import Done\n\n\nclass Evil(Done):\n    pass\n")
REWRITE_MACHINE = """\
import pathlib
text = pathlib.Path("machine.yaml").read_text().replace("states.workspace:Done", "evil_states:Evil")
pathlib.Path("machine.yaml").write_text(text)
pathlib.Path("evil_states.py").write_text({handler!r})
"""


def write(path: str, content: str) -> Turn:
    return Turn(calls=(Call("write_file", {"path": path, "content": content}),))


def kinds(workspace: Path) -> list[str]:
    return [r.kind for r in Ledger(workspace / "agent_ledger.log").records()]


def test_a_model_written_tool_jetbox_table_is_refused_on_resume_until_trusted(
        workspace: Path, tmp_path: Path) -> None:
    marker = tmp_path / "conftest-ran-unsandboxed"
    conftest = (f"import pathlib\ntry:\n    pathlib.Path({str(marker)!r}).write_text('x')\n"
                f"except OSError:\n    pass\n")
    script = ScriptResponder([write("pyproject.toml", WEAKENED), write("conftest.py", conftest),
                              write("notes.txt", "hello")])
    with OfflineOllama(script) as server:
        first = run_cli("run", "goal", "-w", str(workspace), "--host", server.host,
                        "--max-rounds", "2")
        assert first.code == 3, first.err
        before = kinds(workspace)
        resumed = run_cli("run", "-w", str(workspace), "--host", server.host)
        assert resumed.code == 2
        assert "pyproject.toml [tool.jetbox] changed since this run started (now sets " \
               "sandbox = 'none', host = 'http://127.0.0.1:9')" in resumed.err
        assert "--trust-config" in resumed.err
        assert kinds(workspace) == before  # refused before anything ran or was recorded
        assert not marker.exists()         # the probe never ran the conftest unsandboxed
        trusted = run_cli("run", "-w", str(workspace), "--host", server.host,
                          "--trust-config", "--max-rounds", "1")
    assert trusted.code == 3, trusted.err
    record = Ledger(workspace / "agent_ledger.log").last(["config_trusted"])
    assert isinstance(record, ConfigTrusted)
    assert record.reason.startswith("--trust-config: pyproject.toml")
    assert record.jetbox_table["sandbox"] == "none"  # accepted, as the person chose
    # The model's conftest.py still never runs in the probes: they keep the baseline's
    # test configuration (which had none).
    assert not marker.exists()


def test_a_machine_yaml_rewritten_by_a_command_is_refused_on_resume(
        workspace: Path, tmp_path: Path) -> None:
    marker = tmp_path / "evil-handler-imported"
    (workspace / "machine.yaml").write_text((ROOT / "jetbox/machine.yaml").read_text())
    rewrite = REWRITE_MACHINE.format(handler=EVIL_HANDLER.format(marker=str(marker)))
    script = ScriptResponder([write("rewrite.py", rewrite),
                              Turn(calls=(Call("run_cmd", {"cmd": ["python", "rewrite.py"]}),)),
                              write("notes.txt", "hello")])
    trust_folder(workspace)  # the person's own machine.yaml
    with OfflineOllama(script) as server:
        first = run_cli("run", "goal", "-w", str(workspace), "--host", server.host,
                        "--sandbox", "none", "--max-rounds", "2")
        assert first.code == 3, first.err
        assert "evil_states:Evil" in (workspace / "machine.yaml").read_text()
        resumed = run_cli("run", "-w", str(workspace), "--host", server.host,
                          "--sandbox", "none")
        assert resumed.code == 2
        assert "the workspace's machine.yaml changed since this run started" in resumed.err
        assert "handler module `evil_states` beside machine.yaml appeared" in resumed.err
        assert not marker.exists()  # the handler module was never imported
        trusted = run_cli("run", "-w", str(workspace), "--host", server.host,
                          "--sandbox", "none", "--trust-config", "--max-rounds", "1")
    assert trusted.code == 3, trusted.err
    assert marker.exists()


def test_a_handler_module_the_model_rewrote_is_refused_on_resume(
        workspace: Path, tmp_path: Path) -> None:
    marker = tmp_path / "rewritten-handler-imported"
    text = (ROOT / "jetbox/machine.yaml").read_text().replace("states.workspace:Done",
                                                              "my_states:Mine")
    (workspace / "machine.yaml").write_text(text)
    (workspace / "my_states.py").write_text("from states.workspace import Done\n\n\n"
                                            "class Mine(Done):\n    pass\n")
    evil = EVIL_HANDLER.format(marker=str(marker)).replace("Evil", "Mine")
    trust_folder(workspace)  # the person's own machine.yaml
    with OfflineOllama(ScriptResponder([write("my_states.py", evil)])) as server:
        first = run_cli("run", "goal", "-w", str(workspace), "--host", server.host,
                        "--sandbox", "none", "--max-rounds", "1")
        assert first.code == 3, first.err
        marker.unlink(missing_ok=True)  # the first run's own import is not the attack
        resumed = run_cli("run", "-w", str(workspace), "--host", server.host,
                          "--sandbox", "none")
    assert resumed.code == 2
    assert "handler module `my_states` beside machine.yaml changed" in resumed.err
    assert not marker.exists()


def test_a_new_goal_obeys_model_written_configuration_only_once_accepted(
        workspace: Path) -> None:
    with OfflineOllama(ScriptResponder([write("pyproject.toml", WEAKENED),
                                        write("notes.txt", "x")])) as server:
        run_cli("run", "goal", "-w", str(workspace), "--host", server.host, "--sandbox",
                "none", "--max-rounds", "1")
        refused = run_cli("run", "another goal", "-w", str(workspace), "--host",
                          server.host, "--sandbox", "none", "--max-rounds", "1", "--fresh")
        assert refused.code == 2 and "changed during run 1 ('goal')" in refused.err
        fresh = run_cli("run", "another goal", "-w", str(workspace), "--host", server.host,
                        "--sandbox", "none", "--max-rounds", "1", "--fresh", "--trust-config")
    assert fresh.code == 3, fresh.err
    records = Ledger(workspace / "agent_ledger.log").current_run()
    trusted = [r for r in records if isinstance(r, ConfigTrusted)]
    assert [r.reason[:36] for r in trusted] == ["--trust-config: pyproject.toml [tool"]
    assert trusted[0].jetbox_table == {"sandbox": "none", "host": "http://127.0.0.1:9"}
