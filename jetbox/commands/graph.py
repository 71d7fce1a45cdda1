"""Pictures of the machine, drawn by `transitions` itself: Mermaid text, or Graphviz."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from jetbox.core.errors import UsageError
from jetbox.spec.machine import MachineSpec

FORMATS = ("mermaid", "dot", "svg", "png")
GRAPHVIZ_HINT = ("Graphviz is needed for dot, svg and png: `pip install \"jetbox[graph]\"` (the "
                 "graphviz Python package) and the `dot` program (Debian/Ubuntu: `apt install "
                 "graphviz`; macOS: `brew install graphviz`; Windows: `winget install graphviz`)")
VISITED = "s_previous"  # transitions' own class for states the run has been in


class _Blank:
    """A stand-in model: drawing needs no run."""

    # Bound by GraphMachine. It returns a graphviz.Digraph or transitions' Mermaid graph,
    # neither of them typed: graphviz ships no annotations, and transitions declares only
    # their `draw`, while graphviz_source and render use the Digraph's node, attr and pipe.
    get_graph: Callable[[], Any]


def _graph(spec: MachineSpec, engine: Literal["graphviz", "mermaid"],
           current: str | None) -> Any:
    """The graph transitions draws of the machine, with `current` as its active state."""
    from transitions.extensions import GraphMachine

    model = _Blank()
    GraphMachine(model=model, states=spec.states_config(), transitions=spec.transitions_config(),
                 initial=current or spec.initial, auto_transitions=False, graph_engine=engine,
                 show_conditions=True, title=f"Jetbox machine ({spec.path.name})")
    return model.get_graph()


def mermaid(spec: MachineSpec, current: str | None = None, path: Sequence[str] = ()) -> str:
    """machine.yaml as a Mermaid state diagram (transitions' mermaid engine, made valid)."""
    source = _graph(spec, "mermaid", current).draw(None)
    lines = source.splitlines()
    # transitions writes the front matter title as a bare line and `Class`; Mermaid wants
    # `title: ...` and lower-case `class`.
    if lines[:1] == ["---"] and not lines[1].startswith("title:"):
        lines[1] = f"title: {lines[1]}"
    lines = [re.sub(r"^(\s*)Class ", r"\1class ", line) for line in lines]
    if current is None:  # no run: nothing is active
        lines = [re.sub(r"^(\s*class \w+) s_active$", r"\1 s_default", line) for line in lines]
    if current is not None:  # drawn from `current` for the colours; the start stays the start
        lines = [f"  [*] --> {spec.initial}" if line.strip() == f"[*] --> {current}" else line
                 for line in lines]
    visited = set(path) - {current}
    lines = [_mark_visited(line, visited) for line in lines]
    lines = [line.rstrip() for line in lines]
    lines += [f"  {state.name} --> [*]" for state in spec.states if state.final]
    return "\n".join(lines) + "\n"


def _mark_visited(line: str, visited: set[str]) -> str:
    match = re.match(r"^(\s*)class (\w+) s_default$", line)
    if match and match.group(2) in visited:
        return f"{match.group(1)}class {match.group(2)} {VISITED}"
    return line


def graphviz_source(spec: MachineSpec, current: str | None = None,
                    path: Sequence[str] = ()) -> Any:
    """A graphviz.Digraph of the machine (transitions' graphviz engine), path marked."""
    try:
        import graphviz  # noqa: F401 - transitions needs it; fail here with a clear message
    except ImportError:
        raise UsageError(GRAPHVIZ_HINT) from None
    graph = _graph(spec, "graphviz", current)
    for state in set(path) - {current}:
        graph.node(state, style="rounded,filled", fillcolor="azure2", color="blue")
    if path:
        graph.attr(label=f"path taken: {' -> '.join(_collapse(path))}", labelloc="b")
    return graph


def render(spec: MachineSpec, fmt: str, current: str | None = None,
           path: Sequence[str] = ()) -> bytes:
    """The picture in one of FORMATS, as bytes."""
    if fmt == "mermaid":
        return mermaid(spec, current, path).encode("utf-8")
    graph = graphviz_source(spec, current, path)
    if fmt == "dot":
        return graph.source.encode("utf-8")
    import graphviz

    try:
        return graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise UsageError(GRAPHVIZ_HINT) from None


def _collapse(path: Sequence[str], limit: int = 12) -> list[str]:
    """The path for a label: the last `limit` steps."""
    steps = list(path)
    return (["..."] + steps[-limit:]) if len(steps) > limit else steps


def run_path(ledger_path: Path) -> list[str]:
    """The states a run went through, from its ledger's transitions."""
    from jetbox.store.ledger import Ledger
    from jetbox.store.queries import visited_states

    return visited_states(Ledger(ledger_path).current_run()) if ledger_path.exists() else []
