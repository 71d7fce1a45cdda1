"""A validated machine at run time: which file a run uses, the settings it gives, and the
`transitions` Machine."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from jetbox.spec.config import Settings, resolve_settings
from jetbox.spec.machine import PACKAGED_MACHINE, MachineSpec, load_machine


def build_machine(spec: MachineSpec, model: Any, initial: str,
                  conditions: Mapping[str, Callable[..., bool]],
                  after_state_change: Callable[..., None]) -> Any:
    """The runtime `transitions` Machine; `initial` is where the run resumes (no callbacks
    fire). Every condition is passed as a callable (`conditions` has one for each name the
    machine uses), so `transitions` never looks a name up on the model."""
    from transitions import Machine

    transitions = []
    for config in spec.transitions_config():
        for key in ("conditions", "unless"):
            if key in config:
                config[key] = [conditions[name] for name in config[key]]
        transitions.append(config)
    return Machine(model=model, states=spec.states_config(), transitions=transitions,
                   initial=initial, auto_transitions=False, queued=False,
                   send_event=True, after_state_change=after_state_change)


def find_machine_file(explicit: Path | None, workspace: Path, cwd: Path) -> Path:
    """--machine, else the workspace's machine.yaml, else ./machine.yaml, else the packaged
    copy; a machine.yaml that is not a Jetbox machine (a project's own) is passed over."""
    if explicit is not None:
        return explicit
    for candidate in (workspace / "machine.yaml", cwd / "machine.yaml"):
        if candidate.is_file() and is_jetbox_machine(candidate):
            return candidate
    return PACKAGED_MACHINE


def is_jetbox_machine(path: Path) -> bool:
    """Whether a machine.yaml is meant for Jetbox: a mapping with `states` or `transitions`."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True  # unreadable: load_machine says why
    try:  # one that does not parse counts when such a key starts a line: a person's typo
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return any(line.startswith(("states:", "transitions:")) for line in text.splitlines())
    return isinstance(data, dict) and ("states" in data or "transitions" in data)


def foreign_machine_notice(workspace: Path, cwd: Path) -> str:
    """One line naming a machine.yaml Jetbox passed over, or ""."""
    for candidate in dict.fromkeys((workspace / "machine.yaml", cwd / "machine.yaml")):
        if candidate.is_file() and not is_jetbox_machine(candidate):
            return f"{candidate} is not a Jetbox machine (no states or transitions): ignored"
    return ""


def settings_here(workspace: Path, environ: Mapping[str, str], cli: Mapping[str, Any],
                  machine: Path | None = None) -> Settings:
    """The settings a new `jetbox run` in `workspace` would use, through the same
    resolve_settings: `diag` and `eval` ask this, so they check the model and server `run`
    would use (flags, JETBOX_*, [tool.jetbox], machine.yaml's `settings:`)."""
    spec = load_machine(find_machine_file(machine, workspace, Path.cwd()))
    return resolve_settings(spec.defaults, workspace, environ, cli, str(spec.path))
