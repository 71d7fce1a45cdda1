"""Scripted models for the offline server that act like a good model on a real repository:
search for the code, read the lines around it, edit one passage, finish. Each decides from
the file on disk and what its request shows, so it behaves the same however often Jetbox
is killed and resumed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jetbox.offline import Call, ChatRequest, Turn

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
    lines: int = FUNCTION_LINES  # how far past the match it reads
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
                                      "end_line": line + self.lines})
        return Call("search", {"pattern": self.pattern})

    def _line_from_search(self, seen: str) -> int | None:
        """The first match under the path's heading in a search result (`727: text`)."""
        lines = seen.splitlines()
        for at, line in enumerate(lines):
            if line != self.path:
                continue
            for below in lines[at + 1:]:
                number, sep, _ = below.partition(": ")
                if sep and number.isdigit():
                    return int(number)
                if not below[:1].isdigit():
                    break  # the next heading or the end of the result
        return None


class MathxSolver:
    """A scripted model for the seed's goal that decides from the workspace on disk, so it
    behaves the same however often Jetbox is killed and restarted."""

    MODULE = '"""mathx: small math helpers."""\n\n\ndef add(a, b):\n    """Return a + b."""\n' \
             "    return a + b\n"
    TESTS = '"""Tests for mathx.add."""\n\nfrom mathx import add\n\n\ndef test_add_ints():\n' \
            "    assert add(2, 3) == 5\n\n\ndef test_add_floats():\n" \
            "    assert add(0.5, 0.25) == 0.75\n"

    def __init__(self, workspace: Path | str) -> None:
        self.workspace = Path(workspace)
        self.requests_seen = 0

    def __call__(self, request: ChatRequest) -> Turn:
        self.requests_seen += 1
        module = self.workspace / "mathx" / "__init__.py"
        if not module.is_file() or "def add" not in module.read_text(errors="replace"):
            return Turn(thinking="The package is missing; write it.", calls=(
                Call("write_file", {"path": "mathx/__init__.py", "content": self.MODULE}),))
        if not (self.workspace / "tests" / "test_mathx.py").is_file():
            return Turn(thinking="Now the tests.", calls=(
                Call("write_file", {"path": "tests/test_mathx.py", "content": self.TESTS}),))
        # The result of its pytest run: a tool message, a JSON-protocol result message, or
        # folded into the state message by a compaction.
        ran = any("exit code 0" in str(m.get("content", "")) for m in request.messages)
        if not ran:
            return Turn(calls=(Call("run_cmd", {"cmd": ["pytest", "-q"]}),))
        return Turn(content="Done.", calls=(
            Call("finish", {"summary": "mathx.add written and tested"}),))
