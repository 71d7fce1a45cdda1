"""The probes' text parsers: ruff's findings, pytest's summary line and failures, and the
exit code of any other check. For display: the verdict takes pytest's outcomes from Jetbox's
own plugin (report.py), never from this text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Parsed:
    ok: bool
    summary: str
    details: str
    counts: dict[str, int]
    findings: tuple[str, ...] = ()
    outcomes: dict[str, str] = field(default_factory=dict)


RUFF_LINE = re.compile(r"^(?P<loc>[^\s:][^:]*:\d+:\d+): (?P<code>[A-Z]+\d+|SyntaxError|"
                       r"invalid-syntax)\b:? ?(?P<msg>.*)$", re.M)
PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|warnings?)")
PYTEST_OUTCOME = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS) (\S.*?)(?: - .*)?$", re.M)
PYTEST_SUMMARY = re.compile(r"^=*\s*(?:\d+ \w+.*|no tests ran.*) in [\d.]+s.*$", re.M)


def parse_ruff(name: str, code: int | None, output: str) -> Parsed:
    found = list(RUFF_LINE.finditer(output))
    if code == 0:
        return Parsed(True, f"{name}: clean", "", {"errors": 0})
    if not found:
        last = next((ln for ln in reversed(output.splitlines()) if ln.strip()), "no output")
        return Parsed(False, f"{name}: failed (exit {code}): {last[:160]}", output[-800:],
                      {"errors": 1})
    codes: dict[str, int] = {}
    for match in found:
        codes[match["code"]] = codes.get(match["code"], 0) + 1
    tally = ", ".join(f"{c} x{n}" for c, n in sorted(codes.items()))
    details = "\n".join(f"{m['loc']}: {m['code']} {m['msg'].strip()}" for m in found[:15])
    if len(found) > 15:
        details += f"\n... {len(found) - 15} more"
    every = tuple(f"{m['loc']}: {m['code']} {m['msg'].strip()}" for m in found)
    return Parsed(False, f"{name}: {len(found)} errors ({tally})", details,
                  {"errors": len(found)}, findings=every)


def parse_pytest(name: str, code: int | None, output: str) -> Parsed:
    summary_lines = PYTEST_SUMMARY.findall(output)
    # The duration changes every run; without it, an unchanged result reads the same.
    line = re.sub(r" in [\d.]+s.*$", "", summary_lines[-1].strip("= ")) if summary_lines else ""
    counts: dict[str, int] = {}
    for number, word in PYTEST_COUNT.findall(line):
        key = {"error": "errors", "warning": "warnings"}.get(word, word)
        counts[key] = counts.get(key, 0) + int(number)
    failures = [ln.strip() for ln in output.splitlines()
                if ln.startswith(("FAILED ", "ERROR "))][:8]
    if not failures:
        failures = [ln.strip() for ln in output.splitlines() if ln.startswith("E ")][:8]
    details = "\n".join(failures) or ("" if code == 0 else output[-800:])
    outcomes: dict[str, str] = {}
    for word, test_id in PYTEST_OUTCOME.findall(output):
        if outcomes.get(test_id) not in ("failed", "error"):  # a failure is never overwritten
            outcomes[test_id] = word.lower()
    if code == 5 or counts.get("passed", 0) == 0 and code == 0:
        return Parsed(False, f"{name}: no tests ran", details, counts, outcomes=outcomes)
    if code == 0:
        return Parsed(True, f"{name}: {line or 'passed'}", "", counts, outcomes=outcomes)
    return Parsed(False, f"{name}: {line or f'failed (exit {code})'}", details, counts,
                  outcomes=outcomes)


def parse_generic(name: str, code: int | None, output: str) -> Parsed:
    last = next((ln for ln in reversed(output.splitlines()) if ln.strip()), "")
    ok = code == 0
    verdict = "ok" if ok else f"failed (exit {code})"
    summary = f"{name}: {verdict}" + (f": {last[:120]}" if last else "")
    return Parsed(ok, summary, "" if ok else output[-800:], {})
