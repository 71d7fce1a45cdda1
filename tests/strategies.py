"""Hypothesis strategies for the untrusted inputs: text of every kind, JSON-like values,
paths, and tool calls as a model could send them."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from jetbox.tools.schemas import TOOL_NAMES

# Every code point, lone surrogates and control characters included (hypothesis leaves
# surrogates out unless told), plus text that came from arbitrary bytes.
ANY_CHAR = st.characters(exclude_categories=())
TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    st.integers(0, 300_000).map(lambda n: "x" * n),           # huge
    st.sampled_from(["", ".", "..", "/", "../outside/secret.txt", "link_out/secret.txt",
                     "link_out", "loop_a", "a.py/b.py", "a.py/..", "sub/../../x", "~",
                     "/etc/passwd", "C:\\x", "\\\\?\\C:\\", "NUL", "x:y", "status.txt",
                     "agent_ledger.log", ".git/config", "n" * 300]),
)
def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Pick among strategies in proportion to their weights (st.one_of picks evenly)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(lambda index: table[index])


# Paths: mostly plausible ones built from names that exist, so calls get past the jail
# into the tools' code; a third of those start with a way out (a jail bug would show);
# and some made of anything.
NAME = st.one_of(st.sampled_from(["a.py", "sub", "..", ".", "loop_a", "link_out", "new.txt",
                                  "pkg", "x y", "a.py", "sub/deeper"]),
                 st.text(st.characters(categories=("L", "N")), min_size=1, max_size=12))
PLAUSIBLE = st.lists(NAME, min_size=1, max_size=4).map("/".join)
WAY_OUT = st.sampled_from(["..", "../outside", "link_out", "sub/../..", "/tmp", "./..",
                           "a.py/../.."])
PATHISH = weighted((4, PLAUSIBLE), (2, st.tuples(WAY_OUT, PLAUSIBLE).map("/".join)),
                   (2, TEXT), (1, st.lists(TEXT, min_size=1, max_size=4).map("/".join)))
JSON_LIKE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(TEXT, children, max_size=4)),
    max_leaves=12)


def _tool_arguments(name: str) -> st.SearchStrategy[Any]:
    """Arguments of the right shape for `name` (so calls reach the tool's code), or junk."""
    keys = {"list_dir": ("path",), "read_file": ("path",), "write_file": ("path", "content"),
            "finish": ("summary",)}.get(name, ())
    value = {"path": PATHISH, "content": st.one_of(st.text(max_size=200), TEXT),
             "summary": TEXT}
    shaped = st.fixed_dictionaries({k: value[k] for k in keys})
    odd = st.fixed_dictionaries({k: st.one_of(value[k], JSON_LIKE) for k in keys})
    junk = st.one_of(odd, odd.map(lambda d: {**d, "extra": 1}), JSON_LIKE,
                     JSON_LIKE.map(repr), TEXT)
    return weighted((6, shaped), (1, shaped.map(json.dumps)), (3, junk))


# run_cmd starts real processes: with arbitrary argv a property could run a script it just
# wrote, and every example would cost a process start. Its arguments are therefore junk
# the policy refuses before spawning anything, or one harmless fixed command; the argv
# policy itself is covered by tests/test_security.py.
RUN_CMD_ARGS = st.one_of(
    st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=3),
              st.dictionaries(TEXT, JSON_LIKE, max_size=2), st.just([]),
              st.lists(st.lists(TEXT, max_size=2), min_size=1, max_size=2)).map(
        lambda cmd: {"cmd": cmd}),
    st.just({"cmd": ["python", "--version"]}),
)
TOOL_CALLS = st.sampled_from([n for n in TOOL_NAMES if n != "run_cmd"]).flatmap(
    lambda name: st.tuples(st.just(name), _tool_arguments(name)))
CALLS = weighted((7, TOOL_CALLS), (1, st.tuples(st.just("run_cmd"), RUN_CMD_ARGS)),
               (2, st.tuples(st.one_of(TEXT, JSON_LIKE), JSON_LIKE)))  # names of no tool
