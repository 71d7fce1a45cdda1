"""The `search` tool: a regular expression over the project's text files. Each file's path
is written once, above its matches (`12: text`, with `11- ` and `13- ` for the lines around
them): the path on every line cost a search of 40 matches a kilobyte of the model's context.

The matching runs in a child Python (this file run as a script, standard library only), so a
pattern that backtracks forever costs a timeout, never Jetbox's own process."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path

MAX_FILE_BYTES = 2_000_000   # larger files are skipped (generated data, logs)
MAX_LINE_CHARS = 300         # a shown line is cut here
BINARY_SNIFF_BYTES = 8000


class SearchRefused(ValueError):
    """A bad pattern or a search that could not finish; the message is the tool result."""


def search(root: Path, pattern: str, files: list[str], max_matches: int,
           timeout_s: float, max_chars: int) -> str:
    """Matches of `pattern` in `files` (relative to root), with one line of context."""
    # Here, not at the top: the child runs this file alone, with the standard library only.
    from jetbox.core.prompts import say
    if not pattern or len(pattern) > 1000:
        raise SearchRefused(say("search.bad_pattern"))
    try:
        re.compile(pattern)
    except re.error as exc:
        raise SearchRefused(say("search.bad_regex", error=exc)) from None
    job = json.dumps({"root": str(root), "pattern": pattern, "files": files,
                      "max": max_matches})
    # Imported here: run as the child, this file needs the standard library only.
    from jetbox.exec.process import capture

    done = capture([sys.executable, "-I", __file__], stdin=job.encode("utf-8"),
                   timeout_s=timeout_s)
    if done is None:
        raise SearchRefused(say("search.too_slow", seconds=timeout_s))
    if done.returncode != 0:
        raise SearchRefused(say("search.failed",
                                error=done.stderr.decode(errors="replace")[-300:]))
    found = json.loads(done.stdout)
    return _render(found, pattern, max_chars)


def _render(found: dict, pattern: str, max_chars: int) -> str:
    from jetbox.core.prompts import say  # not at the top: see search()
    blocks: list[str] = []
    size = 0
    shown = 0
    path = None
    for group in found["groups"]:
        heading = [group["path"]] if group["path"] != path else []
        block = "\n".join([*heading, *group["lines"]])
        if blocks and size + len(block) > max_chars:
            break
        blocks.append(block)
        size += len(block) + 3
        shown += sum(1 for line in group["lines"] if _is_match(line))
        path = group["path"]
    if not blocks:
        return say("search.no_match", pattern=pattern, files=found["files"])
    more = found["matches"] - shown
    tail = ("\n" + say("search.more_matches", count=more, files=found["files_matched"])
            if more > 0 else "")
    matches, files = found["matches"], found["files_matched"]
    return say("search.found",
               matches=say("search.one_match" if matches == 1 else "search.matches",
                           count=matches),
               files=say("search.one_file" if files == 1 else "search.files", count=files)) \
        + "\n" + "\n--\n".join(blocks) + tail


def _is_match(line: str) -> bool:
    return bool(re.match(r"^\d+: ", line))


# ---- the child: standard library only, run as `python -I search.py` -----------------------

def _text_of(path: Path) -> str | None:
    """A regular file's text; never opens anything else (a FIFO would block the search)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with open(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_FILE_BYTES or b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return None
    return data.decode("utf-8", errors="replace")


def _groups(rel: str, lines: list[str], hits: list[int]) -> list[dict]:
    """Matching lines with one line before and after, merged where they touch."""
    groups: list[dict] = []
    last = -10
    for index in hits:
        if index > last + 2 or not groups:
            groups.append({"path": rel, "lines": []})
        for at in range(max(index - 1, last + 1, 0), min(index + 2, len(lines))):
            mark = ":" if at in hits else "-"
            groups[-1]["lines"].append(f"{at + 1}{mark} {lines[at][:MAX_LINE_CHARS]}")
        last = min(index + 1, len(lines) - 1)
    return groups


def _child() -> None:
    job = json.loads(sys.stdin.buffer.read())
    root, regex = Path(job["root"]), re.compile(job["pattern"])
    groups: list[dict] = []
    matches = files_matched = 0
    for rel in job["files"]:
        text = _text_of(root / rel)
        if text is None:
            continue
        lines = text.splitlines()
        hits = [i for i, line in enumerate(lines) if regex.search(line)]
        if not hits:
            continue
        room = job["max"] - matches
        matches += len(hits)
        files_matched += 1
        if room > 0:
            groups += _groups(rel, lines, hits[:room])
    sys.stdout.write(json.dumps({"groups": groups, "matches": matches,
                                 "files_matched": files_matched, "files": len(job["files"])}))


if __name__ == "__main__":
    _child()
