"""Handlers and conditions a person wrote next to machine.yaml, loaded without sys.path."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any


def user_module_file(module_name: str, search_dir: Path) -> Path | None:
    """The file next to machine.yaml that holds a user's `module_name`, if there is one.

    Jetbox's built-in `states.*` handlers always come from Jetbox itself."""
    if module_name == "states" or module_name.startswith("states."):
        return None
    base = search_dir.joinpath(*module_name.split("."))
    for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _load_by_path(module_name: str, file: Path) -> Any:
    """Load one file as a module under a private name: sys.path is never touched, so
    nothing else in the workspace can shadow a module Jetbox or its children import."""
    data = file.read_bytes()
    key = hashlib.sha256(str(file.resolve()).encode() + b"\0" + data).hexdigest()[:16]
    private = f"_jetbox_user_{key}_{module_name.replace('.', '_')}"
    if private in sys.modules:
        return sys.modules[private]
    spec = importlib.util.spec_from_file_location(private, file)
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
    file = user_module_file(module_name, search_dir) if search_dir is not None else None
    module = _load_by_path(module_name, file) if file else importlib.import_module(module_name)
    return getattr(module, attr)
