"""Argument-policy gaps that matter without bwrap: attached and clustered short options,
abbreviated long options, log files, config files, a shadowing ruff.py, protected names in
another case. Each attempt is refused (or overruled) and nothing outside changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.store.kinds import FinishRefused, ToolResult
from jetbox.store.ledger import Ledger
from jetbox.tools.paths import PathRefused, jail
from jetbox.tools.policy import ToolPolicy, check_arguments
from jetbox.tools.toolbox import Toolbox
from tests.conftest import run_cli

OUT = "{outside}/marker"  # a folder next to the workspace, per test

# (cmd, a fragment of the refusal the model must see)
GAPS: list[tuple[list[str], str]] = [
    (["ruff", "check", f"-o{OUT}", "."], "resolves outside"),
    (["ruff", "check", f"-o={OUT}", "."], "resolves outside"),
    (["ruff", "check", "-eo", OUT, "."], "resolves outside"),
    (["ruff", "check", f"--output-fi={OUT}", "."], "resolves outside"),
    (["ruff", "check", "--cache", f"{OUT}/c", "."], "resolves outside"),
    (["pytest", f"-c{OUT}/evil.ini"], "resolves outside"),
    (["pytest", "-qc", f"{OUT}/evil.ini"], "resolves outside"),
    (["pytest", "-qpevil"], "refused by Jetbox's policy"),
    (["pytest", f"--junit-x={OUT}.xml"], "resolves outside"),
    (["pytest", "--junit", f"{OUT}.xml"], "resolves outside"),
    (["pytest", "--basete", f"{OUT}-victim"], "resolves outside"),
    (["pytest", f"--log-file={OUT}.log"], "resolves outside"),
    (["pytest", "--log-file", f"{OUT}.log"], "resolves outside"),
    (["pytest", "--log-fi", f"{OUT}.log"], "resolves outside"),
    (["pytest", "--pastebi=all"], "abbreviates --pastebin"),
    (["pytest", "--override=cache_dir=/tmp"], "abbreviates --override-ini"),
    (["pytest", "@args.txt"], "reading arguments from a file"),
    (["python", "-m", "pytest", "--junit-x", f"{OUT}.xml"], "resolves outside"),
    (["pip", "list", "--log", f"{OUT}.log"], "resolves outside"),
    (["pip", "list", f"--lo={OUT}.log"], "resolves outside"),
    (["pip", "freeze", "--local-log", f"{OUT}.log"], "resolves outside"),
    (["pip", "show", "pip", "--cache-dir", f"{OUT}/cache"], "resolves outside"),
    (["pip", "list", "--python", "/usr/bin/python3"], "refused by Jetbox's policy"),
]


@pytest.mark.parametrize("cmd, refusal", GAPS,
                         ids=[" ".join(c).replace(OUT, "OUT")[:40] for c, _ in GAPS])
def test_argument_policy_gap_is_refused(tmp_path: Path, cmd: list[str], refusal: str) -> None:
    workspace, outside = tmp_path / "ws", tmp_path / "outside"
    workspace.mkdir()
    outside.mkdir()
    (workspace / "args.txt").write_text(f"--junitxml={outside}/marker.xml\n")
    cmd = [word.format(outside=outside) for word in cmd]
    result = Toolbox(workspace, Ledger(tmp_path / "l.log")).dispatch("run_cmd", {"cmd": cmd})
    assert result.refused, result.output
    assert refusal in result.output, result.output
    assert not list(outside.iterdir())


@pytest.mark.parametrize("program, args", [
    ("pytest", ["-q", "-rfE", "-k", "not slow", "--co", "--trace", "-x", "-W", "error",
                "--log-file=inside.log", "--basetemp=tmp", "--junitxml", "out.xml",
                "--import-mode=importlib", "tests/test_a.py::test_b"]),
    ("ruff", ["check", ".", "--output-format", "concise", "-o", "out.txt", "--fix", "-e"]),
    ("pip", ["list", "--log", "pip.log", "--format=json"]),
    ("pip", ["install", "--pre", "--target", "lib", "-r", "requirements.txt"]),
])
def test_legitimate_arguments_still_pass(tmp_path: Path, program: str, args: list[str]) -> None:
    policy = ToolPolicy(allow_pip_install=True)
    checked = check_arguments(program, args, policy, tmp_path)
    start = 2 if program == "pytest" else 0  # after the guards
    assert checked[start:start + len(args)] == args


def test_pytest_gets_guards_before_the_models_own_arguments(tmp_path: Path) -> None:
    checked = check_arguments("pytest", ["--log-file=mine.log"], ToolPolicy(), tmp_path)
    assert checked[0].startswith("--log-file=") and checked[1].startswith("--basetemp=")
    assert checked.index("--log-file=mine.log") > 1  # the model's checked value wins
    assert not Path(checked[1].split("=", 1)[1]).is_relative_to(tmp_path)


def test_a_config_file_cannot_make_pytest_write_or_empty_outside(tmp_path: Path) -> None:
    workspace, victim = tmp_path / "ws", tmp_path / "victim"
    workspace.mkdir()
    victim.mkdir()
    (victim / "precious.txt").write_text("keep")
    log = tmp_path / "outside" / "deep" / "pytest.log"
    (workspace / "pytest.ini").write_text(f"[pytest]\nlog_file = {log}\nlog_file_level = INFO\n"
                                          f"addopts = --basetemp={victim}\n")
    (workspace / "test_a.py").write_text("import logging\n\n\ndef test_a(tmp_path):\n"
                                         "    logging.getLogger().warning('hi')\n")
    toolbox = Toolbox(workspace, Ledger(tmp_path / "l.log"))
    result = toolbox.dispatch("run_cmd", {"cmd": ["pytest", "-q"]})
    assert result.ok, result.output
    assert (victim / "precious.txt").read_text() == "keep"
    assert not (tmp_path / "outside").exists()


@pytest.mark.parametrize("name", ["STATUS.TXT", "Status.txt", "MACHINE.YAML", ".GIT/config",
                                  ".Git/hooks/pre-commit", "Agent_Ledger.log", "AGENT.LOG",
                                  ".JETBOX.LOCK", ".JetBox/x"])
def test_protected_names_are_refused_in_any_case(tmp_path: Path, name: str) -> None:
    with pytest.raises(PathRefused, match="Jetbox's own or git's file"):
        jail(tmp_path, name, for_write=True)
    assert jail(tmp_path, name).relative == name  # reading stays allowed


@pytest.mark.slow
def test_a_workspace_ruff_py_does_not_fake_a_clean_lint(workspace: Path) -> None:
    fake = "import sys\n\nsys.exit(0)\n"
    passing = "def test_ok():\n    assert True\n"
    calls = [Call("write_file", {"path": "ruff.py", "content": fake}),
             Call("write_file", {"path": "bad.py", "content": "import os\n"}),
             Call("write_file", {"path": "test_ok.py", "content": passing}),
             Call("run_cmd", {"cmd": ["python", "-m", "ruff", "check", "."]}),
             Call("run_cmd", {"cmd": ["ruff", "check", "."]}),
             Call("finish", {"summary": "lint is clean"}),
             Call("list_dir", {"path": "."})]
    script = ScriptResponder([Turn(calls=(call,)) for call in calls])
    with OfflineOllama(script) as server:
        result = run_cli("run", "g", "-w", str(workspace), "--host", server.host,
                         "--sandbox", "none", "--max-rounds", str(len(calls)))
    assert result.code == 3, result.err  # not Done: the finish is refused
    records = Ledger(workspace / "agent_ledger.log").records()
    cmds = [r for r in records if isinstance(r, ToolResult) and r.name == "run_cmd"]
    assert len(cmds) == 2 and all("F401" in r.output and not r.ok for r in cmds)
    refused = [r for r in records if isinstance(r, FinishRefused)]
    assert refused and any("ruff" in reason for reason in refused[-1].reasons)
    probes = [json.dumps(r.to_body()) for r in records if r.kind == "probe"]
    assert "ruff: clean" not in probes[-1]
