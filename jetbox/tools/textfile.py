"""Text files as the model sees them: numbered line ranges, and edits of one unique passage."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

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
        return f"{path}: empty file"
    first = 1 if start is None else start
    last = total if end is None else min(end, total)
    if first < 1 or first > total or last < first:
        raise ValueError(f"{path} has {total} lines; ask for start_line 1..{total} and "
                         f"end_line >= start_line")
    shown: list[str] = []
    size = 0
    for line in lines[first - 1:last]:
        size += len(line) + 8
        if shown and size > max_chars:
            break
        shown.append(line if len(line) <= max_chars else
                     f"{line[:max_chars]} ... [{len(line) - max_chars} more characters on "
                     f"this line not shown]")
    stop = first + len(shown) - 1
    header = f"{path}: lines {first}-{stop} of {total}"
    body = numbered(shown, first, len(str(total)))
    if stop < last:
        more = (f"[{last - stop} more lines do not fit in one reply; ask for them with "
                f'read_file{{"path": "{path}", "start_line": {stop + 1}, "end_line": '
                f"{min(total, stop + len(shown))}}}]")
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
        return (f"edited {path}: lines {self.first_line}-{self.first_line + self.old_lines - 1} "
                f"({self.old_lines} lines) replaced by {self.new_lines} lines; now:\n"
                + numbered(lines[start - 1:stop], start))


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def locate(text: str, old: str, new: str, path: str) -> Edit:
    """Replace the one occurrence of `old`; refuse with a useful message otherwise."""
    if not old:
        raise EditRefused("`old` is empty; give the exact lines to replace (or use write_file "
                          "for a new file)")
    if "\r\n" in text and old not in text and "\r\n" not in old:  # the model wrote \n
        old, new = old.replace("\n", "\r\n"), new.replace("\n", "\r\n")
    count = text.count(old)
    if count == 0:
        raise EditRefused(f"`old` does not occur in {path}; copy it exactly from read_file "
                          f"(without the line numbers). Closest lines:\n"
                          + closest_lines(text, old))
    if count > 1:
        lines: list[str] = []
        at, index = 0, text.find(old)
        while index != -1 and len(lines) < 10:
            lines.append(str(_line_of(text, index)))
            at = index + 1
            index = text.find(old, at)
        raise EditRefused(f"`old` occurs {count} times in {path} (lines "
                          f"{', '.join(lines)}); include more surrounding lines so it occurs "
                          f"exactly once")
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
        return "(no similar line)"
    return "\n".join(numbered(lines[max(0, n - 2):n + 1], max(1, n - 1))
                     for _, n in sorted(best, key=lambda item: item[1]))
