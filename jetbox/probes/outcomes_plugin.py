"""Jetbox's pytest plugin: each test's outcome as pytest decided it, written as JSON next to
this file (a folder outside the workspace). Probes load a copy under a random module name
with `-p`, so no workspace module can stand in for it; it runs in the project's Python and
imports nothing from Jetbox. Test names and printed output never reach this channel."""

from __future__ import annotations

import json
import os
import types
from pathlib import Path
from typing import Any

import pytest

_OUT = Path(__file__).with_name("outcomes.json")
_outcomes: dict[str, str] = {}
_before_tests: set[int] = set()  # the plugins registered when the tests started to run


def _record(nodeid: str, outcome: str) -> None:
    # A test has up to three reports (setup, call, teardown): a failure anywhere wins.
    if _outcomes.get(nodeid) in ("failed", "error") and outcome not in ("failed", "error"):
        return
    _outcomes[nodeid] = outcome


def pytest_runtest_logreport(report: Any) -> None:
    marked = hasattr(report, "wasxfail")
    if report.passed:
        if report.when == "call":
            _record(report.nodeid, "xpassed" if marked else "passed")
    elif report.skipped:
        _record(report.nodeid, "xfailed" if marked else "skipped")
    elif report.when == "call":
        _record(report.nodeid, "failed")
    elif _outcomes.get(report.nodeid) != "failed":
        _record(report.nodeid, "error")


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        _record(report.nodeid or ".", "error")


def pytest_deselected(items: list[Any]) -> None:
    for item in items:
        _outcomes.setdefault(item.nodeid, "deselected")


def _workspace_plugins(config: Any) -> list[str]:
    """Plugin modules (conftest files included) loaded from inside the rootdir."""
    root = os.path.realpath(str(getattr(config, "rootpath", None) or config.rootdir))
    found = set()
    for _name, plugin in config.pluginmanager.list_name_plugin():
        where = getattr(plugin, "__file__", None)
        if not isinstance(where, str):
            continue
        path = os.path.realpath(where)
        if path.startswith(os.path.join(root, "")):
            found.add(os.path.relpath(path, root).replace(os.sep, "/"))
    return sorted(found)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: Any) -> None:
    _before_tests.update(id(p) for p in session.config.pluginmanager.get_plugins())


def _late_plugins(config: Any) -> list[str]:
    """Plugins registered while the tests ran: code under test that reaches pytest (through
    gc, say) and rewrites its reports. Named by their type, so the same project code gives
    the same names at the baseline and later."""
    if not _before_tests:
        return []  # no test ran (collection failed, or --collect-only)
    return sorted({_name(p) for p in config.pluginmanager.get_plugins()
                   if id(p) not in _before_tests})


def _name(plugin: Any) -> str:
    if isinstance(plugin, types.ModuleType):
        return plugin.__name__
    kind = plugin if isinstance(plugin, type) else type(plugin)
    return f"{kind.__module__}.{kind.__qualname__}"


@pytest.hookimpl(trylast=True)  # the status as the other plugins left it
def pytest_sessionfinish(session: Any, exitstatus: Any) -> None:
    data = {"outcomes": _outcomes, "exitstatus": int(session.exitstatus),
            "plugins": _workspace_plugins(session.config),
            "late_plugins": _late_plugins(session.config)}
    _OUT.write_text(json.dumps(data), encoding="utf-8")

