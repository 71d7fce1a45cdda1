"""Scripted models for the offline server that act like a good model on a real repository:
search for the code, read the lines around it, edit one passage, finish. Each decides from
the file on disk and what its request shows, so it behaves the same however often Jetbox
is killed and resumed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jetbox.testing import Call, ChatRequest, Turn

FUNCTION_LINES = 60  # read this far from the `def` the search found: the whole function


def request_text(request: ChatRequest) -> str:
    return "\n".join(str(m.get("content", "")) for m in request.messages) + "\n" + \
        "\n".join(str(c.get("function", {})) for m in request.messages
                  for c in m.get("tool_calls") or [])


@dataclass
class LineFixer:
    """Fixes `broken` back to `fixed` in `path`: search `pattern`, read around the match,
    edit_file, finish. `calls` counts what it asked for, by tool name."""

    workspace: Path
    path: str
    pattern: str
    broken: str
    fixed: str
    calls: dict[str, int] = field(default_factory=dict)

    def __call__(self, request: ChatRequest) -> Turn:
        call = self.next_call(request_text(request))
        self.calls[call.name] = self.calls.get(call.name, 0) + 1
        return Turn(calls=(call,))

    def next_call(self, seen: str) -> Call:
        text = (self.workspace / self.path).read_text(encoding="utf-8")
        if self.broken not in text:
            return Call("finish", {"summary": f"fixed the line in {self.path}"})
        if f"{self.path}: lines " in seen or f"read_file {self.path}" in seen:
            return Call("edit_file", {"path": self.path, "old": self.broken,
                                      "new": self.fixed})
        line = self._line_from_search(seen)
        if line is not None:
            return Call("read_file", {"path": self.path, "start_line": line,
                                      "end_line": line + FUNCTION_LINES})
        return Call("search", {"pattern": self.pattern})

    def _line_from_search(self, seen: str) -> int | None:
        marker = f"{self.path}:"
        for chunk in seen.split(marker)[1:]:
            number, sep, _ = chunk.partition(": ")
            if sep and number.isdigit():
                return int(number)
        return None
