"""Issue 23: the ledger's indexed current run answers the queries as a plain list does, and
`jetbox --help` imports none of the heavy modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jetbox.cli import PLUGGED_COMMANDS, PLUGGED_HELP
from jetbox.store import queries
from jetbox.store.index import RunRecords
from jetbox.store.kinds import Planned, Probed, Record, RunStart, from_body
from jetbox.store.ledger import Ledger

ROOT = Path(__file__).resolve().parent.parent


def sample() -> list[Record]:
    records = [{"kind": "run_start", "goal": "g"}]
    for round_no in range(1, 40):
        records += [{"kind": "model_reply", "round": round_no,
                     "calls": [{"name": "read_file", "arguments": {"path": "a"}}]},
                    {"kind": "tool_result", "round": round_no, "name": "read_file", "ok": True},
                    {"kind": "probe", "round": round_no, "failures": 40 - round_no},
                    {"kind": "reflection", "round": round_no, "warning": f"w{round_no}"}]
        if round_no == 20:
            records.append({"kind": "resume", "state": "Probe"})
    return [from_body({**r, "seq": i}) for i, r in enumerate(records, 1)]


def test_indexed_records_answer_every_query_like_a_list() -> None:
    plain = sample()
    indexed = RunRecords(plain)
    def same(answer: object) -> object:
        return list(answer) if isinstance(answer, RunRecords) else answer

    for query in (queries.since_resume, queries.latest_results, queries.same_call_streak,
                  queries.failures_dropped, queries.latest_warning, queries.model_replies):
        assert same(query(indexed)) == query(plain), query.__name__
    results = [r for r in plain if r.kind == "tool_result"]
    assert results and list(queries.tool_results_newest_first(indexed)) == results[::-1]
    assert list(queries.tool_results_newest_first(plain)) == results[::-1]
    for kinds in (("probe",), ("resume", "run_start"), ("plan",)):
        assert queries.last(indexed, *kinds) == queries.last(plain, *kinds)
    assert queries.reflected_in(indexed, 39) and not queries.reflected_in(indexed, 40)
    assert queries.reflected_in(plain, 12) == queries.reflected_in(indexed, 12) is True


def test_the_records_since_a_point_are_a_view_that_answers_like_the_slice() -> None:
    """since_resume gives a view of the run, not a copy (copying cost O(the run) a round)."""
    plain = sample()
    run = RunRecords(plain)
    for start in (0, 1, 81, len(plain) - 1, len(plain)):
        view, cut = run.since(start), plain[start:]
        assert list(view) == cut and list(reversed(view)) == cut[::-1] and len(view) == len(cut)
        assert [view[i] for i in range(-len(cut), len(cut))] == cut + cut
        assert view[2:5] == cut[2:5]
        for kind in ("probe", "resume", "run_start", "plan"):
            assert view.of_kind(kind) == [r for r in cut if r.kind == kind]
            assert list(view.newest_first(kind)) == [r for r in cut if r.kind == kind][::-1]
            at = view.newest_at((kind,))
            assert (at is None and kind not in {r.kind for r in cut}) or cut[at].kind == kind
    view = run.since(81)
    assert queries.since_resume(run)[0].kind == "resume"
    assert queries.last(view, "resume") == plain[81]
    assert list(view.since(10)) == plain[91:] and list(queries.since_resume(view)) == plain[81:]
    with pytest.raises(IndexError):
        view[len(view)]  # a view ends where the run ends


def test_the_ledger_keeps_its_current_run_current(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.log", fsync=False)
    ledger.append(RunStart(goal="one"))
    ledger.append(Probed(round=1))
    run = ledger.current_run()
    ledger.append(Planned(items=["x"]))
    assert ledger.current_run() is run and queries.last_plan(run) == ["x"]
    ledger.append(RunStart(goal="two"))
    assert [r.kind for r in ledger.current_run()] == ["run_start"]
    reopened = Ledger(tmp_path / "l.log", fsync=False)
    assert list(reopened.current_run()) == list(ledger.current_run())


def test_help_imports_no_verdict_probe_context_or_yaml_module() -> None:
    code = ("import io, sys\nfrom jetbox.cli import main\nmain(['--help'], stdout=io.StringIO())\n"
            "print(sorted(m for m in sys.modules if m in {'yaml', 'jetbox.probes.verdict', "
            "'jetbox.probes.runner', 'jetbox.round.context', 'ollama', 'importlib.metadata', "
            "'tomllib', 'tempfile', 'hashlib', 'jetbox.spec.config', 'dataclasses', "
            "'inspect'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
    # The run command's own options (and their defaults from Settings) are built for it.
    run_help = subprocess.run([sys.executable, "-m", "jetbox", "run", "--help"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout
    run_help = " ".join(run_help.split())  # however argparse wrapped it
    assert "--max-rounds N" in run_help and "(default: 20," in run_help


def test_the_overview_help_lines_match_the_commands_own() -> None:
    import importlib

    for name, module in PLUGGED_COMMANDS.items():
        assert importlib.import_module(module).HELP == PLUGGED_HELP[name]
