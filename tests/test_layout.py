"""The package layout tells the architecture: subpackages in layers, each importing only its
own layer and the ones below, no import cycles (type-only and function-local imports count),
and small modules and functions. Read with `ast`, so nothing is imported to check it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module may import its own subpackage and any lower one, never a higher one.
LAYERS = ("core", "store", "exec", "tools", "probes", "spec", "model", "offline", "round",
          "engine", "states", "commands", "jetbox")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> dict[str, Path]:
    files = [*ROOT.glob("jetbox/**/*.py"), *ROOT.glob("states/*.py")]
    return {module_name(p): p for p in files}


def imported(path: Path, known: set[str]) -> Iterator[str]:
    """Every Jetbox module `path` imports, anywhere in the file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known
                     else node.module for a in node.names]
        else:
            continue
        yield from (n for n in names if n in known)


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[0] if parts[0] == "states" else (parts[1] if len(parts) > 2 else
                                                  "jetbox" if len(parts) < 2 or
                                                  parts[1] not in LAYERS else parts[1])


def graph() -> dict[str, set[str]]:
    files = sources()
    return {m: set(imported(p, set(files))) - {m} for m, p in files.items()}


def test_every_subpackage_has_a_layer() -> None:
    folders = {p.parent.name for p in ROOT.glob("jetbox/*/__init__.py")}
    assert folders <= set(LAYERS), f"give these a layer in LAYERS: {folders - set(LAYERS)}"


def climbs(deps: dict[str, set[str]]) -> list[str]:
    return sorted(f"{m} -> {d}" for m, targets in deps.items() for d in targets
                  if LAYERS.index(layer(d)) > LAYERS.index(layer(m)))


def cycles(deps: dict[str, set[str]]) -> list[str]:
    found = set()
    for start in deps:
        stack, seen = [(start, (start,))], set()
        while stack:
            node, path = stack.pop()
            for nxt in deps.get(node, ()):
                if nxt == start:
                    found.add(" -> ".join((*path, start)))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, (*path, nxt)))
    return sorted(found)


def test_no_import_climbs_to_a_higher_layer() -> None:
    upward = climbs(graph())
    assert not upward, "imports that climb:\n" + "\n".join(upward)


def test_no_import_cycles() -> None:
    found = cycles(graph())
    assert not found, "import cycles:\n" + "\n".join(found[:20])


def test_the_checker_sees_a_cycle_and_a_climb() -> None:
    """The checks above can fail: a planted cycle and a planted upward import are reported."""
    planted = {"jetbox.store.ledger": {"jetbox.engine.loop"},
               "jetbox.engine.loop": {"jetbox.store.ledger"}, "jetbox.cli": set()}
    assert climbs(planted) == ["jetbox.store.ledger -> jetbox.engine.loop"]
    assert "jetbox.engine.loop -> jetbox.store.ledger -> jetbox.engine.loop" in cycles(planted)
    assert layer("states.act") == "states" and layer("jetbox.cli") == "jetbox"
