"""What the model is told of the project between its calls: the file tree as it matters to
the run, and the probe results split into small topics, so a round's note carries only what
changed since the model last looked (a file the run did not write, a new verdict, a new
failure), never the state of everything again. The whole picture comes back only when the
context is rebuilt (context.compact)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from jetbox.core.prompts import say
from jetbox.probes.accounting import for_model
from jetbox.store.status import clean_item

if TYPE_CHECKING:
    from jetbox.probes.runner import ProbeReport
    from jetbox.probes.verdict import Verdict

LISTED_WHOLE = 30      # a project this small is listed file by file
KEY_FILES = 20         # files named one by one in a larger tree
FOLDERS = 12           # folders counted one by one; the rest in one line
DELTA_FILES = 10       # files named in one round's note
FILES = "files"        # the topic holding the file set (as lines); its note is a delta
_FAILURE_LINE = re.compile(r"^((?:FAILED|ERROR) )(\S+)", re.MULTILINE)
_WORD = re.compile(r"[\w./-]+")
_ABOUT_LINT = re.compile(r"\b(ruff|lint\w*|flake8|style|warnings?|findings?|[A-Z]{1,4}\d{3,4})\b",
                         re.IGNORECASE)


def test_files(test_ids: Iterable[str]) -> set[str]:
    """The files of pytest ids (`tests/test_x.py::test_y` -> `tests/test_x.py`)."""
    return {t.split("::", 1)[0] for t in test_ids}


def named_in(texts: Iterable[str], files: Sequence[str]) -> set[str]:
    """The files a text names, by path or by a file name of four or more characters."""
    words = {w.strip("./`'\"") for text in texts for w in _WORD.findall(text)}
    words.discard("")
    return {f for f in files if f in words or (len(PurePosixPath(f).name) >= 4
                                               and PurePosixPath(f).name in words)}


def _folder(path: str) -> str:
    parent = PurePosixPath(path).parent
    return "./" if str(parent) == "." else "/".join(parent.parts[:2]) + "/"


def tree_summary(files: Sequence[str], key: Iterable[str]) -> str:
    """The files that matter to the run (`key`: changed, named by the goal or the plan,
    failing tests'), then the rest counted per folder, not the first N paths."""
    if len(files) <= LISTED_WHOLE:
        return say("files.whole", count=len(files), files=", ".join(files) or say("files.none"))
    present = set(files)
    chosen = sorted(f for f in set(key) if f in present)
    shown = chosen[:KEY_FILES]
    more = _and_more(len(chosen) - KEY_FILES)
    counts = Counter(_folder(f) for f in files if f not in set(shown))
    folders = [f"{name} {n}" for name, n in sorted(counts.items())[:FOLDERS]]
    rest = len(counts) - len(folders)
    tail = say("files.more_folders", count=rest,
               files=sum(n for _, n in sorted(counts.items())[FOLDERS:])) if rest > 0 else ""
    named = ", ".join(shown) or say("files.none")
    lines = [say("files.key", count=len(files), named=named, more=more),
             say("files.per_folder", folders=", ".join(folders), more=tail)]
    return "\n".join(lines)


def files_delta(before: str, now: str, quiet: Iterable[str]) -> str:
    """The note on files: added or removed since the model last looked, except those its
    own latest calls named (it knows of them); "" if nothing else changed."""
    old, new = set(before.splitlines()), set(now.splitlines())
    skip = set(quiet)
    added = sorted(new - old - skip)
    removed = sorted(old - new - skip)
    parts = []
    if added:
        parts.append(say("files.added", paths=", ".join(added[:DELTA_FILES]),
                         more=_and_more(len(added) - DELTA_FILES)))
    if removed:
        parts.append(say("files.removed", paths=", ".join(removed[:DELTA_FILES]),
                         more=_and_more(len(removed) - DELTA_FILES)))
    return "; ".join(parts)


def _and_more(count: int) -> str:
    return say("files.and_more", count=count) if count > 0 else ""


def plan_lines(items: Sequence[str], verdict: Verdict | None, goal: str) -> list[str]:
    """The checklist as the model reads it: an item that repeats the goal or a blocker the
    same request lists is named, not copied (a small model's prompt is paid per byte)."""
    blockers = {clean_item(say("plan.fix", blocker=b)): b
                for b in (verdict.blockers if verdict else ())}
    fixes = [i for i in items if i in blockers]
    topics = dict.fromkeys(blockers[i].split(":", 1)[0] for i in fixes)  # "pytest", "goal"
    short = {say("plan.finish_when_green"): say("plan.finish_when_green_short"),
             say("plan.finish_after_fixes"): say("plan.finish_after_fixes_short")}
    lines = []
    for item in items:
        if item == clean_item(say("plan.work_on_goal", goal=goal)):
            lines.append(say("plan.work_on_goal_short"))
        elif fixes and item == fixes[0]:  # every fix on one line, where the first was
            lines.append(say("plan.fix_short", topics=", ".join(topics)))
        elif item not in blockers:
            lines.append(short.get(item, item))
    return lines


def probe_topics(report: ProbeReport, verdict: Verdict) -> dict[str, str]:
    """The probe results as small topics: each is sent again only when it changes."""
    found = {"verdict": say("context.probes_now", verdict=verdict.line)}
    blockers = [for_model(b) for b in verdict.blockers]
    lines = []
    if blockers:
        lines += [say("context.blocking"), *(f"- {b}" for b in blockers)]
    if verdict.new_findings:
        lines += [say("context.new_findings"), *verdict.new_findings[:15]]
    lines += [_short_ids(c.details, "\n".join(blockers)) for c in report.checks
              if c.details and not c.ok and c.parser != "ruff"]
    if lines:
        text = "\n".join(lines)
        found["blocking"] = text if len(text) <= 2000 else \
            text[:1980] + "\n" + say("context.cut")
    found[FILES] = "\n".join(report.files)
    return found


def _short_ids(details: str, named: str) -> str:
    """`FAILED tests/t.py::test_x - why` as `FAILED test_x - why` when the lines above
    already name `tests/t.py::test_x` in full."""
    def short(match: re.Match[str]) -> str:
        test_id = match.group(2)
        shown = test_id.split("::", 1)[1] if "::" in test_id and test_id in named else test_id
        return match.group(1) + shown
    return _FAILURE_LINE.sub(short, details)


def pre_existing(report: ProbeReport, verdict: Verdict, goal: str) -> str:
    """Lint that was there before the run, listed only when the goal is about lint (the
    verdict line counts it; it is not the run's) and only in the rebuilt context."""
    old = [f for c in report.checks if c.parser == "ruff" for f in c.findings
           if f not in verdict.new_findings]
    if not old or not _ABOUT_LINT.search(goal):
        return ""
    more = [say("result.more", count=len(old) - 10)] if len(old) > 10 else []
    return "\n".join([say("context.pre_existing"), *old[:10], *more])


def called_paths(messages: Sequence[Mapping[str, Any]]) -> set[str]:
    """The paths the latest assistant message's calls named."""
    for message in reversed(messages):
        if message.get("role") == "assistant":
            functions = [c.get("function") or {} for c in message.get("tool_calls") or ()]
            return {str(f["arguments"].get("path")) for f in functions
                    if isinstance(f.get("arguments"), dict)}
    return set()
