"""Which commands the model may run, and with which arguments: documented and configurable."""

from __future__ import annotations

import hashlib
import os
import shlex
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from jetbox.core.errors import ConfigError
from jetbox.core.programs import find_program
from jetbox.core.prompts import say
from jetbox.store.workspace import is_git_name
from jetbox.tools.paths import PathRefused, jail

# Programs that run through the interpreter Jetbox itself runs in, never from PATH.
# -P (Python 3.11): the working folder is not put on sys.path, so a workspace ruff.py
# cannot answer for ruff and fake a clean lint.
VIA_INTERPRETER = {"python": [], "pytest": ["-m", "pytest"], "ruff": ["-P", "-m", "ruff"],
                   "pip": ["-m", "pip"]}
PIP_READ_ONLY = ("list", "show", "freeze", "check", "help", "--version", "-V")
RUFF_SUBCOMMANDS = ("check", "format", "rule", "version", "help", "--version")
PYTHON_SAFE_FLAGS = ("-u", "-B", "-q", "-X", "-W")


@dataclass(frozen=True)
class OptionRules:
    """How one program's options are checked. Long options may be abbreviated (argparse
    and optparse accept any unambiguous prefix) and short ones attached or clustered
    (`-o/x`, `-qc/x`): both are expanded before the check."""

    program: str
    paths: tuple[str, ...]          # the value is a path that must stay in the workspace
    refused: tuple[str, ...] = ()   # never allowed
    short_values: str = ""          # other short options that take a value
    exact: tuple[str, ...] = ()     # real options that happen to prefix one of the above
    response_files: bool = False    # `@file` reads more arguments from a file


PYTEST_RULES = OptionRules(
    "pytest", ("--rootdir", "-c", "--config-file", "--inifile", "--confcutdir", "--basetemp",
               "--junitxml", "--junit-xml", "--import-mode", "--log-file"),
    ("-p", "--pastebin", "--debug", "-o", "--override-ini", "--trace-config"),
    short_values="kmrW", exact=("--co", "--trace"), response_files=True)
RUFF_RULES = OptionRules("ruff", ("--output-file", "-o", "--cache-dir", "--config",
                                  "--stdin-filename"))
PIP_RULES = OptionRules(
    "pip", ("--target", "-t", "-r", "--requirement", "-c", "--constraint", "--log",
            "--log-file", "--local-log", "--cache-dir", "--report", "--src", "--cert",
            "--client-cert"),
    ("-e", "--editable", "--user", "--prefix", "--root", "--python"),
    short_values="dfi", exact=("--pre",))

class CommandRefused(ValueError):
    """A command the policy does not allow; the message is the tool result."""


@dataclass(frozen=True)
class ToolPolicy:
    """The limits of the tools (machine.yaml `tools:` section)."""

    allowed_programs: tuple[str, ...] = ("python", "pytest", "ruff", "pip")
    allow_python_modules: tuple[str, ...] = ("pytest", "ruff", "pip")  # `python -m X` allowed
    allow_pip_install: bool = False    # pip install, only with --target inside the workspace
    cmd_timeout_s: float = 120.0       # a command is killed (with its children) after this
    max_read_chars: int = 12_000       # read_file returns head and tail beyond this
    max_output_chars: int = 8_000      # run_cmd returns head and tail beyond this
    max_write_bytes: int = 1_000_000   # write_file refuses larger content
    max_list_entries: int = 200        # list_dir shows at most this many entries
    sandbox: str = "none"              # resolved: bwrap or none

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ToolPolicy:
        known = [f.name for f in fields(cls)]
        default = cls()  # each value is read as its default's type
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise ConfigError(f"machine.yaml: tools: unknown key `{key}`; known: "
                                  f"{', '.join(sorted(known))}")
            kind = type(getattr(default, key))
            try:
                values[key] = tuple(str(v) for v in value) if kind is tuple else kind(value)
            except (TypeError, ValueError):
                raise ConfigError(f"machine.yaml: tools: `{key}` has a bad value {value!r}") \
                    from None
        return cls(**values)


    def fitted(self, max_chars: int) -> ToolPolicy:
        """Outputs no larger than what the model's context keeps whole."""
        return replace(self, max_read_chars=min(self.max_read_chars, max_chars),
                       max_output_chars=min(self.max_output_chars, max_chars))


def split_command(cmd: object) -> list[str]:
    """The model's `cmd` as argv: a list of strings, or a string split like a shell would
    (but never given to one)."""
    if isinstance(cmd, str):
        try:
            argv = shlex.split(cmd)
        except ValueError as exc:
            raise CommandRefused(say("command.unsplittable", error=exc)) from None
    elif isinstance(cmd, list) and all(isinstance(a, str) for a in cmd):
        argv = list(cmd)
    else:
        raise CommandRefused(say("command.not_a_list"))
    if not argv:
        raise CommandRefused(say("command.empty"))
    return argv


def program_name(word: str) -> str:
    if "/" in word or "\\" in word:
        raise CommandRefused(say("command.a_path", program=word))
    name = word.lower()
    for suffix in (".exe", ".bat", ".cmd", ".com"):
        name = name.removesuffix(suffix)
    return name


def resolve_program(name: str, workspace: Path, python: Path | None = None) -> list[str]:
    """The absolute command prefix for an allowed program, found outside the workspace:
    python, pytest and pip through the project's interpreter, ruff through Jetbox's own."""
    if name == "ruff":  # -P: a workspace ruff.py never answers for ruff
        return [sys.executable, "-P", "-m", "ruff"]
    if name in VIA_INTERPRETER:
        return [str(python or sys.executable), *VIA_INTERPRETER[name]]
    found = find_program(name, workspace)
    if found is None:
        raise CommandRefused(say("command.not_found", program=name))
    return [str(Path(found).resolve())]


def check_arguments(name: str, args: list[str], policy: ToolPolicy, workspace: Path) -> list[str]:
    """Apply the program's argument policy; returns the arguments to run (maybe amended)."""
    checker = {"python": _python, "pytest": _pytest, "ruff": _ruff, "pip": _pip}.get(name)
    return checker(args, policy, workspace) if checker else args


def _inside(value: str, workspace: Path, what: str, option: bool = False) -> None:
    try:
        jailed = jail(workspace, value)
    except PathRefused as exc:
        raise CommandRefused(say("command.path_refused", what=what, reason=exc)) from None
    # An option's path may be written (`--output-file`, `--target`, `--cache-dir`): never
    # into git's files, whose config runs commands at the person's next `git status`.
    if option and any(is_git_name(part) for part in jailed.relative.split("/")):
        raise CommandRefused(say("command.gits", what=what, path=jailed.relative))


def _python(args: list[str], policy: ToolPolicy, workspace: Path) -> list[str]:
    index = 0
    while index < len(args) and args[index].startswith("-") and args[index] != "-m":
        flag = args[index]
        if flag in ("-X", "-W"):
            index += 2
            continue
        if flag not in PYTHON_SAFE_FLAGS:
            raise CommandRefused(say("command.python_flag", flag=flag))
        index += 1
    rest = args[index:]
    if not rest:
        raise CommandRefused(say("command.python_alone"))
    if rest[0] == "-m":
        if len(rest) < 2:
            raise CommandRefused(say("command.python_m_alone"))
        module = rest[1]
        if module in policy.allow_python_modules:
            safe = ["-P"] if module == "ruff" else []  # see VIA_INTERPRETER
            return [*args[:index], *safe, "-m", module,
                    *check_arguments(module, rest[2:], policy, workspace)]
        top = module.split(".")[0]
        if (workspace / f"{top}.py").is_file() or (workspace / top).is_dir():
            return args
        raise CommandRefused(say("command.python_module", module=module,
                                 allowed=", ".join(policy.allow_python_modules)))
    _inside(rest[0], workspace, "python script")
    return args


def _long_option(word: str, rules: OptionRules) -> str:
    """The option a `--word` names: itself, or the path/refused option it abbreviates."""
    name = word.split("=", 1)[0]
    known = (*rules.paths, *rules.refused, *rules.exact)
    if name in known:
        return name
    matches = [option for option in known if option.startswith(name)]
    refused = [option for option in matches if option in rules.refused]
    if refused:
        raise CommandRefused(say("command.abbreviates", program=rules.program, option=name,
                                 refused=refused[0]))
    return matches[0] if matches else name


def _value(args: list[str], index: int, inline: str | None, option: str,
           rules: OptionRules) -> tuple[str, int]:
    if inline is not None:
        return inline, index + 1
    if index + 1 >= len(args):
        raise CommandRefused(say("command.needs_value", program=rules.program, option=option))
    return args[index + 1], index + 2


def _check_value(option: str, value: str, workspace: Path, rules: OptionRules) -> None:
    if rules.program == "ruff" and option == "--config" and "=" in value:
        if any(k in value for k in ("cache-dir", "extend", "include", "src")):
            raise CommandRefused(say("command.ruff_config", value=value))
        return
    _inside(value, workspace, f"{rules.program} {option}", option=True)


def _short_cluster(args: list[str], index: int, workspace: Path, rules: OptionRules) -> int:
    """`-qc/x`, `-o/x`, `-o=/x`: each letter is an option until one takes a value."""
    word = args[index]
    for position in range(1, len(word)):
        option, rest = f"-{word[position]}", word[position + 1:]
        if option in rules.refused:
            raise CommandRefused(say("command.refused_option", program=rules.program,
                                     option=word))
        if option in rules.paths:
            value, after = _value(args, index, rest.removeprefix("=") or None, option, rules)
            _check_value(option, value, workspace, rules)
            return after
        if word[position] in rules.short_values:
            return index + (1 if rest else 2)
    return index + 1


def _check_options(args: list[str], workspace: Path, rules: OptionRules) -> None:
    """Every path an option or argument names must stay in the workspace."""
    index = 0
    while index < len(args):
        word = args[index]
        if rules.response_files and word.startswith("@"):
            raise CommandRefused(say("command.response_file", program=rules.program,
                                     argument=word))
        if word == "--":
            for rest in args[index + 1:]:
                _inside(rest.split("::")[0], workspace, f"{rules.program} argument")
            return
        if word.startswith("--"):
            option = _long_option(word, rules)
            if option in rules.refused:
                raise CommandRefused(say("command.refused_option", program=rules.program,
                                         option=word))
            if option in rules.paths:
                inline = word.split("=", 1)[1] if "=" in word else None
                value, index = _value(args, index, inline, option, rules)
                _check_value(option, value, workspace, rules)
                continue
            index += 1
        elif word.startswith("-") and len(word) > 1:
            index = _short_cluster(args, index, workspace, rules)
        else:
            _inside(word.split("::")[0], workspace, f"{rules.program} argument")
            index += 1


def pytest_guards(workspace: Path) -> list[str]:
    """Options that overrule what a config file the model wrote could make pytest do outside
    the workspace: `log_file` (it also creates the folders) and `addopts = --basetemp=DIR`,
    which empties DIR. Given after the config file's addopts and before the command's own
    arguments, so a --log-file or --basetemp the policy checked still wins."""
    digest = hashlib.sha256(str(workspace.resolve()).encode("utf-8", "surrogateescape"))
    basetemp = Path(tempfile.gettempdir()) / f"jetbox-pytest-{digest.hexdigest()[:12]}"
    return [f"--log-file={os.devnull}", f"--basetemp={basetemp}"]


def _pytest(args: list[str], policy: ToolPolicy, workspace: Path) -> list[str]:
    _check_options(args, workspace, PYTEST_RULES)
    return [*pytest_guards(workspace), *args, "-p", "no:cacheprovider"]


def _ruff(args: list[str], policy: ToolPolicy, workspace: Path) -> list[str]:
    if args and not args[0].startswith("-") and args[0] not in RUFF_SUBCOMMANDS:
        raise CommandRefused(say("command.ruff_subcommand", subcommand=args[0],
                                 allowed=", ".join(RUFF_SUBCOMMANDS)))
    rest = args[1:] if args and args[0] in ("check", "format", "rule") else args
    if args and args[0] == "rule":
        return args
    _check_options(rest, workspace, RUFF_RULES)
    return [*args, "--no-cache"] if args and args[0] in ("check", "format") else args


def _pip(args: list[str], policy: ToolPolicy, workspace: Path) -> list[str]:
    _check_options(args[1:] if args else args, workspace, PIP_RULES)  # --log on list, too
    if not args or args[0] in PIP_READ_ONLY:
        return args
    if args[0] != "install" or not policy.allow_pip_install:
        raise CommandRefused(say("command.pip_subcommand", subcommand=args[0] if args else "",
                                 allowed=", ".join(PIP_READ_ONLY),
                                 install="" if policy.allow_pip_install else
                                 say("command.pip_install_off")))
    if not any(a.startswith(("--target", "--tar", "-t")) for a in args):
        raise CommandRefused(say("command.pip_target"))
    return [*args, "--only-binary", ":all:", "--no-input"]
