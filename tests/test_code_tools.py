"""read_file ranges, search and edit_file: the tools a model needs in a real repository."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from jetbox.model.protocol import json_instructions
from jetbox.store.kinds import Intent, Result
from jetbox.store.ledger import Ledger
from jetbox.tools.schemas import tool_specs
from jetbox.tools.toolbox import Toolbox

BIG = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(400))  # 1,200 lines


@pytest.fixture
def toolbox(tmp_path: Path) -> Toolbox:
    ws = tmp_path / "ws"
    (ws / "pkg").mkdir(parents=True)
    (ws / "pkg" / "big.py").write_text(BIG)
    return Toolbox(ws, Ledger(tmp_path / "ledger.log"))


def test_read_file_shows_numbered_lines_of_a_range_with_a_header(toolbox: Toolbox) -> None:
    out = toolbox.dispatch("read_file", {"path": "pkg/big.py", "start_line": 298,
                                         "end_line": 300}).output
    assert out.splitlines() == ["pkg/big.py: lines 298-300 of 1200", " 298| def f99(x):",
                                " 299|     return x + 99", " 300| "]


def test_read_file_accepts_quoted_numbers_and_refuses_a_range_past_the_end(
        toolbox: Toolbox) -> None:
    assert "lines 5-6 of 1200" in toolbox.dispatch(
        "read_file", {"path": "pkg/big.py", "start_line": "5", "end_line": "6"}).output
    late = toolbox.dispatch("read_file", {"path": "pkg/big.py", "start_line": 5000})
    assert late.refused and "has 1200 lines" in late.output


def test_a_file_that_does_not_fit_says_how_to_ask_for_the_rest(toolbox: Toolbox) -> None:
    out = toolbox.dispatch("read_file", {"path": "pkg/big.py"}).output
    first, last = out.splitlines()[0], out.splitlines()[-1]
    assert first.startswith("pkg/big.py: lines 1-") and first.endswith("of 1200")
    shown = int(first.split("-")[1].split()[0])
    assert shown < 1200 and "elided" not in out
    assert f'"start_line": {shown + 1}' in last and "more lines do not fit" in last


def test_search_answers_the_path_then_line_text_with_context_and_skips_venvs(
        toolbox: Toolbox) -> None:
    ws = toolbox.workspace
    (ws / ".venv" / "lib").mkdir(parents=True)
    (ws / ".venv" / "lib" / "x.py").write_text("def f250(x): pass\n")
    (ws / "blob.bin").write_bytes(b"\x00def f250")
    out = toolbox.dispatch("search", {"pattern": r"def f250\b"}).output
    # The path once, above its lines: not repeated on each (a kilobyte per 40 matches).
    assert out.splitlines() == ["1 match in 1 file:", "pkg/big.py", "750- ", "751: def f250(x):",
                                "752-     return x + 250"]
    assert ".venv" not in out and "blob.bin" not in out


def test_search_is_capped_and_says_how_much_was_left_out(toolbox: Toolbox) -> None:
    out = toolbox.dispatch("search", {"pattern": "return", "path": "pkg"}).output
    assert out.startswith("400 matches in 1 file:\npkg/big.py\n")
    assert out.count("pkg/big.py") == 1
    assert "360 more matches" in out and "narrow the pattern" in out


def test_search_respects_gitignore_without_git(toolbox: Toolbox) -> None:
    ws = toolbox.workspace
    (ws / ".gitignore").write_text("build/\n*.log\n")
    (ws / "build").mkdir()
    (ws / "build" / "gen.py").write_text("needle\n")
    (ws / "run.log").write_text("needle\n")
    (ws / "keep.py").write_text("needle\n")
    out = toolbox.dispatch("search", {"pattern": "needle"}).output
    assert "keep.py\n1: needle" in out and "build" not in out and "run.log" not in out


@pytest.mark.slow
def test_search_refuses_a_bad_pattern_and_survives_a_catastrophic_one(
        toolbox: Toolbox) -> None:
    bad = toolbox.dispatch("search", {"pattern": "def f(("})
    assert bad.refused and "not a valid (Python) regular expression" in bad.output
    (toolbox.workspace / "evil.txt").write_text("a" * 40 + "!\n")
    import jetbox.tools.toolbox as tools

    tools.SEARCH_TIMEOUT_S, saved = 1.0, tools.SEARCH_TIMEOUT_S
    try:
        slow = toolbox.dispatch("search", {"pattern": "(a+)+$", "path": "evil.txt"})
    finally:
        tools.SEARCH_TIMEOUT_S = saved
    assert slow.refused and "was stopped" in slow.output


def test_edit_file_replaces_the_one_occurrence_and_journals_both_hashes(
        toolbox: Toolbox) -> None:
    path = toolbox.workspace / "pkg" / "big.py"
    before = path.read_bytes()
    result = toolbox.dispatch("edit_file", {"path": "pkg/big.py", "old": "    return x + 250\n",
                                            "new": "    return x - 250\n"})
    assert result.ok and result.changed
    assert "lines 752-752" in result.output and "752|     return x - 250" in result.output
    after = path.read_bytes()
    assert after == before.replace(b"x + 250\n", b"x - 250\n")
    intent, result = toolbox.ledger.last(["intent"]), toolbox.ledger.last(["result"])
    assert isinstance(intent, Intent) and intent.action == "edit"
    assert intent.sha256_before == hashlib.sha256(before).hexdigest()
    assert intent.sha256 == hashlib.sha256(after).hexdigest()
    assert isinstance(result, Result) and result.intent == intent.seq


def test_edit_file_refusals_help_the_model_correct_itself(toolbox: Toolbox) -> None:
    many = toolbox.dispatch("edit_file", {"path": "pkg/big.py", "old": "def f1",
                                          "new": "def g1"})
    assert many.refused and "occurs 111 times" in many.output and "(lines 4, " in many.output
    missing = toolbox.dispatch("edit_file", {"path": "pkg/big.py",
                                             "old": "def f250(y):\n", "new": "x"})
    assert missing.refused and "does not occur" in missing.output
    assert "751| def f250(x):" in missing.output
    new_file = toolbox.dispatch("edit_file", {"path": "pkg/new.py", "old": "a", "new": "b"})
    assert new_file.refused and "write_file" in new_file.output
    assert not any(r.kind == "intent" for r in toolbox.ledger.records())


def test_edit_file_keeps_crlf_line_endings(toolbox: Toolbox) -> None:
    path = toolbox.workspace / "win.py"
    path.write_bytes(b"a = 1\r\nb = 2\r\n")
    result = toolbox.dispatch("edit_file", {"path": "win.py", "old": "a = 1\nb = 2",
                                            "new": "a = 1\nb = 3"})
    assert result.ok, result.output
    assert path.read_bytes() == b"a = 1\r\nb = 3\r\n"


def test_read_file_of_a_folder_lists_it_and_list_dir_is_answered_but_not_sent(
        toolbox: Toolbox) -> None:
    """Six schemas go out in every request; list_dir is folded into read_file, yet a model
    (or an old ledger) that calls it by name still gets the listing, natively or in text."""
    from jetbox.model.calls import parse_reply

    assert [s["function"]["name"] for s in tool_specs()] == [
        "read_file", "search", "edit_file", "write_file", "run_cmd", "finish"]
    listed = toolbox.dispatch("read_file", {"path": "pkg"})
    assert listed.ok and listed.output.splitlines()[0] == "pkg is a folder; its entries:"
    assert "big.py" in listed.output
    assert toolbox.dispatch("list_dir", {"path": "pkg"}).output == \
        listed.output.split("\n", 1)[1]
    text = '<tool_call>{"name": "list_dir", "arguments": {"path": "pkg"}}</tool_call>'
    assert [c.name for c in parse_reply(text, "", (), tool_specs()).calls] == ["list_dir"]
    unknown = parse_reply('{"name": "ls_tree", "arguments": {}}', "", (), tool_specs())
    assert "the tools are: read_file, search" in unknown.problem
    assert "list_dir" not in unknown.problem
    assert "tools: read_file, search" in toolbox.dispatch("ls_tree", {}).output


def test_optional_arguments_are_optional_in_both_protocols() -> None:
    specs = {s["function"]["name"]: s["function"]["parameters"] for s in tool_specs()}
    assert specs["read_file"]["required"] == ["path"]
    assert specs["search"]["required"] == ["pattern"]
    assert specs["edit_file"]["required"] == ["path", "old", "new"]
    words = json_instructions(tool_specs())
    assert "edit_file(path: string, old: string, new: string)" in words
    json.dumps(tool_specs())  # plain JSON for the wire


@pytest.mark.slow
def test_the_latest_results_reach_the_model_whole_and_older_ones_are_folded(
        workspace: Path) -> None:
    from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
    from tests.conftest import run_cli

    (workspace / "big.py").write_text(BIG)
    first = Call("read_file", {"path": "big.py", "start_line": 1, "end_line": 150})
    second = Call("read_file", {"path": "big.py", "start_line": 151, "end_line": 300})
    script = [Turn(calls=(first,)), Turn(calls=(second,)), Turn(calls=(second,))]
    with OfflineOllama(ScriptResponder(script)) as server:
        run_cli("run", "Read big.py", "-w", str(workspace), "--host", server.host,
                "--sandbox", "none", "--max-rounds", "3")
        requests = [json.dumps(r.messages) for r in server.requests]
    assert len(requests) == 3
    whole_first = "  74|     return x + 24"  # the middle of lines 1-150
    assert whole_first in requests[1]  # the round after the read: all 150 lines, whole
    assert "lines 1-150 of 1200" in requests[1]
    assert whole_first not in requests[2] and "chars elided" in requests[2]  # folded later
    assert " 224|     return x + 74" in requests[2]  # the middle of the newest, whole


@pytest.mark.slow
def test_the_first_request_has_one_plan_and_no_empty_one(workspace: Path) -> None:
    from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
    from tests.conftest import run_cli

    (workspace / "tool.py").write_text("print('hi')\n")
    with OfflineOllama(ScriptResponder([Turn(calls=(Call("finish", {"summary": "ok"}),))])) \
            as server:
        run_cli("run", "Check tool.py", "-w", str(workspace), "--host", server.host,
                "--sandbox", "none")
        first = "\n".join(str(m.get("content", "")) for m in server.requests[0].messages)
    assert first.count("Plan:\n") == 1 and "Plan:\n- work on the goal (above)" in first
