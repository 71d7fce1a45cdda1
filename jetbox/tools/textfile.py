"""Text files as the model sees them: numbered line ranges, and edits of one unique passage."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from jetbox.core.prompts import say

CLOSEST_SHOWN = 3      # candidate places shown when `old` is not found
CONTEXT_LINES = 2      # lines shown around an edit, so the model can check it


class EditRefused(ValueError):
    """`old` does not occur exactly once; the message helps the model correct its call."""


def numbered(lines: list[str], first: int, width: int = 0) -> str:
    """Lines prefixed with their 1-based numbers, as `  90| text`."""
    width = width or len(str(first + len(lines) - 1))
    return "\n".join(f"{number:>{width}}| {line}" for number, line in enumerate(lines, first))


def line_range(text: str, start: int | None, end: int | None, max_chars: int,
               path: str) -> str:
    """Lines start..end (1-based, inclusive) with a header; cut at max_chars with a note
    saying how to ask for the rest, never silently."""
    lines = text.splitlines()
    total = len(lines)
    if total == 0:
        return say("result.empty_file", path=path)
    first = 1 if start is None else start
    last = total if end is None else min(end, total)
    if first < 1 or first > total or last < first:
        raise ValueError(say("result.bad_range", path=path, total=total))
    shown: list[str] = []
    size = 0
    for line in lines[first - 1:last]:
        size += len(line) + 8
        if shown and size > max_chars:
            break
        shown.append(line if len(line) <= max_chars else
                     say("result.long_line", start=line[:max_chars], more=len(line) - max_chars))
    stop = first + len(shown) - 1
    header = say("result.lines", path=path, first=first, last=stop, total=total)
    body = numbered(shown, first, len(str(total)))
    if stop < last:
        more = say("result.more_lines", count=last - stop, path=path, start=stop + 1,
                   end=min(total, stop + len(shown)))
        return f"{header}\n{body}\n{more}"
    return f"{header}\n{body}"


@dataclass(frozen=True)
class Edit:
    """A located, unique passage and the text that replaces it."""

    before: str
    after: str
    first_line: int      # 1-based line where `old` starts
    old_lines: int
    new_lines: int

    def preview(self, path: str) -> str:
        """The edited region with a little context, numbered as the file now is."""
        lines = self.after.splitlines()
        start = max(1, self.first_line - CONTEXT_LINES)
        stop = min(len(lines), self.first_line + self.new_lines - 1 + CONTEXT_LINES)
        return say("result.edited", path=path, first=self.first_line,
                   last=self.first_line + self.old_lines - 1, old=self.old_lines,
                   new=self.new_lines) + "\n" + numbered(lines[start - 1:stop], start)


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def locate(text: str, old: str, new: str, path: str) -> Edit:
    """Replace the one occurrence of `old`; refuse with a useful message otherwise."""
    if not old:
        raise EditRefused(say("result.old_empty"))
    if "\r\n" in text and old not in text and "\r\n" not in old:  # the model wrote \n
        old, new = old.replace("\n", "\r\n"), new.replace("\n", "\r\n")
    count = text.count(old)
    if count == 0:
        raise EditRefused(say("result.old_missing", path=path) + "\n"
                          + closest_lines(text, old))
    if count > 1:
        lines: list[str] = []
        at, index = 0, text.find(old)
        while index != -1 and len(lines) < 10:
            lines.append(str(_line_of(text, index)))
            at = index + 1
            index = text.find(old, at)
        raise EditRefused(say("result.old_repeated", count=count, path=path,
                              lines=", ".join(lines)))
    index = text.find(old)
    after = text[:index] + new + text[index + len(old):]
    return Edit(text, after, _line_of(text, index), _lines_in(old), _lines_in(new))


def _lines_in(passage: str) -> int:
    return passage.count("\n") + (0 if passage.endswith("\n") or not passage else 1)


def closest_lines(text: str, old: str) -> str:
    """Up to CLOSEST_SHOWN places most like `old`'s first line, numbered."""
    wanted = next((ln.strip() for ln in old.splitlines() if ln.strip()), old.strip())
    lines = text.splitlines()
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(wanted[:300])
    scored = []
    for number, line in enumerate(lines, 1):
        matcher.set_seq1(line.strip()[:300])
        if matcher.real_quick_ratio() > 0.3 and matcher.quick_ratio() > 0.3:
            scored.append((matcher.ratio(), number))
    best = sorted(scored, reverse=True)[:CLOSEST_SHOWN]
    if not best:
        return say("result.no_similar_line")
    return "\n".join(numbered(lines[max(0, n - 2):n + 1], max(1, n - 1))
                     for _, n in sorted(best, key=lambda item: item[1]))
