"""A validated machine at run time: which file a run uses, and the `transitions` Machine."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jetbox.spec.machine import PACKAGED_MACHINE, MachineSpec


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
    """--machine, else the workspace's machine.yaml, else ./machine.yaml, else the packaged copy."""
    if explicit is not None:
        return explicit
    for candidate in (workspace / "machine.yaml", cwd / "machine.yaml"):
        if candidate.is_file():
            return candidate
    return PACKAGED_MACHINE
