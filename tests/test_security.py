"""A scripted model tries to get out of the workspace; every attempt is refused and harmless."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from jetbox.store.kinds import Intent, Refused
from jetbox.store.ledger import Ledger
from jetbox.tools.policy import ToolPolicy
from jetbox.tools.toolbox import Toolbox

OUTSIDE_ABS = "/tmp/jetbox-escape-marker.txt"

# (tool, arguments, a fragment of the refusal the model must see)
ATTEMPTS: list[tuple[str, object, str]] = [
    ("write_file", {"path": "../outside/evil.txt", "content": "x"}, "resolves outside"),
    ("write_file", {"path": "{outside}/evil.txt", "content": "x"}, "resolves outside"),
    ("write_file", {"path": "../ws2/evil.txt", "content": "x"}, "resolves outside"),
    ("write_file", {"path": "link_dir/evil.txt", "content": "x"}, "resolves outside"),
    ("write_file", {"path": "link_file", "content": "x"}, "resolves outside"),
    ("read_file", {"path": "link_file"}, "resolves outside"),
    ("read_file", {"path": "/etc/passwd"}, "resolves outside"),
    ("list_dir", {"path": ".."}, "resolves outside"),
    ("write_file", {"path": OUTSIDE_ABS, "content": "x"}, "resolves outside"),
    ("write_file", {"path": "C:evil.txt", "content": "x"}, "drive-relative"),
    ("write_file", {"path": "C:\\Windows\\evil.txt", "content": "x"}, "absolute Windows"),
    ("write_file", {"path": "\\\\server\\share\\evil.txt", "content": "x"}, "UNC"),
    ("read_file", {"path": "//server/share/evil.txt"}, "UNC"),
    ("write_file", {"path": "\\\\?\\C:\\evil.txt", "content": "x"}, "\\\\?\\ paths"),
    ("write_file", {"path": "CON", "content": "x"}, "reserved device name"),
    ("write_file", {"path": "sub/nul.txt", "content": "x"}, "reserved device name"),
    ("write_file", {"path": "COM1.py", "content": "x"}, "reserved device name"),
    ("write_file", {"path": "notes.txt:hidden", "content": "x"}, "alternate data streams"),
    ("write_file", {"path": "evil.", "content": "x"}, "end with a dot or a space"),
    ("write_file", {"path": "evil ", "content": "x"}, "end with a dot or a space"),
    ("write_file", {"path": "..\\outside\\evil.txt", "content": "x"}, "use / to separate"),
    ("write_file", {"path": "status.txt", "content": "State: Done"}, "Jetbox's own"),
    ("write_file", {"path": "agent_ledger.log", "content": "{}"}, "Jetbox's own"),
    ("write_file", {"path": "machine.yaml", "content": "x"}, "Jetbox's own"),
    ("write_file", {"path": ".git/hooks/pre-commit", "content": "x"}, "git's file"),
    ("write_file", {"path": ".jetbox.lock", "content": "x"}, "Jetbox's own"),
    ("run_cmd", {"cmd": ["python", "-c", f"open('{OUTSIDE_ABS}','w')"]}, "python -c: refused"),
    ("run_cmd", {"cmd": ["python", "-m", "http.server"]}, "python -m http.server: refused"),
    ("run_cmd", {"cmd": ["python", "../outside/evil.py"]}, "resolves outside"),
    ("run_cmd", {"cmd": ["python"]}, "no script"),
    ("run_cmd", {"cmd": ["pytest", "-p", "evil_plugin"]}, "pytest -p: refused"),
    ("run_cmd", {"cmd": ["pytest", "-pevil_plugin"]}, "refused by Jetbox's policy"),
    ("run_cmd", {"cmd": ["python", "-m", "pytest", "-p", "evil"]}, "pytest -p: refused"),
    ("run_cmd", {"cmd": ["pytest", "--rootdir", "/"]}, "resolves outside"),
    ("run_cmd", {"cmd": ["pip", "install", "evil-package"]}, "pip install is off"),
    ("run_cmd", {"cmd": ["pip", "download", "evil"]}, "pip download: refused"),
    ("run_cmd", {"cmd": ["ruff", "check", ".", "--output-file", OUTSIDE_ABS]}, "resolves outside"),
    ("run_cmd", {"cmd": ["ruff", "check", "--cache-dir=../outside/c", "."]}, "resolves outside"),
    ("run_cmd", {"cmd": ["ruff", "check", "--config", "/etc/evil.toml"]}, "resolves outside"),
    ("run_cmd", {"cmd": ["ruff", "check", "--config", "cache-dir = '/tmp/x'"]}, "names paths"),
    ("run_cmd", {"cmd": ["ruff", "server"]}, "ruff server: refused"),
    ("run_cmd", {"cmd": ["./pytest", "-q"]}, "not a path"),
    ("run_cmd", {"cmd": ["C:\\tools\\ruff.bat"]}, "not a path"),
    ("run_cmd", {"cmd": ["bash", "-c", "touch /tmp/x"]}, "not an allowed program"),
    ("run_cmd", {"cmd": ["curl", "http://example.com"]}, "not an allowed program"),
    ("run_cmd", {"cmd": "pytest -q; touch /tmp/jetbox-escape-marker.txt"}, "resolves outside"),
    ("run_cmd", {"cmd": "pytest 'unterminated"}, "cannot split"),
    ("run_cmd", {"cmd": []}, "`cmd` is empty"),
    ("run_cmd", {"cmd": [["nested"]]}, "must be a list of strings"),
    ("shell", {"cmd": "rm -rf /"}, "unknown tool"),
    ("write_file", ["evil.txt", "x"], "arguments must be an object"),
    ("write_file", "{not json", "not a JSON object"),
    ("write_file", {"path": "evil.txt"}, "missing content"),
    ("write_file", {"path": "evil.txt", "content": "x", "mode": "0777"}, "unknown mode"),
    ("write_file", {"path": "big.txt", "content": "x" * 1_000_001}, "the limit is"),
    ("read_file", {"path": 42}, "`path` must be a string"),
    ("read_file", {"path": "a\x00b"}, "control characters"),
]


def tree_digest(folder: Path, *skip: Path) -> str:
    """Everything under `folder` except the workspace and the ledger, names and bytes."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if any(s == path or s in path.parents for s in skip):
            continue
        digest.update(str(path).encode())
        if path.is_file() and not path.is_symlink():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def arena(tmp_path: Path) -> tuple[Path, Path]:
    """A workspace with traps around it: a sibling with a common prefix, symlinks out."""
    workspace, outside = tmp_path / "ws", tmp_path / "outside"
    for folder in (workspace, outside, tmp_path / "ws2"):
        folder.mkdir()
    (outside / "secret.txt").write_text("secret")
    (outside / "evil.py").write_text(f"open({OUTSIDE_ABS!r}, 'w').write('x')\n")
    (workspace / "link_dir").symlink_to(outside, target_is_directory=True)
    (workspace / "link_file").symlink_to(outside / "secret.txt")
    (workspace / ".git").mkdir()
    (workspace / "status.txt").write_text("Goal: g\nState: Probe\n")
    return workspace, outside


@pytest.mark.parametrize("tool, arguments, refusal", ATTEMPTS,
                         ids=[f"{i:02d}-{a[0]}" for i, a in enumerate(ATTEMPTS)])
def test_escape_attempt_is_refused_and_changes_nothing_outside(
        arena: tuple[Path, Path], tool: str, arguments: object, refusal: str) -> None:
    workspace, outside = arena
    if isinstance(arguments, dict) and "{outside}" in str(arguments.get("path")):
        arguments = {**arguments, "path": arguments["path"].format(outside=outside)}
    ledger = Ledger(workspace.parent / "ledger.log")
    before = tree_digest(workspace.parent, workspace, ledger.path)
    status_before = (workspace / "status.txt").read_bytes()
    result = Toolbox(workspace, ledger, ToolPolicy()).dispatch(tool, arguments, round_no=1)
    assert result.refused and not result.ok
    assert refusal in result.output, result.output
    assert tree_digest(workspace.parent, workspace, ledger.path) == before
    assert not Path(OUTSIDE_ABS).exists()
    assert (workspace / "status.txt").read_bytes() == status_before
    assert (outside / "secret.txt").read_text() == "secret"
    assert sorted(p.name for p in outside.iterdir()) == ["evil.py", "secret.txt"]
    refusals = [r for r in ledger.records() if isinstance(r, Refused)]
    assert len(refusals) == 1 and refusals[0].reason in result.output


def test_there_are_at_least_25_distinct_attempts_across_all_tools_and_path_styles() -> None:
    assert len(ATTEMPTS) >= 25
    assert {tool for tool, _, _ in ATTEMPTS} >= {"list_dir", "read_file", "write_file",
                                                  "run_cmd", "shell"}
    paths = [str(a.get("path")) for _, a, _ in ATTEMPTS if isinstance(a, dict)]
    assert any("\\" in p for p in paths) and any(p.startswith("/") for p in paths)


def test_shell_metacharacters_are_plain_arguments(tmp_path: Path) -> None:
    (tmp_path / "show.py").write_text("import sys, json\nprint(json.dumps(sys.argv[1:]))\n")
    toolbox = Toolbox(tmp_path, Ledger(tmp_path / "l.log"))
    result = toolbox.dispatch("run_cmd", {"cmd": "python show.py ; && | $(id) `id` > out"})
    assert result.ok, result.output
    assert json.loads(result.output.splitlines()[-1]) == [";", "&&", "|", "$(id)", "`id`", ">",
                                                          "out"]
    assert not (tmp_path / "out").exists()


def test_a_planted_program_in_the_workspace_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path.parent / f"{tmp_path.name}-planted-ran"
    for name in ("pytest", "pytest.exe", "ruff", "ruff.bat", "python"):
        planted = tmp_path / name
        planted.write_text(f"#!/bin/sh\ntouch {marker}\n")
        planted.chmod(0o755)
    toolbox = Toolbox(tmp_path, Ledger(tmp_path.parent / f"{tmp_path.name}.log"))
    for cmd in (["pytest.exe", "--version"], ["ruff", "--version"], ["python", "--version"]):
        toolbox.dispatch("run_cmd", {"cmd": cmd})
    assert not marker.exists()
    intents = [r for r in toolbox.ledger.records() if isinstance(r, Intent)]
    assert intents and all(r.argv and r.argv[0] == sys.executable for r in intents)


@pytest.mark.slow
def test_refused_call_inside_a_real_run_is_a_tool_result_not_a_crash(workspace: Path) -> None:
    from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
    from tests.conftest import run_cli

    script = ScriptResponder([Turn(calls=(Call("write_file", {"path": "../escape.txt",
                                                              "content": "x"}),)),
                              Turn(calls=(Call("finish", {"summary": "gave up"}),))])
    with OfflineOllama(script) as server:
        result = run_cli("run", "escape", "-w", str(workspace), "--host", server.host,
                         "--sandbox", "none", "--max-rounds", "2")
        second = json.dumps(server.requests[1].messages)
    assert result.code == 3
    assert not (workspace.parent / "escape.txt").exists()
    assert "refused: '../escape.txt' resolves outside the workspace" in second


def test_programs_are_resolved_once_at_start_outside_the_workspace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import shutil

    if shutil.which("git") is None:
        pytest.skip("needs git on PATH as an extra allowed program")
    toolbox = Toolbox(tmp_path, Ledger(tmp_path.parent / "resolve.log"),
                      ToolPolicy(allowed_programs=("python", "git")))
    planted = tmp_path / "git"
    planted.write_text("#!/bin/sh\necho planted\n")
    planted.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    result = toolbox.dispatch("run_cmd", {"cmd": ["git", "--version"]})
    assert result.ok and "git version" in result.output and "planted" not in result.output
    late = Toolbox(tmp_path, Ledger(tmp_path.parent / "resolve2.log"),
                   ToolPolicy(allowed_programs=("git",)))
    late_result = late.dispatch("run_cmd", {"cmd": ["git", "--version"]})
    # A PATH entry inside the workspace is never searched: the host's git, not the planted
    assert late_result.ok and "planted" not in late_result.output


@pytest.mark.slow
def test_the_tools_section_of_machine_yaml_sets_the_policy(workspace: Path,
                                                           tmp_path: Path) -> None:
    from jetbox.core.errors import ConfigError
    from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
    from tests.conftest import ROOT, run_cli

    text = (ROOT / "jetbox/machine.yaml").read_text() + "\ntools:\n  allowed_programs: [python]\n"
    machine = tmp_path / "strict.yaml"
    machine.write_text(text)
    script = ScriptResponder([Turn(calls=(Call("run_cmd", {"cmd": ["pytest", "-q"]}),))])
    with OfflineOllama(script) as server:
        run_cli("run", "g", "-w", str(workspace), "--host", server.host, "--machine",
                str(machine), "--max-rounds", "1", "--sandbox", "none")
    ledger = Ledger(workspace / "agent_ledger.log").records()
    refusal = next(r for r in ledger if isinstance(r, Refused))
    assert "pytest: not an allowed program; allowed: python" in refusal.reason
    with pytest.raises(ConfigError, match="tools: unknown key `allow_everything`"):
        ToolPolicy.from_mapping({"allow_everything": True})
