"""What a goal's words ask of the verdict, judged conservatively: a change (a run that
changed nothing does not meet "add ..."), a test (a new or changed test that passes), a
finding gone (a goal that names a ruff finding by code, file, line or rule)."""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from jetbox.exec.process import capture

RUFF_RULES_TIMEOUT_S = 30.0

# Verbs that ask for a change to the project. "make" and "check" are left out: "make the
# tests pass" and "check that ruff is clean" may be met by a project that already does.
# Not when the word is a name: `mathx.add`, `add()`, `add_one`.
_CHANGE = re.compile(
    r"(?<![\w.`])(add|adds|adding|create|implement|fix|fixes|remove|delete|drop|rename|refactor|"
    r"change|update|write|replace|move|modify|edit|rewrite|convert|introduce|extend|"
    r"support|upgrade|migrate|port|document|annotate|split|merge|extract|inline|optimi[sz]e|"
    r"correct|repair|resolve)(?![\w.(`])", re.IGNORECASE)
_NEW_TEST = re.compile(
    r"(?<![\w.`])(add|adds|adding|write|create|include|with|new|plus|cover)\b(\W+\w+){0,3}?\W+"
    r"(unit\s+|regression\s+)?(tests?|test\s+cases?)\b", re.IGNORECASE)
_FIX_LINT = re.compile(r"\b(lint|ruff|finding|findings|warnings?|violations?)\b", re.IGNORECASE)
_LINE = re.compile(r"\bline\s+(\d+)\b", re.IGNORECASE)
_CODE = re.compile(r"\b([A-Z]{1,4}\d{2,4})\b")


# "change nothing", "do not modify", "without editing": a verb that is negated asks nothing.
_NEGATED_BEFORE = re.compile(r"(\b(not|never|without|no)|n't)\W+(\w+\W+)?$", re.IGNORECASE)
_NEGATED_AFTER = re.compile(r"^\W*(nothing|anything)\b", re.IGNORECASE)


def asks_for_change(goal: str) -> str:
    """The first verb that asks for a change and is not negated, or ""."""
    for found in _CHANGE.finditer(goal):
        if not _NEGATED_BEFORE.search(goal[max(0, found.start() - 30):found.start()]) \
                and not _NEGATED_AFTER.match(goal[found.end():]):
            return found.group(0)
    return ""


def asks_for_test(goal: str) -> bool:
    return bool(_NEW_TEST.search(goal))


def _words(text: str) -> set[str]:
    return {w.rstrip("s") for w in re.findall(r"[a-z0-9]+", text.lower())}


def _names_file(goal: str, path: str) -> bool:
    """The goal names the file: its path, its name, or a folder or module on its path."""
    lowered = goal.lower()
    if path.lower() in lowered:
        return True
    parts = [p for p in path.lower().split("/") if p]
    stem = parts[-1].rsplit(".", 1)[0] if parts else ""
    names = {*parts, stem, ".".join(parts[:-1] + ([stem] if stem != "__init__" else []))}
    names = {n for n in names if len(n) > 2 and n != "__init__"}  # "a" is a word, too
    tokens = set(re.findall(r"[a-z0-9_.]+", lowered)) | set(re.findall(r"[a-z0-9_]+", lowered))
    return bool(names & tokens)


def named_findings(goal: str, findings: Iterable[str],
                   rule_names: Mapping[str, str]) -> tuple[str, ...]:
    """The findings (`path:line:col: CODE message`) the goal asks to remove: named by code,
    or by rule name ("unused import": unused-import), or as lint in a file it names;
    narrowed to the files and line it names, if it names any."""
    goal_words = _words(goal)
    codes = set(_CODE.findall(goal))
    lines = set(_LINE.findall(goal))
    chosen = []
    for finding in findings:
        location, _, rest = finding.partition(": ")
        path, line = (location.rsplit(":", 2) + ["", ""])[:2]
        code = rest.split(" ", 1)[0]
        rule = set(re.findall(r"[a-z0-9]+", rule_names.get(code, "").lower()))
        named_rule = code in codes or bool(rule) and {w.rstrip("s") for w in rule} <= goal_words
        in_file = _names_file(goal, path)
        if not (named_rule or in_file and _FIX_LINT.search(goal)):
            continue
        if named_rule and not in_file and any(_names_file(goal, f.split(":", 1)[0])
                                              for f in findings):
            continue  # the goal names other files: only theirs
        if lines and line not in lines and in_file:
            continue
        chosen.append(finding)
    return tuple(chosen)


def ruff_rule_names(codes: Iterable[str]) -> dict[str, str]:
    """Rule names for finding codes (F401 -> unused-import), from Jetbox's own ruff; {} when
    it cannot answer (the goal's codes and files still work)."""
    wanted = set(codes)
    if not wanted:
        return {}
    argv = [sys.executable, "-P", "-m", "ruff", "rule", "--all", "--output-format", "json"]
    try:
        done = capture(argv, Path(tempfile.gettempdir()), RUFF_RULES_TIMEOUT_S)
        rules = json.loads(done.stdout) if done is not None else []
    except (OSError, ValueError):
        return {}
    return {r["code"]: r["name"] for r in rules
            if isinstance(r, dict) and r.get("code") in wanted and isinstance(r.get("name"), str)}
