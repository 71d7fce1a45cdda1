"""Every test the baseline saw, accounted for at the end: passed, unchanged (a test skipped
at the start may stay skipped), or marked known by a person. A test deleted, renamed,
skipped, marked xfail or deselected since is a regression (it passed at the start) or
unresolved (it failed), named in the refusal. Tests the run added must pass too."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from jetbox.core.prompts import say

FAILING = ("failed", "error")
NOT_RUN = ("missing", "skipped", "xfailed", "xpassed", "deselected")
NAMED = 12


@dataclass(frozen=True)
class Account:
    regressions: tuple[str, ...]  # passed (or was skipped) at the start; "id (how)"
    unresolved: tuple[str, ...]   # failed at the start and does not pass now
    failing: tuple[str, ...]      # test ids failing now, known ones left out
    allowed: tuple[str, ...]      # changed tests a person allowed (allow_test_changes)
    added: int
    removed: int
    skipped: int
    added_ids: tuple[str, ...] = ()  # with their outcome: "tests/t.py::test_new (passed)"


def named(items: Iterable[str], limit: int = NAMED) -> str:
    items = list(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def how(outcome: str) -> str:
    """How a baseline test ended, as a blocker names it: `fails`, `marked xfail`, ..."""
    return say(f"how.{outcome}")


def ran_and_failed(item: str) -> bool:
    """Whether an `id (how)` item is a test that ran and failed (not one that no longer runs)."""
    return item.endswith((f"({how('failed')})", f"({how('error')})"))


def _accounted(before: str, now: str) -> bool:
    return now == "passed" or (now == before and now not in FAILING) \
        or {before, now} <= {"xfailed", "xpassed"}


def collected_since(before: Mapping[str, str], now: Mapping[str, str]) -> dict[str, str]:
    """`before` with each file that could not be collected at the start (a file-level
    error: tests written before the code they import) standing for the tests collected
    from it now: they failed at the start, and the file is done when every one passes.
    A file that is gone, or errors again, keeps its own entry."""
    expanded = dict(before)
    for test_id, outcome in before.items():
        if "::" in test_id or outcome not in FAILING:
            continue
        inside = [t for t in now if t.startswith(f"{test_id}::")]
        if inside and test_id not in now:
            del expanded[test_id]
            expanded.update({t: outcome for t in inside})
    return expanded


def account(before: Mapping[str, str], now: Mapping[str, str], known: frozenset[str],
            allow_test_changes: bool) -> Account:
    before = collected_since(before, now)
    regressions, unresolved, allowed = [], [], []
    for test_id in sorted(before):
        old, new = before[test_id], now.get(test_id, "missing")
        if test_id in known or _accounted(old, new):
            continue
        if allow_test_changes and new in NOT_RUN:
            allowed.append(f"{test_id} ({how(new)})")
        elif old in FAILING:
            unresolved.append(f"{test_id} ({how(new)})")
        else:
            regressions.append(f"{test_id} ({how(new)})")
    failing = tuple(sorted(t for t, o in now.items() if o in FAILING and t not in known))
    removed = sum(now.get(t, "missing") in ("missing", "deselected") for t in before)
    skipped = sum(o in ("skipped", "xfailed", "xpassed") and before.get(t) != o
                  for t, o in now.items())
    added = tuple(f"{t} ({o})" for t, o in sorted(now.items()) if t not in before)
    return Account(tuple(regressions), tuple(unresolved), failing, tuple(allowed),
                   len(added), removed, skipped, added)


def blockers(acc: Account, before: Mapping[str, str]) -> list[str]:
    reasons = []
    hint = say("blocker.known_hint")
    if acc.regressions:
        reasons.append(say("blocker.regression" if len(acc.regressions) == 1
                           else "blocker.regressions",
                           count=len(acc.regressions), tests=named(acc.regressions)))
    new_failing = [t for t in acc.failing if t not in before]
    still = [u for u in acc.unresolved if ran_and_failed(u)]
    if still or new_failing:
        ids = [u.rsplit(" (", 1)[0] for u in still] + new_failing
        reasons.append(say("blocker.failing_one" if len(ids) == 1 else "blocker.failing",
                           count=len(ids), tests=named(ids), hint=hint))
    hidden = [u for u in acc.unresolved if u not in still]
    if hidden:
        reasons.append(say("blocker.hidden_one" if len(hidden) == 1 else "blocker.hidden",
                           count=len(hidden), tests=named(hidden), hint=hint))
    if any(not ran_and_failed(r) for r in [*acc.regressions, *hidden]):
        reasons.append(say("blocker.dont"))
    return reasons


def for_model(blocker: str) -> str:
    """A blocker as the model reads it: without the hint on marking a test known, which is a
    person's call (status.txt or the settings), not the model's, and costs every request."""
    return blocker.replace(say("blocker.known_hint"), "")


def changes_line(acc: Account, config_changed: Iterable[str], allow: bool) -> str:
    config = list(config_changed)
    return say("verdict.changes", added=acc.added, removed=acc.removed, skipped=acc.skipped,
               config=say("verdict.config_changed", files=named(config)) if config
               else say("verdict.config_unchanged"),
               allowed=say("verdict.changes_allowed") if allow else "")
