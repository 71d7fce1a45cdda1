"""The handlers and conditions machine.yaml names, imported and checked; a person's own,
next to machine.yaml, are loaded from their file without touching sys.path."""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import os
import pkgutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jetbox.core.errors import ConfigError
from jetbox.core.fsutil import read_config

if TYPE_CHECKING:
    from jetbox.round.handler import Handler
    from jetbox.spec.machine import MachineSpec, StateSpec

BUILTIN = "states"  # what machine files call Jetbox's handlers: `states.workspace:Probe`
BUILTIN_PACKAGE = "jetbox.states"  # where they are: nothing is installed as `states`


def is_builtin(module_name: str) -> bool:
    return module_name == BUILTIN or module_name.startswith(BUILTIN + ".")


def alias_builtin_states() -> None:
    """In Jetbox's own process, `states` and `states.<name>` are the very modules of
    jetbox.states: machine files name `states.model:Ask`, and a person's handler may say
    `from states.workspace import Done`. Only sys.modules learns the alias; nothing installs a
    top-level `states` that other projects in the environment would import."""
    package = importlib.import_module(BUILTIN_PACKAGE)
    if sys.modules.get(BUILTIN) is package:
        return
    sys.modules[BUILTIN] = package
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{BUILTIN_PACKAGE}.{info.name}")
        sys.modules[f"{BUILTIN}.{info.name}"] = module
        setattr(package, info.name, module)


def user_module_file(module_name: str, search_dir: Path) -> Path | None:
    """The file next to machine.yaml that holds a user's `module_name`, if there is one.

    Jetbox's built-in `states.*` handlers always come from Jetbox itself."""
    if is_builtin(module_name):
        return None
    base = search_dir.joinpath(*module_name.split("."))
    for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def user_module_sources(file: Path) -> list[Path]:
    """Everything a user's module can load: the file, or for a package (`__init__.py`) every
    .py in its folder and below. The trust check hashes exactly these, and the loader
    below loads nothing else (no bytecode, no native extension)."""
    if file.name != "__init__.py":
        return [file]
    found = []
    for folder, dirs, files in os.walk(file.parent):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found += [Path(folder) / name for name in sorted(files) if name.endswith(".py")]
    return found


def sources_digest(file: Path) -> str:
    """One sha256 of every source user_module_sources names (paths and contents)."""
    total = hashlib.sha256()
    for source in user_module_sources(file):
        data = read_config(source, "a handler module") or b""
        total.update(f"{source.relative_to(file.parent)}\0".encode("utf-8", "surrogateescape"))
        total.update(hashlib.sha256(data).digest())
    return total.hexdigest()


class _SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """Compiles the .py source each time: a planted __pycache__/*.pyc is never read."""

    def get_code(self, fullname: str) -> Any:
        return compile(self.get_data(self.path), self.path, "exec", dont_inherit=True)

    def set_data(self, path: str, data: object, *, _mode: int = 0o666) -> None:
        return None  # and no bytecode is written beside the person's files


class _PackageFinder(importlib.abc.MetaPathFinder):
    """Submodules of a user's package: its .py sources only; anything else is refused."""

    def __init__(self, private: str, folder: Path) -> None:
        self.private, self.folder = private, folder

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if not fullname.startswith(self.private + "."):
            return None
        base = self.folder.joinpath(*fullname[len(self.private) + 1:].split("."))
        package, module = base / "__init__.py", base.with_name(base.name + ".py")
        file = package if package.is_file() else module if module.is_file() else None
        if file is None:
            raise ImportError(f"{fullname}: a handler package loads only .py sources from "
                              f"{self.folder}, and {base.name}.py is not there")
        return _source_spec(fullname, file)


def _source_spec(name: str, file: Path) -> Any:
    loader = _SourceOnlyLoader(name, str(file))
    spec = importlib.util.spec_from_file_location(name, file, loader=loader,
                                                  submodule_search_locations=[])
    if spec is not None and file.name != "__init__.py":
        spec.submodule_search_locations = None
    return spec


def _load_by_path(module_name: str, file: Path) -> Any:
    """Load one file (or package) as a module under a private name: sys.path is never
    touched, so nothing else in the workspace can shadow a module Jetbox or its children
    import; the name carries the digest of every source, so a changed one loads anew."""
    key = hashlib.sha256(f"{file.resolve()}\0{sources_digest(file)}".encode(
        "utf-8", "surrogateescape")).hexdigest()[:16]
    private = f"_jetbox_user_{key}_{module_name.replace('.', '_')}"
    if private in sys.modules:
        return sys.modules[private]
    if file.name == "__init__.py":
        sys.meta_path.insert(0, _PackageFinder(private, file.parent))
    spec = _source_spec(private, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[private] = module  # dataclasses and pickling look a module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[private]
        raise
    return module


def import_object(dotted: str, search_dir: Path | None = None) -> Any:
    """`module:attr`: a user's module from its file next to machine.yaml, else imported."""
    module_name, _, attr = dotted.partition(":")
    alias_builtin_states()  # before a person's module, which may import `states.done`
    if is_builtin(module_name):
        try:
            module = importlib.import_module(f"jetbox.{module_name}")
        except ModuleNotFoundError:
            raise ImportError(f"Jetbox has no handler module `{module_name}`"
                              f"{_builtin_home(attr)}") from None
        return getattr(module, attr)
    file = user_module_file(module_name, search_dir) if search_dir is not None else None
    module = _load_by_path(module_name, file) if file else importlib.import_module(module_name)
    return getattr(module, attr)


def _builtin_home(attr: str) -> str:
    """Where Jetbox's handler `attr` lives, for an error naming a module that does not exist
    (a machine file written for another release): found by looking, not kept in a table."""
    package = importlib.import_module(BUILTIN_PACKAGE)
    homes = [f"{BUILTIN}.{info.name}:{attr}" for info in pkgutil.iter_modules(package.__path__)
             if isinstance(getattr(getattr(package, info.name, None), attr, None), type)]
    modules = ", ".join(f"{BUILTIN}.{info.name}" for info in pkgutil.iter_modules(package.__path__))
    return f"; `{attr}` is {' or '.join(homes)}" if homes else f"; its modules: {modules}"


def load_handlers(spec: MachineSpec) -> dict[str, Any]:
    """Import and check every handler: a Handler whose every outcome has a transition."""
    from jetbox.round.handler import Handler

    handlers: dict[str, Any] = {}
    for state in spec.states:
        where = f"{spec.path}:{state.handler_line}"
        try:
            cls = import_object(state.handler, spec.path.parent)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"{where}: handler `{state.handler}` of state `{state.name}` "
                              f"cannot be imported: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a user's module may fail in any way on import
            raise ConfigError(f"{where}: importing handler `{state.handler}` failed: "
                              f"{type(exc).__name__}: {exc}") from None
        if not (isinstance(cls, type) and issubclass(cls, Handler)):
            raise ConfigError(f"{where}: `{state.handler}` is not a handler (a subclass of "
                              f"jetbox.round.handler.Handler)")
        _check_signature(where, state.handler, cls)
        handlers[state.name] = cls()
        _check_outcomes(spec, state, cls)
    return handlers


def _check_signature(where: str, name: str, cls: type[Handler]) -> None:
    """A handler's run() takes the run and the round (a handler written for an older Jetbox
    took only the run): said now, not as a TypeError in the middle of a run."""
    try:
        inspect.signature(cls.run).bind(None, None, None)
    except TypeError:
        raise ConfigError(f"{where}: `{name}.run` must take (self, run, now) and return "
                          f"(outcome, round); see README, \"Customizing machine.yaml\"") from None


def _check_outcomes(spec: MachineSpec, state: StateSpec, cls: type[Handler]) -> None:
    if state.final:
        return
    triggers = {t.trigger for t in spec.transitions
                if state.name in t.sources or t.sources == ("*",)}
    for outcome in cls.outcomes:
        if outcome not in triggers:
            raise ConfigError(f"{spec.path}:{state.handler_line}: state `{state.name}`: its "
                              f"handler can return `{outcome}` but no transition from "
                              f"`{state.name}` has `trigger: {outcome}`")


def resolve_conditions(spec: MachineSpec, builtins: Mapping[str, Callable[..., Any]]
                       ) -> dict[str, Callable[..., Any]]:
    """Every condition machine.yaml names, as a `(run, now) -> bool` function: a built-in,
    or a person's `module:function`, imported here. Both are resolved the same way."""
    resolved: dict[str, Callable[..., Any]] = {}
    for t in spec.transitions:
        for name in (*t.conditions, *t.unless):
            if name in resolved:
                continue
            if name in builtins:
                resolved[name] = builtins[name]
                continue
            if ":" not in name:
                raise ConfigError(f"{spec.path}:{t.line}: unknown condition `{name}`; built-in "
                                  f"conditions: {', '.join(sorted(builtins))}, or use "
                                  f"`module:function` for your own")
            try:
                resolved[name] = import_object(name, spec.path.parent)
            except (ImportError, AttributeError) as exc:
                raise ConfigError(f"{spec.path}:{t.line}: condition `{name}` cannot be "
                                  f"imported: {exc}") from None
    return resolved
