"""mini-swe-agent, the append-only peer issue 23 measures Jetbox against, run for real.

Its own code runs: the default agent, its `mini.yaml` configuration (system prompt, task
template, observation template), its local environment (each command in a subshell) and
litellm, talking to Jetbox's offline Ollama. Only the model is scripted: it sends, as bash
commands through the peer's one tool, the same steps Jetbox's scripted model takes (search,
read the same lines, edit, finish). The requests are taken as the server received them, so
both agents are measured the same way.

Optional: `pip install -e ".[peer]"` (mini-swe-agent brings litellm). Without it,
`missing()` says so and the benches fall back to the figures quoted in issue 23.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jetbox.offline import Call, ChatRequest, OfflineOllama, Turn

PEER = "mini-swe-agent"
VERSION = "2.4.6"  # the version issue 23 measured
SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"  # how the peer says it is done
INSTALL = 'pip install -e ".[peer]"'


def missing() -> str | None:
    """Why the peer cannot run here, or None."""
    if importlib.util.find_spec("minisweagent") is None:
        return f"{PEER} is not installed ({INSTALL})"
    from importlib.metadata import version
    found = version(PEER)
    if found != VERSION:
        return f"{PEER} {found} is installed; the comparison is with {VERSION} ({INSTALL})"
    return None


def requests(workspace: Path, responder: Callable[[ChatRequest], Turn], task: str,
             ) -> list[dict[str, Any]]:
    """Run the peer on `task` in `workspace` with a scripted model; its requests as sent
    (tools and messages), in order."""
    with tempfile.TemporaryDirectory() as config_dir:
        # Set before the import: no banner, no config in the user's home, no network for
        # litellm's price list (it falls back to its own copy after retries otherwise).
        os.environ.update({"MSWEA_SILENT_STARTUP": "1", "MSWEA_GLOBAL_CONFIG_DIR": config_dir,
                           "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
        import minisweagent
        import yaml
        from minisweagent.agents.default import DefaultAgent
        from minisweagent.environments.local import LocalEnvironment
        from minisweagent.models.litellm_model import LitellmModel

        config = yaml.safe_load((Path(minisweagent.__file__).parent / "config" / "mini.yaml")
                                .read_text(encoding="utf-8"))
        agent_config = {k: v for k, v in config["agent"].items() if k != "mode"}  # no prompts
        # The commands find this interpreter's python and pytest first, like Jetbox's do.
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        with OfflineOllama(responder) as server:
            model = LitellmModel(
                model_name="ollama_chat/gpt-oss:20b", cost_tracking="ignore_errors",
                model_kwargs={"api_base": server.host, "drop_params": True},
                observation_template=config["model"]["observation_template"],
                format_error_template=config["model"]["format_error_template"])
            environment = LocalEnvironment(cwd=str(workspace),
                                           env={**config["environment"]["env"], "PATH": path})
            DefaultAgent(model, environment, **agent_config).run(task)
            return [{"tools": r.raw.get("tools"), "messages": r.raw["messages"]}
                    for r in server.requests]


def bash(command: str, reasoning: str = "") -> Turn:
    return Turn(content=reasoning, calls=(Call("bash", {"command": command}),))


def commands(turns: Sequence[Turn]) -> list[Turn]:
    """Jetbox's scripted turns as the peer would take them, each through `bash`; then the
    peer's way of finishing."""
    peer = []
    for turn in turns:
        for call in turn.calls:
            peer.append(bash(as_command(call.name, call.arguments), turn.thinking))
    return [*peer, bash(SUBMIT)]


def as_command(name: str, arguments: dict[str, Any]) -> str:
    """One of Jetbox's tool calls as the shell command the peer's template suggests."""
    path = shlex.quote(str(arguments.get("path", ".")))
    if name == "write_file":
        return f"cat <<'EOF' > {path}\n{arguments['content']}EOF"
    if name == "read_file" and "start_line" in arguments:
        return f"nl -ba {path} | sed -n '{arguments['start_line']},{arguments['end_line']}p'"
    if name == "read_file":
        return f"nl -ba {path}"
    if name == "search":
        return f"grep -rnE {shlex.quote(arguments['pattern'])} {path}"
    if name == "run_cmd":
        return " ".join(shlex.quote(part) for part in arguments["cmd"])
    if name == "edit_file":
        return ("python -c " + shlex.quote(
            f"import pathlib; p = pathlib.Path({arguments['path']!r}); "
            f"p.write_text(p.read_text().replace({arguments['old']!r}, {arguments['new']!r}, 1))"))
    raise ValueError(f"no peer command for {name}")


class LineFixer:
    """The peer's side of Jetbox's LineFixer (jetbox/offline/solvers.py): grep for the
    pattern, read the same 61 lines from the match, replace the broken line, submit."""

    def __init__(self, path: str, pattern: str, broken: str, fixed: str, lines: int) -> None:
        self.path, self.pattern, self.broken, self.fixed = path, pattern, broken, fixed
        self.lines = lines

    def __call__(self, request: ChatRequest) -> Turn:
        sent = [str(call.get("function", {}).get("arguments", {}).get("command", ""))
                for message in request.messages for call in message.get("tool_calls") or []]
        if any(command.startswith("python -c") for command in sent):  # its edit ran
            return bash(SUBMIT)
        if any(command.startswith("nl -ba") for command in sent):
            return bash(as_command("edit_file", {"path": self.path, "old": self.broken,
                                                 "new": self.fixed}))
        shown = json.dumps(request.messages[2:], ensure_ascii=False)  # what its calls showed
        found = re.search(rf"\./{re.escape(self.path)}:(\d+):", shown)
        if found:
            line = int(found.group(1))
            return bash(as_command("read_file", {"path": self.path, "start_line": line,
                                                 "end_line": line + self.lines}))
        return bash(as_command("search", {"pattern": self.pattern, "path": "."}))
