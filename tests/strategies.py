"""Hypothesis strategies for the untrusted inputs: text of every kind, JSON-like values,
paths, and tool calls as a model could send them."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from jetbox.tools import TOOL_NAMES

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
# Paths: mostly plausible ones built from names that exist, so calls get past the jail
# into the tools' code, and some made of anything.
NAME = st.one_of(st.sampled_from(["a.py", "sub", "..", ".", "loop_a", "link_out", "new.txt",
                                  "pkg", "x y", "a.py", "sub/deeper"]),
                 st.text(st.characters(categories=("L", "N")), min_size=1, max_size=12))
PATHISH = st.one_of(st.lists(NAME, min_size=1, max_size=4).map("/".join),
                    st.lists(NAME, min_size=1, max_size=4).map("/".join),
                    TEXT, st.lists(TEXT, min_size=1, max_size=4).map("/".join))
JSON_LIKE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(TEXT, children, max_size=4)),
    max_leaves=12)


def _tool_arguments(name: str) -> st.SearchStrategy[Any]:
    """Arguments of the right shape for `name` (so calls reach the tool's code), or junk."""
    keys = {"list_dir": ("path",), "read_file": ("path",), "write_file": ("path", "content"),
            "finish": ("summary",)}.get(name, ())
    shaped = st.fixed_dictionaries({k: st.one_of(PATHISH, PATHISH, PATHISH, JSON_LIKE)
                                    for k in keys})
    junk = st.one_of(shaped.map(lambda d: {**d, "extra": 1}), JSON_LIKE, JSON_LIKE.map(repr),
                     TEXT)
    return st.one_of(shaped, shaped, shaped.map(json.dumps), junk)


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
CALLS = st.one_of(
    TOOL_CALLS, TOOL_CALLS, TOOL_CALLS,
    st.tuples(st.just("run_cmd"), RUN_CMD_ARGS),
    st.tuples(st.one_of(TEXT, JSON_LIKE), JSON_LIKE),  # names that are not tools at all
)
