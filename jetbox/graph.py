"""Pictures of the machine, drawn by `transitions` itself."""

from __future__ import annotations

from jetbox.machine import MachineSpec


class _Blank:
    """A stand-in model: drawing needs no run."""


def mermaid(spec: MachineSpec) -> str:
    """machine.yaml as a Mermaid state diagram (transitions' own mermaid engine)."""
    from transitions.extensions import GraphMachine

    model = _Blank()
    GraphMachine(model=model, states=spec.states_config(),
                           transitions=spec.transitions_config(), initial=spec.initial,
                           auto_transitions=False, graph_engine="mermaid", show_conditions=True,
                           title=f"Jetbox machine ({spec.path.name})")
    source = model.get_graph().draw(None)  # type: ignore[attr-defined]
    return source if source.endswith("\n") else source + "\n"
