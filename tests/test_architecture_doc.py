"""docs/architecture.md kept current: its diagram names every module under jetbox/ (the
handlers in jetbox/states/ too) and only modules that exist, and its text names each one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
NODE = re.compile(r'\w+\["([^"]*)"\]')


def on_disk() -> set[str]:
    """`store/ledger`, `cli`, ...: every module but package markers and `python -m`'s entry."""
    found = set()
    for path in ROOT.glob("jetbox/**/*.py"):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        found.add(path.relative_to(ROOT / "jetbox").with_suffix("").as_posix())
    return found


def in_diagram(text: str) -> set[str]:
    """The modules the diagram's boxes name: `store/<br/>ledger, format` is store/ledger and
    store/format; `jetbox/cli.py<br/>...` is cli."""
    block = text.split("```mermaid", 1)[1].split("```", 1)[0]
    named = set()
    for label in NODE.findall(block):
        head, *rest = label.split("<br/>")
        if head.startswith("jetbox/") and head.endswith(".py"):
            named.add(head.removeprefix("jetbox/").removesuffix(".py"))
            continue
        package = head.rstrip("/")
        for name in ",".join(rest).split(","):
            if name.strip():
                named.add(f"{package}/{name.strip()}")
    return named


def test_the_diagram_names_every_module_and_only_real_ones() -> None:
    named, real = in_diagram(DOC.read_text(encoding="utf-8")), on_disk()
    assert not real - named, f"name these in docs/architecture.md's diagram: {real - named}"
    assert not named - real, f"the diagram names modules that do not exist: {named - real}"


def test_the_text_says_what_each_module_is_for() -> None:
    text = DOC.read_text(encoding="utf-8").split("```", 2)[-1]
    missing = sorted(m for m in on_disk() if m != "cli"
                     and f"`{m.rsplit('/', 1)[-1]}`" not in text)
    assert not missing, f"say what these are for in docs/architecture.md: {missing}"


def test_the_check_sees_a_missing_and_an_invented_module() -> None:
    diagram = '```mermaid\n  a["store/<br/>ledger, ghost"]\n  b["jetbox/cli.py<br/>main"]\n```'
    assert in_diagram(diagram) == {"store/ledger", "store/ghost", "cli"}
    assert "store/ghost" not in on_disk() and "store/ledger" in on_disk()
