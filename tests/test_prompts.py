"""Every sentence the model sees comes from jetbox/prompts.yaml: the file is checked whole
when it loads, every `say()` in the code passes a key and fields the file has, and whole runs
through the offline Ollama send the model no line that is neither a template nor data."""

from __future__ import annotations

import ast
import json
import re
import string
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from jetbox.core.errors import ConfigError
from jetbox.core.prompts import FIELDS, PROMPTS_FILE, load_prompts, prompts, say
from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from tests.approvekit import GOAL, QWEN, project, run_args
from tests.conftest import ROOT, run_cli


def broken(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of prompts.yaml with `old` (which must occur once) replaced by `new`."""
    text = PROMPTS_FILE.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    copy = tmp_path / "prompts.yaml"
    copy.write_text(text.replace(old, new), encoding="utf-8")
    return copy


def line_of(text: str, path: Path = PROMPTS_FILE) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def test_the_packaged_file_holds_every_key_the_code_uses_with_its_fields() -> None:
    loaded = load_prompts()
    assert set(loaded.templates) == set(FIELDS)
    assert say("goal", goal="make it so") == "Goal: make it so"
    assert say("result.timed_out", seconds=20.0) == \
        "timed out after 20 s; the process tree was killed"
    # a field may be named like say's own parameter (`key`)
    assert say("arguments.not_string", tool="read_file", key="path") == \
        "read_file: `path` must be a string"
    assert "{" not in say("system") and say("reply.shell_in_fence").endswith(
        '{"cmd": ["pytest", "-q"]}')


def test_a_misspelled_key_is_reported_at_its_line_with_the_key_it_meant(tmp_path: Path) -> None:
    copy = broken(tmp_path, "  no_call:", "  no_cal:")
    with pytest.raises(ConfigError) as caught:
        load_prompts(copy)
    assert f"prompts.yaml:{line_of('no_cal:', copy)}: unknown prompt `reply.no_cal`" \
        in str(caught.value)
    assert "did you mean `reply.no_call`" in str(caught.value)


def test_a_misspelled_or_missing_field_is_reported_at_its_line(tmp_path: Path) -> None:
    copy = broken(tmp_path, 'refused: "refused: {reason}"', 'refused: "refused: {reasons}"')
    with pytest.raises(ConfigError) as caught:
        load_prompts(copy)
    assert f":{line_of('refused: {reasons}', copy)}: `result.refused`: {{reasons}} is not a " \
           f"field it is given; its fields: {{reason}}" in str(caught.value)
    copy = broken(tmp_path, 'wrote: "wrote {path} ({size} bytes)"', 'wrote: "wrote {path}"')
    with pytest.raises(ConfigError, match=r":\d+: `result.wrote`: \{size\} is missing"):
        load_prompts(copy)


@pytest.mark.parametrize(("old", "new", "match"), [
    ('  exit_code: "exit code {code}"\n', "", "prompt `result.exit_code` is missing"),
    ('"Plan:"', '"Plan: {"', r":{line}: `context.plan`"),
    ('"Plan:"', '"{0}"', "not a plain field name"),
    ('  plan: "Plan:"', '  plan: [Plan]', r":\d+: `context.plan` must be a text"),
    ('goal: "Goal: {goal}"', 'goal: "Goal: {goal}', r"prompts.yaml:\d+: invalid YAML"),
], ids=["missing key", "stray brace", "numbered field", "not a text", "bad YAML"])
def test_a_missing_key_a_stray_brace_and_bad_yaml_are_clear_errors(
        tmp_path: Path, old: str, new: str, match: str) -> None:
    copy = broken(tmp_path, old, new)
    where = match.replace("{line}", str(line_of("Plan: {", copy))) if "{line}" in match \
        else match
    with pytest.raises(ConfigError, match=where):
        load_prompts(copy)


def test_saying_a_prompt_with_other_fields_than_it_takes_is_refused() -> None:
    with pytest.raises(TypeError, match="`result.refused` takes reason; given why"):
        say("result.refused", why="x")
    with pytest.raises(KeyError):
        say("result.nothing")
    with pytest.raises(AttributeError):  # frozen
        prompts().path = Path("elsewhere")  # type: ignore[misc]


# ---- the code: every say() names a key of the file with exactly its fields ----------------

def says(tree: ast.AST) -> Iterator[tuple[int, list[str], set[str] | None]]:
    """Each say(KEY, **fields) call: its line, the keys it may name (a conditional key names
    both; an f-string key every key with its prefix), and its keyword names (None: **given)."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "say" and node.args):
            continue
        key = node.args[0]
        options = [key.body, key.orelse] if isinstance(key, ast.IfExp) else [key]
        keys: list[str] = []
        for option in options:
            if isinstance(option, ast.Constant) and isinstance(option.value, str):
                keys.append(option.value)
            elif isinstance(option, ast.JoinedStr) and isinstance(option.values[0], ast.Constant):
                prefix = str(option.values[0].value)
                keys += [k for k in FIELDS if k.startswith(prefix)] or [prefix + "?"]
            else:
                keys.append(f"<not a literal at line {node.lineno}>")
        given = None if any(k.arg is None for k in node.keywords) else \
            {str(k.arg) for k in node.keywords}
        yield node.lineno, keys, given


def jetbox_modules(saying: bool = False) -> list[Path]:
    """Jetbox's modules; `saying`: only those that import say from jetbox.core.prompts."""
    return sorted(p for p in (ROOT / "jetbox").rglob("*.py")
                  if not saying or "from jetbox.core.prompts import say" in p.read_text("utf-8"))


def test_every_say_in_the_code_names_a_key_with_exactly_its_fields() -> None:
    wrong, used = [], set()
    for path in jetbox_modules(saying=True):
        for line, keys, given in says(ast.parse(path.read_text(encoding="utf-8"))):
            for key in keys:
                used.add(key)
                where = f"{path.relative_to(ROOT)}:{line}"
                if key not in FIELDS:
                    wrong.append(f"{where}: `{key}` is not a prompt")
                elif given is not None and given != set(FIELDS[key]):
                    wrong.append(f"{where}: `{key}` takes {sorted(FIELDS[key])}, given "
                                 f"{sorted(given)}")
    assert not wrong, "\n".join(wrong)
    unused = set(FIELDS) - used
    assert not unused, f"prompts no module says (remove them, or say them): {sorted(unused)}"


def literal_fragments(min_chars: int = 24) -> dict[str, str]:
    """The longer literal pieces (sentences, or what is between two fields) of every
    template: a module holding one has copied it."""
    found = {}
    for key, prompt in prompts().templates.items():
        for literal, *_ in string.Formatter().parse(prompt.text):
            for piece in re.split(r"\n|(?<=[.;:]) ", literal):
                if len(piece.strip()) >= min_chars:
                    found[piece.strip()] = key
    return found


def copies(source: str, where: str, fragments: dict[str, str]) -> list[str]:
    """The strings of `source` (docstrings aside) that hold a fragment of a template."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [f"{where}:{node.lineno}: `{key}`: {fragment!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings
            for fragment, key in fragments.items() if fragment in node.value]


# Text only a person reads (a terminal warning, .jetbox/question.txt) that shares a phrase
# with a prompt: it stays in its module. Each entry: the module and the prompt it shares with.
PERSON_ONLY = {("jetbox/round/approval.py", "pause.waiting"),
               ("jetbox/round/asking.py", "pause.waiting_unsandboxed")}


def test_no_module_keeps_its_own_copy_of_a_prompt() -> None:
    """A cheap guard beside the whole runs: a sentence of prompts.yaml written into a module
    again (the drift this file ends) is found by its words, docstrings and comments aside."""
    fragments = literal_fragments()
    found = [copy for path in jetbox_modules()
             for copy in copies(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)),
                                fragments)
             if not any(copy.startswith(f"{where}:") and f"`{key}`" in copy
                        for where, key in PERSON_ONLY)]
    assert not found, "say these from prompts.yaml instead:\n" + "\n".join(found)


# Sentences as Jetbox's modules wrote them before prompts.yaml held them (verbatim).
HARD_CODED = {
    "blocker.config_changed": """
blockers.append(f"config: the run changed {_named(report.config_changed)}; the "
                f"verdict uses the test and lint configuration the run started with, "
                f"so put it back (do not change conftest.py, pytest or ruff settings "
                f"to hide a test or a finding)")""",
    "blocker.no_test_added": """
blockers.append(f"{_ASKS_TEST}, and the run added none: write one that fails before "
                f"the change and passes after it")""",
    "blocker.dont": """
DONT = ("do not delete, rename, skip, xfail or deselect a test, and do not change conftest.py "
        "or the pytest configuration to hide one")""",
    "blocker.tests_pass_without": """
blockers.append(f"pytest: the tests the run added ({_named(new)}) pass without the "
                f"run's change too, so they test nothing: write a test that fails "
                f"before the change and passes after it")""",
    "probe.pytest_missing": """
hint = (f"pytest is not installed in the project's Python {self.python} ({self.source}); "
        f"install it with `{self.python} -m pip install pytest`, or choose another "
        f"interpreter with --python")""",
    "resume.rebuilt_note": """
notes = (f"status.txt was {problem}; rebuilt from agent_ledger.log",)""",
    "pause.waiting": """
waiting = (f"waiting for a person's answer to {qid} (the whole question, with the diff or "
           f"argv, the model's reason and the folder: {QUESTION_FILE}): write yes, no "
           f"because ... or always on the `Approve [{qid}]:` line, or run with "
           f"--answer {qid}=yes")""",
}


@pytest.mark.parametrize("key", sorted(HARD_CODED))
def test_a_blocker_written_into_a_module_again_is_found(key: str) -> None:
    """The guard above reads the verdict's blockers and the probes' words too: each, put
    back in code as it was before prompts.yaml held it, is named with its key."""
    found = copies(HARD_CODED[key], "a module", literal_fragments())
    assert any(f"`{key}`" in copy for copy in found), found


# ---- whole runs: every line the model is sent is a template or data ----------------------

def template_patterns() -> list[re.Pattern[str]]:
    """Each line of each template as a regex whose fields match anything; a line with too
    little text of its own (`{field}`, `- {item}`) vouches for nothing and is left out."""
    patterns = []
    for prompt in prompts().templates.values():
        pieces: list[list[str]] = [[]]
        for literal, name, _, _ in string.Formatter().parse(prompt.text):
            parts = literal.split("\n")
            pieces[-1].append(re.escape(parts[0]))
            for part in parts[1:]:
                pieces.append([re.escape(part)])
            if name is not None:
                pieces[-1].append("\x00")
        for line in pieces:
            regex = "".join(line)
            own = "".join(re.sub(r"\\(.)", r"\1", regex.replace("\x00", "")).split())
            if re.search(r"[A-Za-z]", own) or len(own) >= 3:
                patterns.append(re.compile(regex.replace("\x00", "(.*)")))
    return patterns


def data_lines(workspace: Path, extra: Sequence[str]) -> set[str]:
    """What the model may be sent that is not Jetbox's wording: the files' names and lines,
    what the probes and commands printed (as the ledger kept it: each check's summary, ruff's
    findings, the test ids, a tool's output), and the texts `extra` (the goal, the files'
    contents before the run changed them, the scripted writes). The verdict's line, its
    blockers and a refused finish's reasons are Jetbox's words: prompts.yaml must hold them."""
    lines: set[str] = set()
    texts = list(extra)
    for path in workspace.rglob("*"):
        if path.is_file() and ".jetbox" not in path.parts and ".git" not in path.parts:
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
            texts.append(path.relative_to(workspace).as_posix())
    for line in (workspace / "agent_ledger.log").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["kind"] == "probe":
            texts += record["checks"]
        if record["kind"] == "baseline":
            texts += [*record["findings"], *record["outcomes"]]
        if record["kind"] == "result":
            texts += [json.dumps(v) if not isinstance(v, str) else v for v in record.values()]
    for text in texts:
        lines.update(part.strip() for part in text.splitlines())
    return lines


def accounted(text: str, patterns: Sequence[re.Pattern[str]], data: set[str],
              seen: dict[str, bool] | None = None) -> bool:
    """Whether `text` is data, a template's line, or several of them joined by `; ` (the
    verdict's line joins its checks' parts so, a refused finish its reasons; a template may
    begin with `; ` itself). A field that holds a `; ` holds such a list and must be
    accounted for in turn: a field is no wildcard that lets a hard-coded sentence through
    after a template's words."""
    seen = {} if seen is None else seen
    if text not in seen:
        seen[text] = False  # a text is not accounted for by itself
        seen[text] = bool(text.strip()) and (
            text in data
            or any((match := p.fullmatch(text)) and all(
                "; " not in field or accounted(field, patterns, data, seen)
                for field in match.groups()) for p in patterns)
            or any(accounted(text[:split.start()], patterns, data, seen)
                   and (accounted(text[split.end():], patterns, data, seen)
                        or accounted(text[split.start():], patterns, data, seen))
                   for split in re.finditer("; ", text)))
    return seen[text]


def strange_lines(messages: Sequence[dict[str, object]], data: set[str]) -> list[str]:
    """The lines of Jetbox's messages that no template and no data accounts for."""
    patterns = template_patterns()
    found = []
    for message in messages:
        if message.get("role") not in ("system", "user", "tool"):
            continue
        for line in str(message.get("content") or "").splitlines():
            bare = re.sub(r"^\s*(?:- |\d+[|:-] ?)", "", line).strip()
            if not re.search(r"[A-Za-z]", bare) or bare in data or line.strip() in data \
                    or PYTEST_LINE.fullmatch(bare):
                continue
            if not (accounted(line, patterns, data) or accounted(bare, patterns, data)):
                found.append(line)
    return found


# A failure as pytest reports it (Jetbox's outcomes plugin): probe output, not a template.
PYTEST_LINE = re.compile(r"(?:FAILED|ERROR) \S+(?: - .*)?")


def sent(server: OfflineOllama) -> list[dict[str, object]]:
    return [dict(m) for request in server.requests for m in request.messages]


APP = "count = 1\n"
APP_TEST = "from app import count\n\n\ndef test_count():\n    assert count == 11\n"
TOOL = "print('tool ran')\n"


@pytest.mark.slow
def test_a_whole_run_sends_the_model_only_templates_and_data(workspace: Path) -> None:
    """A normal round, a refused finish, an unknown tool, a bad call, no call, a loop
    warning, then the fix and the finish."""
    project(workspace)
    read = Call("read_file", {"path": "app.py"})
    turns = [Turn(calls=(read,)),
             Turn(calls=(Call("finish", {"summary": "done early"}),)),
             Turn(calls=(Call("rm_rf", {"path": "/"}),)),
             Turn(calls=(Call("edit_file", {"path": "app.py"}),)),
             Turn(content="I am thinking about it."),
             Turn(calls=(Call("search", {"pattern": "count"}),)),
             Turn(calls=(Call("search", {"pattern": "count"}),)),
             Turn(calls=(Call("write_file", {"path": "tool.py", "content": TOOL}),
                         Call("run_cmd", {"cmd": ["python", "tool.py"]}))),
             Turn(calls=(Call("edit_file", {"path": "app.py", "old": "count = 1\n",
                                            "new": "count = 11\n"}),)),
             Turn(calls=(Call("finish", {"summary": "count is 11"}),))]
    with OfflineOllama(ScriptResponder(turns), models=[QWEN]) as server:
        result = run_cli(*run_args(workspace, server.host), GOAL)
        messages = sent(server)
    assert result.code == 0, result.err
    every = "\n".join(str(m.get("content")) for m in messages)
    # the paths this run was meant to cover, each in the model's own words
    for key, fields in (("context.finish_refused", {"reasons": ""}), ("reply.no_call", {}),
                        ("context.warning", {"warning": ""}),
                        ("arguments.unknown_tool", {"name": "rm_rf", "tools": ""})):
        assert say(key, **fields).split("{")[0][:20] in every, key
    assert "refused: app.py" not in every and "edit_file: expected arguments" in every
    assert strange_lines(messages, data_lines(workspace, [GOAL, TOOL, APP, APP_TEST])) == []


@pytest.mark.slow
def test_a_declined_call_and_a_resume_send_only_templates_and_data(workspace: Path) -> None:
    """A person declines a command (with a reason) and the run resumes from the question."""
    project(workspace)
    pytest_call = Call("run_cmd", {"cmd": ["pytest", "-q"]})
    edit = Call("edit_file", {"path": "app.py", "old": "count = 1\n", "new": "count = 11\n"})
    turns = [Turn(calls=(pytest_call,)), Turn(calls=(edit,)),
             Turn(calls=(Call("finish", {"summary": "count is 11"}),))]
    with OfflineOllama(ScriptResponder(turns), models=[QWEN]) as server:
        first = run_cli(*run_args(workspace, server.host, "--approve", "commands"), GOAL)
        assert first.code == 3, first.err
        second = run_cli(*run_args(workspace, server.host, "--answer",
                                   "q1=no because it is slow"))
        messages = sent(server)
    assert second.code == 0, second.err
    assert say("result.person_declined", reason="it is slow") in \
        "\n".join(str(m.get("content")) for m in messages)
    assert strange_lines(messages, data_lines(workspace, [GOAL, APP, APP_TEST])) == []


def test_a_hard_coded_sentence_is_found_among_the_templates_and_data() -> None:
    """The check can fail: a line Jetbox would write without prompts.yaml is strange."""
    messages = [{"role": "system", "content": say("system")},
                {"role": "user", "content": say("goal", goal="g") + "\n"
                 + say("context.status", status="green", round=2)},
                {"role": "tool", "content": "Please be careful with the files."},
                {"role": "user", "content": "- read_file a.py (ok)\n12| count = 1"}]
    assert strange_lines(messages, {"count = 1"}) == ["Please be careful with the files."]


def test_a_verdict_line_is_accounted_for_only_when_each_part_is_a_template() -> None:
    """The verdict joins its checks' parts with `; `: a line of templates (and data) so
    joined passes, and one hard-coded part among them is still found."""
    parts = [say("verdict.ruff_clean"),
             say("verdict.pytest", counts="1 passed", regressions=0, known=""),
             say("verdict.room", fixed=1, failed=1, still_passing=0, passed=0)]
    blocker = say("blocker.failing_one", count=1, tests="t.py::test_a",
                  hint=say("blocker.known_hint"))
    good = {"role": "user", "content": "; ".join(parts) + f"\n- {blocker}"}
    assert strange_lines([good], set()) == []
    bad = "; ".join([*parts[:2], "mypy: it found 3 errors"])
    assert strange_lines([{"role": "user", "content": bad}], set()) == [bad]
    # a blocker in the words the verdict had in code is no template's line
    old = "- the run's code registers pytest plugins, which the verdict does not accept"
    assert strange_lines([{"role": "tool", "content": old}], set()) == [old]
