"""machine.yaml: loaded with line numbers, validated whole, built into a `transitions` Machine."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from jetbox.core.errors import ConfigError
from jetbox.core.fsutil import read_config
from jetbox.probes.runner import ProbeSpec, probe_specs_from_yaml
from jetbox.spec.compaction import CompactionPolicy
from jetbox.spec.config import Settings, did_you_mean
from jetbox.tools.policy import ToolPolicy

PACKAGED_MACHINE = Path(__file__).resolve().parent.parent / "machine.yaml"
TOP_KEYS = {"initial", "states", "transitions", "limits", "settings", "probes", "tools",
            "compaction"}
STATE_KEYS = {"name", "handler", "final", "pause", "__line__", "__lines__"}
TRANSITION_KEYS = {"trigger", "source", "dest", "conditions", "unless", "__line__", "__lines__"}


@dataclass(frozen=True)
class StateSpec:
    name: str
    handler: str  # dotted path "module:Class"
    final: bool
    line: int
    handler_line: int
    pause: bool = False  # reached during a run, it ends the invocation with exit 3


@dataclass(frozen=True)
class TransitionSpec:
    trigger: str
    sources: tuple[str, ...]
    dest: str
    conditions: tuple[str, ...]
    unless: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class MachineSpec:
    """A validated machine.yaml, parsed once: the rest of Jetbox receives this, never YAML."""

    path: Path
    initial: str
    states: tuple[StateSpec, ...]
    transitions: tuple[TransitionSpec, ...]
    defaults: Mapping[str, Any]  # limits + settings, lowest-precedence settings
    compaction: CompactionPolicy
    probes: tuple[ProbeSpec, ...]
    tools: ToolPolicy  # the argument policy before the sandbox is resolved

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(state.name for state in self.states)

    def state(self, name: str) -> StateSpec:
        return next(state for state in self.states if state.name == name)

    def is_final(self, name: str) -> bool:
        return self.state(name).final

    def is_pause(self, name: str) -> bool:
        return self.state(name).pause

    def routes(self, state: str, trigger: str) -> bool:
        """Whether some transition leaves `state` on `trigger` (a handler's optional outcome
        is only returned where the machine routes it)."""
        return any(t.trigger == trigger and (state in t.sources or t.sources == ("*",))
                   for t in self.transitions)

    def transitions_config(self) -> list[dict[str, Any]]:
        """The transitions in `transitions.Machine(transitions=...)` form."""
        return [{
            "trigger": t.trigger,
            "source": list(t.sources),
            "dest": t.dest,
            **({"conditions": list(t.conditions)} if t.conditions else {}),
            **({"unless": list(t.unless)} if t.unless else {}),
        } for t in self.transitions]

    def states_config(self) -> list[dict[str, Any]]:
        return [{"name": s.name, **({"final": True} if s.final else {})} for s in self.states]


try:  # libyaml's parser where PyYAML has it: 5x faster than pure Python, at every start
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - a PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _LineLoader(_SafeLoader):
    """A SafeLoader that remembers the line of every mapping, for error messages."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    mapping["__lines__"] = {key.value: key.start_mark.line + 1 for key, value in node.value
                            if isinstance(key, yaml.ScalarNode)}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items()
                if k not in ("__line__", "__lines__")}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def _names(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
        raise ConfigError(f"{where}: expected a name or a list of names, got {value!r}")
    return tuple(items)


def load_machine(path: Path) -> MachineSpec:
    """Read and validate machine.yaml; every problem is a ConfigError naming file and line."""
    raw = read_config(path, "the machine file")
    if raw is None:
        raise ConfigError(f"{path}: cannot read machine file: no such file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the machine file is not UTF-8 ({exc})") from None
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError.invalid_yaml(path, exc) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with `states` and `transitions`")
    return _parse(path, data)


def _parse(path: Path, data: dict[str, Any]) -> MachineSpec:
    unknown = sorted(set(data) - TOP_KEYS - {"__line__", "__lines__"})
    if unknown:
        line = data["__lines__"].get(unknown[0], 1)
        raise ConfigError(f"{path}:{line}: unknown top-level key(s) {unknown}"
                          f"{did_you_mean(unknown[0], TOP_KEYS)}; known: "
                          f"{sorted(TOP_KEYS)} (conditions go in a transition's `conditions:`)")
    states = tuple(_parse_state(path, i, raw) for i, raw in enumerate(_list(path, data, "states")))
    if not states:
        raise ConfigError(f"{path}: `states` is empty")
    seen: set[str] = set()
    for state in states:
        if state.name in seen:
            raise ConfigError(f"{path}:{state.line}: state `{state.name}` is declared twice")
        seen.add(state.name)
    transitions = tuple(_parse_transition(path, raw)
                        for raw in _list(path, data, "transitions"))
    initial = data.get("initial", states[0].name)
    defaults = {**_settings(path, data, "settings"), **_settings(path, data, "limits")}
    spec = MachineSpec(path, str(initial), states, transitions, defaults,
                       CompactionPolicy.from_mapping(_strip_lines(data.get("compaction"))),
                       probe_specs_from_yaml(_strip_lines(data.get("probes")), str(path)),
                       ToolPolicy.from_mapping(_strip_lines(data.get("tools")) or {}))
    validate_graph(spec, data.get("__line__", 1))
    return spec


def _list(path: Path, data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise ConfigError(f"{path}: `{key}` must be a list")
    return value


def _mapping(path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: `{key}` must be a mapping")
    return _strip_lines(value)


def _settings(path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    """A `settings:` or `limits:` section, each key a known setting: a misspelling is
    reported at its line, with the setting it probably meant."""
    value = _mapping(path, data, key)
    known = Settings.names()
    for name in value:
        if str(name).replace("-", "_") not in known:
            line = data[key].get("__lines__", {}).get(name, data[key].get("__line__", 1))
            raise ConfigError(f"{path}:{line}: unknown setting `{name}` in `{key}:`"
                              f"{did_you_mean(str(name), known)}; known settings: "
                              f"{', '.join(sorted(known))}")
    return value


def _parse_state(path: Path, index: int, raw: Any) -> StateSpec:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise ConfigError(f"{path}: states[{index}] must be a mapping with `name` and `handler`")
    line = raw["__line__"]
    unknown = set(raw) - STATE_KEYS
    if unknown:
        raise ConfigError(f"{path}:{line}: state `{raw['name']}` has unknown key(s) "
                          f"{sorted(unknown)}")
    handler = raw.get("handler")
    if not isinstance(handler, str) or ":" not in handler:
        raise ConfigError(f"{path}:{line}: state `{raw['name']}` needs `handler: module:Class`")
    if raw.get("pause") and raw.get("final"):
        raise ConfigError(f"{path}:{line}: state `{raw['name']}` cannot be both `final` (the "
                          f"run is done) and `pause` (the run stops here for now)")
    return StateSpec(raw["name"], handler, bool(raw.get("final", False)), line,
                     raw["__lines__"].get("handler", line), bool(raw.get("pause", False)))


def _parse_transition(path: Path, raw: Any) -> TransitionSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: each transition must be a mapping, got {raw!r}")
    line = raw["__line__"]
    where = f"{path}:{line}"
    unknown = set(raw) - TRANSITION_KEYS
    if unknown:
        raise ConfigError(f"{where}: transition has unknown key(s) {sorted(unknown)}")
    for key in ("trigger", "source", "dest"):
        if key not in raw:
            raise ConfigError(f"{where}: transition needs `{key}`")
    return TransitionSpec(
        trigger=str(raw["trigger"]),
        sources=_names(raw["source"], where),
        dest=str(raw["dest"]),
        conditions=_names(raw.get("conditions"), where),
        unless=_names(raw.get("unless"), where),
        line=line,
    )


def validate_graph(spec: MachineSpec, top_line: int = 1) -> None:
    """Structural checks: names, reachability, a way to finish from everywhere."""
    names = set(spec.state_names)
    if spec.initial not in names:
        raise ConfigError(f"{spec.path}: initial state `{spec.initial}` is not declared; "
                          f"states: {', '.join(spec.state_names)}")
    edges: dict[str, set[str]] = {name: set() for name in names}
    for t in spec.transitions:
        sources = names if t.sources == ("*",) else set(t.sources)
        for name in [*sources, t.dest]:
            if name not in names:
                raise ConfigError(f"{spec.path}:{t.line}: transition `{t.trigger}` names unknown "
                                  f"state `{name}`; states: {', '.join(spec.state_names)}")
        for source in sources:
            edges[source].add(t.dest)
    finals = {s.name for s in spec.states if s.final}
    if not finals:
        raise ConfigError(f"{spec.path}: no final state; mark one with `final: true`")
    reachable = _closure({spec.initial}, edges)
    for state in spec.states:
        if state.name not in reachable:
            raise ConfigError(f"{spec.path}:{state.line}: state `{state.name}` is unreachable "
                              f"from the initial state `{spec.initial}`")
    reverse: dict[str, set[str]] = {name: set() for name in names}
    for source, dests in edges.items():
        for dest in dests:
            reverse[dest].add(source)
    can_finish = _closure(finals, reverse)
    for state in spec.states:
        if state.name not in can_finish:
            raise ConfigError(f"{spec.path}:{state.line}: state `{state.name}` has no path to a "
                              f"final state ({', '.join(sorted(finals))})")


def _closure(start: set[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        for nxt in edges[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
