"""What an approval covers, word by word: a command's argv as the policy names it, the
arguments that make a known program write files (never covered by a skip or a typed prefix),
what a person's `always` covers, and which files Jetbox's pytest probe runs as test code."""

from __future__ import annotations

import re
import shlex
from typing import Any

from jetbox.store import kinds, queries
from jetbox.store.kinds import ToolCall
from jetbox.tools.policy import CommandRefused, program_name, split_command
from jetbox.tools.schemas import Refusal, checked_call


def command_argv(arguments: Any) -> list[str] | None:
    """A run_cmd call's argv with its program named as the policy names it (`pytest`, not
    `pytest.exe`), or None when the toolbox would refuse it anyway."""
    try:
        argv = split_command(checked_call("run_cmd", arguments)["cmd"])
        return [program_name(argv[0]), *argv[1:]]
    except (Refusal, CommandRefused):
        return None


# Arguments that make a program Jetbox knows write files (or load code) beyond what its
# name says: `ruff check` reads, `ruff check --fix` rewrites code, `--output-file` writes
# anywhere. A skip or a typed prefix never covers them; only a question does.
_WRITERS = {
    "ruff": ("--fix", "--unsafe-fixes", "--fix-only", "--add-noqa", "--output-file", "-o",
             "--config", "--cache-dir", "format", "clean"),
    "pytest": ("--junitxml", "--junit-xml", "--resultlog", "--result-log", "-p", "-o",
               "--override-ini", "-c", "--config-file", "--basetemp", "--debug",
               "--log-file", "--report-log", "--pastebin", "--html", "--cov", "--cov-report",
               "--json-report-file"),
}
_PYTHON = re.compile(r"python(\d+(\.\d+)?)?|py\Z")


def writing_arguments(argv: list[str], start: int = 1) -> list[str]:
    """The words of argv from `start` on that write files: a redirection in any form
    (`>`, `2>>log`, `|`, `tee`; no shell runs them, but `sh -c` and a person reading would),
    and, for ruff and pytest (also as `python -m ...`), the options and subcommands that
    write or load code."""
    words = argv[start:]
    found = [w for w in words if ">" in w or "|" in w or w == "tee"]
    program, offset = (argv[0] if argv else ""), 1
    if _PYTHON.match(program) and argv[1:2] == ["-m"] and len(argv) > 2:
        program, offset = argv[2], 3
    writers = _WRITERS.get(program, ())
    for word in argv[max(start, offset):]:
        option = word.split("=", 1)[0]
        short = word[:2] if len(word) > 2 and word[0] == "-" and word[1] != "-" else ""
        cluster = word[1:] if word[:1] == "-" and word[1:].isalpha() else ""
        if option in writers or short in writers or \
                any(f"-{c}" in writers for c in cluster):
            found.append(word)
    return list(dict.fromkeys(found))


def skipped(argv: list[str], skip: tuple[str, ...]) -> bool:
    """Whether an `approve_skip` entry is a prefix of argv, word by word, and argv writes
    no files by its arguments (writing_arguments): those are always asked about."""
    if writing_arguments(argv):
        return False
    for entry in skip:
        words = shlex.split(entry)
        if words and [program_name(words[0]), *words[1:]] == argv[:len(words)]:
            return True
    return False


def always_covers(records: queries.Records, call: ToolCall) -> bool:
    """Whether a person's `always` covers this call: for a command, the exact argv they
    were asked about, or a prefix they typed (then no writing argument after it); for any
    other tool, every call of it. An `always` from a ledger written before prefixes
    (which covered a whole program) is read as covering its exact command only."""
    argv = command_argv(call.arguments) if call.name == "run_cmd" else None
    asked = {r.seq: r for r in records if isinstance(r, kinds.Question)}
    for answer in records:
        if not isinstance(answer, kinds.Answered) or answer.answer != queries.ALWAYS:
            continue
        question = asked.get(answer.asked)
        if question is None or question.name != call.name:
            continue
        if call.name != "run_cmd":
            return True
        approved = command_argv(question.arguments)
        if argv is None or approved is None:
            continue
        prefix = list(answer.prefix) if answer.prefix else None
        if argv == approved or (prefix and argv[:len(prefix)] == prefix
                                and not writing_arguments(argv, len(prefix))):
            return True
    return False


_TEST_DIRS = frozenset({"tests", "test", "testing"})


def runs_as_test_code(path: object) -> bool:
    """Whether Jetbox's pytest probe would run (import) a Python file at `path`: a test
    module (test_*.py, *_test.py), a conftest.py, or any module in a tests folder (helpers
    and __init__.py there are imported by collection)."""
    if not isinstance(path, str) or not path.endswith(".py"):
        return False
    parts = path.replace("\\", "/").split("/")
    name = parts[-1]
    return name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py") \
        or any(part.lower() in _TEST_DIRS for part in parts[:-1])


def writes_test_code(call: ToolCall) -> bool:
    """A write or an edit of a file the pytest probe runs: under `commands` it is a
    command (the probe would run what the model wrote), so it is asked about."""
    args = call.arguments if isinstance(call.arguments, dict) else {}
    return call.name in ("write_file", "edit_file") and runs_as_test_code(args.get("path"))
