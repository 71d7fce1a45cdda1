"""The trust boundary for configuration: what can weaken safety or redirect traffic
(machine.yaml, its handler modules, [tool.jetbox]) may change during a run only when a
person accepts it, because the model or a command it ran could have written it."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetbox.core.errors import ConfigError
from jetbox.core.fsutil import read_config, sha256
from jetbox.engine.usercode import user_module_file, user_module_sources
from jetbox.exec.interpreter import VENV_NAMES
from jetbox.spec.machine import PACKAGED_MACHINE, MachineSpec
from jetbox.store import records as rec
from jetbox.store.acts import ConfigSeen, ConfigTrusted
from jetbox.store.ledger import Ledger
from jetbox.store.records import CONFIG_SEEN, CONFIG_TRUSTED, Records
from jetbox.store.workspace import MACHINE_NAME

RECORD = CONFIG_TRUSTED
SEEN = CONFIG_SEEN
ABSENT = "absent"
ACCEPT = ("review it, then run again with --trust-config to accept it, or with --fresh to "
          "start a new run")


def _file_digest(path: Path, what: str = "configuration") -> str:
    """The file's sha256, or `absent`; a FIFO or a device there is a clear error."""
    data = read_config(path, what)
    return ABSENT if data is None else sha256(data)


def jetbox_table(workspace: Path) -> Any:
    """[tool.jetbox] of the workspace's pyproject.toml as parsed, or None."""
    raw = read_config(workspace / "pyproject.toml", "the project's settings")
    try:
        data = tomllib.loads((raw or b"").decode("utf-8", errors="replace"))
    except tomllib.TOMLDecodeError:
        return None
    tool = data.get("tool")
    return tool.get("jetbox") if isinstance(tool, dict) else None


def _table_digest(workspace: Path) -> str:
    table = jetbox_table(workspace)
    if table is None:  # the rest of pyproject.toml is the model's to edit
        return ABSENT
    return sha256(json.dumps(table, sort_keys=True, default=str).encode("utf-8"))


def _user_modules(spec: MachineSpec) -> list[str]:
    names = [state.handler.partition(":")[0] for state in spec.states]
    names += [name.partition(":")[0] for t in spec.transitions
              for name in (*t.conditions, *t.unless) if ":" in name]
    return sorted({name for name in names if name != "states" and
                   not name.startswith("states.")})


def config_digests(spec: MachineSpec, workspace: Path) -> dict[str, str]:
    """What each configuration input is now: a sha256, or `absent`."""
    own = workspace / MACHINE_NAME
    in_use = spec.path.resolve()
    if in_use == PACKAGED_MACHINE.resolve():
        machine = "the packaged machine.yaml"
    elif in_use == own.resolve():
        machine = f"the workspace's {MACHINE_NAME}"
    else:
        machine = f"{in_use} sha256 {_file_digest(in_use)}"
    digests = {"the machine file in use": machine,
               f"the workspace's {MACHINE_NAME}": _file_digest(own),
               "pyproject.toml [tool.jetbox]": _table_digest(workspace)}
    for name in VENV_NAMES:  # a venv that appears would be run as the project's Python
        digests[f"the workspace's {name}/ (a virtual environment)"] = \
            _file_digest(workspace / name / "pyvenv.cfg", "a virtual environment's marker")
    for name in _user_modules(spec):
        digests.update(_module_digests(name, spec.path))
    return digests


def _module_digests(name: str, machine: Path) -> dict[str, str]:
    """A handler module's file; a package's every .py (usercode loads no more), each named,
    so that a refusal says which file changed."""
    key = f"handler module `{name}` beside {machine.name}"
    file = user_module_file(name, machine.parent)
    if file is None:
        return {key: ABSENT}
    if file.name != "__init__.py":
        return {key: _file_digest(file, "a handler module")}
    digests = {key: "a package"}
    for source in user_module_sources(file):
        where = source.relative_to(machine.parent).as_posix()
        digests[f"{key}, its {where}"] = _file_digest(source, "a handler module")
    return digests


def _describe(key: str, old: str | None, new: str | None, table: Any, old_table: Any,
              when: str = "since this run started") -> str:
    if key == "pyproject.toml [tool.jetbox]" and isinstance(table, dict):
        before = old_table if isinstance(old_table, dict) else {}
        diff = [f"{name} = {value!r}" for name, value in table.items()
                if before.get(name, object()) != value]
        if diff:
            return f"{key} changed {when} (now sets {', '.join(diff)})"
    if old in (None, ABSENT):
        return f"{key} appeared {when}"
    if new in (None, ABSENT):
        return f"{key} disappeared {when}"
    return f"{key} changed {when}"


@dataclass(frozen=True)
class ConfigTrust:
    """The configuration as it is now, and why it must be recorded (None: it need not)."""

    digests: Mapping[str, str]
    table: Any
    reason: str | None

    def record(self, ledger: Ledger) -> None:
        if self.reason is not None:
            ledger.append(ConfigTrusted(reason=self.reason, inputs=dict(self.digests),
                                        jetbox_table=self.table))


def check_config(spec: MachineSpec, workspace: Path, ledger: Ledger, resuming: bool,
                 accept: bool) -> ConfigTrust:
    """On a resume, refuse configuration that changed since the run last trusted it."""
    digests, table = config_digests(spec, workspace), jetbox_table(workspace)
    if not resuming:
        changes = _made_during_a_run(ledger.records(), digests, table)
        if not changes:
            return ConfigTrust(digests, table, "run start")
        if accept:
            return ConfigTrust(digests, table, "--trust-config: " + "; ".join(changes))
        raise ConfigError(f"{'; '.join(changes)}; the model or a command it ran may have "
                          f"written it, and a new run would obey it; review it, then run "
                          f"again with --trust-config to accept it")
    trusted = rec.last_of(ledger.current_run(), ConfigTrusted)
    if trusted is None:  # a run begun before Jetbox recorded its configuration
        return ConfigTrust(digests, table, "first check of this run")
    old = trusted.inputs
    changes = [_describe(key, old.get(key), digests.get(key), table, trusted.jetbox_table)
               for key in sorted({*old, *digests}) if old.get(key) != digests.get(key)]
    if not changes:
        return ConfigTrust(digests, table, None)
    if accept:
        return ConfigTrust(digests, table, "--trust-config: " + "; ".join(changes))
    raise ConfigError(f"{'; '.join(changes)}; the model or a command it ran may have written "
                      f"it; {ACCEPT}")


def record_seen(spec: MachineSpec, workspace: Path, ledger: Ledger) -> None:
    """At the end of a session, the configuration as the run leaves it: the next start tells
    a change made during the run (untrusted) from a person's edit after it."""
    ledger.append(ConfigSeen(inputs=config_digests(spec, workspace),
                             jetbox_table=jetbox_table(workspace)))


def _made_during_a_run(records: Records, digests: Mapping[str, str], table: Any) -> list[str]:
    """What differs now from the configuration the last run trusted and changed while that
    run went on: between its trust record and its last `config_seen` (all of it, when the
    session ended without one: killed, so nobody can tell). A person's edit after the
    session ended is theirs and is not asked about."""
    at = next((i for i in range(len(records) - 1, -1, -1)
               if isinstance(records[i], ConfigTrusted)), None)
    if at is None:
        return []
    trusted = records[at]
    assert isinstance(trusted, ConfigTrusted)
    seen = rec.last_of(records[at + 1:], ConfigSeen)
    old, end = trusted.inputs, (seen.inputs if seen else None)
    runs = [r for r in records[:at + 1] if r.kind == rec.RUN_START]
    goal = rec.run_goal(runs[-1:]) if runs else None
    when = f"during run {len(runs)}" + (f" ({goal!r})" if goal else "")
    changes = []
    for key in sorted(digests):
        if key == "the machine file in use" or digests[key] == old.get(key):
            continue  # the first: chosen on the command line for this run
        if end is not None and end.get(key) == old.get(key):
            continue  # unchanged when the session ended: changed after it, by a person
        changes.append(_describe(key, old.get(key), digests[key], table,
                                 trusted.jetbox_table, when))
    return changes


# --- Folder trust: a folder's own configuration is obeyed only once a person accepted it ---
#
# A cloned repository is an attacker beside the model: its `[tool.jetbox]` can turn the
# sandbox off or pass a secret to its tests, and its machine.yaml can name handler code that
# Jetbox would import. So before the first run in a folder that brings any of these, a
# person accepts what it brings, once, remembered outside the folder (a user-level file
# keyed by the resolved folder and the sha256 of exactly what was accepted). Environment
# variables and command-line flags are the person's own and never need it.

TRUST_FILE = "trusted.json"
CONFIG_DIR_ENV = "JETBOX_CONFIG_DIR"
# The settings that weaken safety or redirect traffic, and their values that do neither.
WEAKENING: dict[str, tuple[Any, ...]] = {
    "sandbox": ("auto", "bwrap"), "pass_env": ("",), "approve": (), "approve_skip": ((), []),
    "host": (), "python": ("",)}


def user_config_dir(environ: Mapping[str, str]) -> Path:
    """Where Jetbox keeps what a person decided for every folder: $JETBOX_CONFIG_DIR, else
    %APPDATA%\\jetbox on Windows, else $XDG_CONFIG_HOME/jetbox, else ~/.config/jetbox."""
    import os

    if environ.get(CONFIG_DIR_ENV, "").strip():
        return Path(environ[CONFIG_DIR_ENV].strip())
    if os.name == "nt" and environ.get("APPDATA"):
        return Path(environ["APPDATA"]) / "jetbox"
    xdg = environ.get("XDG_CONFIG_HOME", "").strip()
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "jetbox"
    return Path(environ.get("HOME") or Path.home()) / ".config" / "jetbox"


def _weakening_settings(workspace: Path) -> dict[str, Any]:
    """The [tool.jetbox] settings that weaken safety or redirect traffic, as written."""
    table = jetbox_table(workspace)
    if not isinstance(table, dict):
        return {}
    found = {}
    for raw, value in table.items():
        key = str(raw).replace("-", "_")
        if key in WEAKENING and value not in WEAKENING[key]:
            found[key] = value
    return found


def machine_brought(spec: MachineSpec, workspace: Path, explicit: Path | None) -> bool:
    """Whether the machine file in use came with the folder (inside the workspace) rather
    than from Jetbox or the command line. A machine.yaml found in the current folder while
    `-w` names another one is the person's own choice of where they run Jetbox from."""
    in_use = spec.path.resolve()
    if explicit is not None and explicit.resolve() == in_use:
        return False
    if in_use == PACKAGED_MACHINE.resolve():
        return False
    return in_use.is_relative_to(workspace.resolve())


def folder_findings(spec: MachineSpec, workspace: Path,
                    explicit: Path | None = None) -> dict[str, str]:
    """What the folder brings that a person must accept: each weakening setting with its
    value, the machine file in use and every handler or condition module beside it (sha256)."""
    found = {f"pyproject.toml [tool.jetbox] {key}": json.dumps(value, default=str)
             for key, value in sorted(_weakening_settings(workspace).items())}
    if machine_brought(spec, workspace, explicit):
        found[f"machine file {spec.path.resolve()}"] = _file_digest(spec.path.resolve())
        for name in _user_modules(spec):
            found.update(_module_digests(name, spec.path))
    return found


def describe_findings(findings: Mapping[str, str]) -> list[str]:
    """One line per finding, as a person reads it."""
    lines = []
    for key, value in findings.items():
        if key.startswith("pyproject.toml"):
            lines.append(f"{key} = {value}")
        elif value == ABSENT:
            lines.append(f"{key} (missing)")
        elif value == "a package":
            lines.append(f"{key} (a package; its files follow)")
        else:
            lines.append(f"{key} (sha256 {value[:12]})")
    return lines


def findings_digest(findings: Mapping[str, str]) -> str:
    return sha256(json.dumps(dict(findings), sort_keys=True).encode("utf-8"))


def _trust_path(environ: Mapping[str, str]) -> Path:
    return user_config_dir(environ) / TRUST_FILE


def _trusted(environ: Mapping[str, str]) -> dict[str, Any]:
    path = _trust_path(environ)
    raw = read_config(path, "the folders you trust")
    if raw is None:
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc}); fix or delete it (every folder "
                          f"is then asked about again)") from None
    folders = data.get("folders") if isinstance(data, dict) else None
    return folders if isinstance(folders, dict) else {}


def is_trusted(workspace: Path, findings: Mapping[str, str],
               environ: Mapping[str, str]) -> bool:
    entry = _trusted(environ).get(str(workspace.resolve()))
    return isinstance(entry, dict) and entry.get("digest") == findings_digest(findings)


def remember_trust(workspace: Path, findings: Mapping[str, str],
                   environ: Mapping[str, str]) -> Path:
    """Record that a person accepted exactly `findings` for this folder; the file's path."""
    from datetime import UTC, datetime

    from jetbox.core.fsutil import atomic_write_text

    folders = _trusted(environ)
    folders[str(workspace.resolve())] = {
        "digest": findings_digest(findings), "accepted": describe_findings(findings),
        "at": datetime.now(UTC).isoformat(timespec="seconds")}
    path = _trust_path(environ)
    atomic_write_text(path, json.dumps({"folders": folders}, indent=2, sort_keys=True) + "\n")
    return path


def accept_command(workspace: Path) -> str:
    import shlex

    return f"jetbox trust -w {shlex.quote(str(workspace.resolve()))}"


def check_folder(findings: Mapping[str, str], workspace: Path, environ: Mapping[str, str],
                 accept: bool, ask: Callable[[str], bool] | None = None) -> str | None:
    """Before anything a folder brings is obeyed or imported: trusted already (None, or
    nothing to trust), accepted now (what was accepted, remembered), or refused (exit 2)
    with the one command that accepts it."""
    if not findings or is_trusted(workspace, findings, environ):
        return None
    lines = describe_findings(findings)
    shown = "; ".join(lines)
    where = str(workspace.resolve())
    if not accept and ask is not None:
        accept = bool(ask(f"{where} is not trusted yet. It brings configuration that weakens "
                          f"safety, redirects traffic or runs its own code in Jetbox: {shown}. "
                          f"Trust this folder and obey it?"))
        if not accept:
            raise ConfigError(f"{where} not trusted: nothing ran; review what it brings "
                              f"({shown}), then accept it with: {accept_command(workspace)}")
    if not accept:
        raise ConfigError(f"{where} is not trusted yet, and it brings configuration that "
                          f"weakens safety, redirects traffic or runs its own code: {shown}; "
                          f"nothing ran. Review it, then accept it with: "
                          f"{accept_command(workspace)}")
    remember_trust(workspace, findings, environ)
    return shown
