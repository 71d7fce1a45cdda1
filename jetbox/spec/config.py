"""Settings: one frozen dataclass, filled from CLI > environment > pyproject > the user's
config file > machine.yaml."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from jetbox.core.errors import ConfigError

DEFAULT_MODEL = "gpt-oss:20b"
APPROVE_MODES = ("never", "commands", "changes", "all")


def _setting(default: Any, help: str, env: str | None = None) -> Any:
    return field(default=default, metadata={"help": help, "env": env})


@dataclass(frozen=True)
class Settings:
    """Everything a run can be tuned by; each field's help is the README's table."""

    model: str = _setting(DEFAULT_MODEL, "Ollama model to drive.", "OLLAMA_MODEL")
    host: str = _setting("", "Ollama server: HOST[:PORT] or a URL, in any form the ollama "
                         "client takes (localhost:11434, 0.0.0.0, https://x, [::1]:11434); "
                         "empty means http://127.0.0.1:11434.", "OLLAMA_HOST")
    max_rounds: int = _setting(20, "Rounds per invocation before pausing (exit 3).")
    timebox_s: float = _setting(900.0, "Seconds per invocation before pausing (exit 3).")
    request_timeout_s: float = _setting(200.0, "Wall-clock seconds one model request may "
                                        "take, streaming included (cut to what is left of the "
                                        "timebox) before it counts as failed. The defaults "
                                        "keep 1 + `retries` tries and their backoff inside "
                                        "`timebox_s`.")
    retries: int = _setting(3, "Retries of a failed model request (busy, 5xx, broken stream, "
                            "timeout) before the run pauses with exit 4.")
    retry_backoff_s: float = _setting(1.0, "First wait before a retry; it doubles each time.")
    temperature: float = _setting(0.2, "Sampling temperature sent to Ollama.")
    num_ctx: int = _setting(8192, "Context window requested from Ollama (its default is "
                            "often smaller and it truncates silently).")
    seed: int = _setting(-1, "Sampling seed sent to Ollama; -1 leaves it random.")
    think: str = _setting("", "Thinking level for models that think: low, medium, high, "
                          "or empty for the model's default.")
    protocol: str = _setting("auto", "How tool calls are exchanged: auto, tools (native) "
                             "or json (structured outputs).")
    sandbox: str = _setting("auto", "OS sandbox for commands and probes: auto, bwrap or none.")
    python: str = _setting("", "The project's Python (an executable or a venv folder) for its "
                           "python, pytest and pip; empty: $VIRTUAL_ENV, else a .venv/ or venv/ "
                           "in the workspace, else Jetbox's own.")
    known_failures: str = _setting("", "Comma-separated pytest ids known to fail: they may "
                                   "still fail at the end (status.txt `Known:` lines add more).")
    allow_test_changes: bool = _setting(False, "Let the run delete, skip, xfail or deselect "
                                        "tests that passed at the start and change test or "
                                        "lint configuration (for goals that ask for it); the "
                                        "verdict still uses the configuration the run started "
                                        "with, and the summary lists each change.")
    pass_env: str = _setting("", "Comma-separated names of environment variables that "
                             "commands and probes may see besides the allow-list (PATH, "
                             "HOME, LANG, the LC_ locale names, TMPDIR, ...; see Safety).")
    probe_focus: bool = _setting(True, "Between edits, run only the tests a change can "
                                 "affect (those failing, then those importing a changed "
                                 "module); the whole suite still runs at the start and to "
                                 "verify a finish. false: the whole suite every time.")
    max_tool_errors: int = _setting(5, "Malformed or refused tool calls in a row before "
                                    "the run pauses.")
    loop_limit: int = _setting(4, "Identical model replies in a row before the run pauses "
                               "with a red status.")
    stall_limit: int = _setting(8, "Rounds without progress (no file changed, no fewer "
                                "failures) before the run pauses with a red status.")
    approve: str = _setting("never", "Which calls a person approves first (state Approve): "
                            "never, commands (run_cmd, and writes of test code the pytest "
                            "probe runs), changes (also every write, edit, delete) or all.")
    approve_skip: tuple[str, ...] = _setting((), "Commands never asked about: a list (or "
                                             "comma-separated) of argv prefixes, e.g. "
                                             "[\"pytest -q\", \"ruff check\"]; never "
                                             "covers arguments that write files (--fix, "
                                             "-o, redirections).")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def _env_names(name: str) -> list[str]:
    """The variables a setting is read from, the first set one winning: Jetbox's own first,
    as GIT_EDITOR beats EDITOR; OLLAMA_MODEL and OLLAMA_HOST are kept after it (the seed's
    names; the ollama client reads OLLAMA_HOST too)."""
    spec = next(f for f in fields(Settings) if f.name == name)
    names = [f"JETBOX_{name.upper()}"]
    if spec.metadata.get("env"):
        names.append(spec.metadata["env"])
    return names


def _convert(name: str, value: Any, source: str) -> Any:
    spec = next(f for f in fields(Settings) if f.name == name)
    kind = type(spec.default) if spec.default is not MISSING else str
    try:
        if kind is tuple:
            return _string_list(value)
        if kind is bool:
            return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes"}
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(1e400)
        article = "an" if kind.__name__[0] in "aeiou" else "a"  # an int, a float
        raise ConfigError(f"{source}: `{name}` must be {article} {kind.__name__}, "
                          f"got {value!r}") from None


def _string_list(value: Any) -> tuple[str, ...]:
    """A list setting: a list of strings, or one string of comma-separated items."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise TypeError(value)
    return tuple(i.strip() for i in items if i.strip())


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean `x`?)` for a close misspelling, else nothing."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _checked(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    known = set(Settings.names())
    out: dict[str, Any] = {}
    for raw_key, value in values.items():
        key = raw_key.replace("-", "_")
        if key not in known:
            raise ConfigError(f"{source}: unknown setting `{raw_key}`{did_you_mean(key, known)}"
                              f"; known settings: {', '.join(sorted(known))}")
        out[key] = _convert(key, value, source)
    return out


def _toml(path: Path, what: str) -> dict[str, Any] | None:
    """A TOML file's table, None when there is no file."""
    # Imported here: `jetbox --help` builds this module's Settings for its defaults and
    # should not pay for TOML, hashing and temp files.
    import tomllib

    from jetbox.core.fsutil import read_config

    raw = read_config(path, what)
    if raw is None:
        return None
    try:
        return tomllib.loads(raw.decode("utf-8", errors="replace"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def user_config_path(environ: Mapping[str, str], platform: str = sys.platform) -> Path | None:
    """The person's own settings for every project: %APPDATA%\\jetbox\\config.toml on
    Windows, else $XDG_CONFIG_HOME/jetbox/config.toml (~/.config when unset)."""
    if platform == "win32":
        base = environ.get("APPDATA", "")
        return Path(base) / "jetbox" / "config.toml" if base else None
    base = environ.get("XDG_CONFIG_HOME", "")
    if not base and environ.get("HOME"):
        base = str(Path(environ["HOME"]) / ".config")
    return Path(base) / "jetbox" / "config.toml" if base else None


def user_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings in the user-level config file (top-level keys, as in [tool.jetbox])."""
    path = user_config_path(environ)
    data = None if path is None else _toml(path, "your Jetbox settings")
    return {} if data is None or path is None else _checked(data, str(path))


def pyproject_settings(workspace: Path) -> dict[str, Any]:
    """[tool.jetbox] from the workspace's pyproject.toml, if any."""
    path = workspace / "pyproject.toml"
    data = _toml(path, "the project's settings")
    if data is None:
        return {}
    tool = data.get("tool", {})
    if not isinstance(tool, dict):  # `tool = 5`: the file is valid TOML, just not this shape
        raise ConfigError(f"{path}: `tool` must be a table (Jetbox reads [tool.jetbox]); "
                          f"fix that key")
    section = tool.get("jetbox", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.jetbox] must be a table of settings, got "
                          f"{type(section).__name__}; fix that key")
    return _checked(section, f"{path} [tool.jetbox]")


def env_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings given through environment variables (OLLAMA_MODEL, JETBOX_MAX_ROUNDS, ...)."""
    out: dict[str, Any] = {}
    for name in Settings.names():
        for env_name in _env_names(name):
            if environ.get(env_name, "").strip():
                out[name] = _convert(name, environ[env_name].strip(), f"${env_name}")
                break
    return out


def resolve_settings(
    machine_defaults: Mapping[str, Any],
    workspace: Path,
    environ: Mapping[str, str],
    cli: Mapping[str, Any],
    machine_source: str = "machine.yaml",
) -> Settings:
    """Merge the five sources, highest precedence last."""
    merged: dict[str, Any] = {}
    merged.update(_checked(machine_defaults, machine_source))
    merged.update(user_settings(environ))
    merged.update(pyproject_settings(workspace))
    merged.update(env_settings(environ))
    merged.update(_checked({k: v for k, v in cli.items() if v is not None}, "command line"))
    settings = replace(Settings(), **merged)
    return validate(settings)


def setting_source(name: str, machine_defaults: Mapping[str, Any], workspace: Path,
                   environ: Mapping[str, str], cli: Mapping[str, Any]) -> str:
    """Where a setting's value came from, in resolve_settings' precedence: `--sandbox`,
    `$JETBOX_SANDBOX`, `setting in pyproject.toml`, `setting in machine.yaml` or `default`."""
    if cli.get(name) is not None:
        return f"--{name.replace('_', '-')}"
    env = next((e for e in _env_names(name) if environ.get(e, "").strip()), None)
    if env is not None:
        return f"${env}"
    if name in pyproject_settings(workspace):
        return "setting in pyproject.toml"
    if name in {k.replace("-", "_") for k in machine_defaults}:
        return "setting in machine.yaml"
    return "default"


def validate(settings: Settings) -> Settings:
    choices = {"protocol": ("auto", "tools", "json"), "sandbox": ("auto", "bwrap", "none"),
               "approve": APPROVE_MODES}
    for name, allowed in choices.items():
        if getattr(settings, name) not in allowed:
            raise ConfigError(f"`{name}` must be one of {', '.join(allowed)}, "
                              f"got {getattr(settings, name)!r}")
    for name in settings.pass_env.split(","):
        if name.strip() and not name.strip().replace("_", "").isalnum():
            raise ConfigError(f"`pass_env` lists {name.strip()!r}, which is not a variable "
                              f"name; give names separated by commas, e.g. MY_VAR,OTHER")
    if settings.retries < 0 or settings.retry_backoff_s < 0:
        raise ConfigError("`retries` and `retry_backoff_s` cannot be negative")
    positive = ("max_rounds", "timebox_s", "request_timeout_s", "num_ctx", "max_tool_errors",
                "loop_limit", "stall_limit")
    for name in positive:
        if getattr(settings, name) <= 0:
            raise ConfigError(f"`{name}` must be positive, got {getattr(settings, name)!r}")
    return settings


def settings_table() -> str:
    """The README's configuration table, generated so it cannot drift."""
    rows = ["| setting | default | environment | meaning |", "|---|---|---|---|"]
    for spec in fields(Settings):
        env = ", ".join(f"`{name}`" for name in _env_names(spec.name))
        default = spec.default if spec.default not in ("", ()) else "(empty)"
        rows.append(f"| `{spec.name}` | `{default}` | {env} | {spec.metadata['help']} |")
    return "\n".join(rows)
