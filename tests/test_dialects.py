"""The reply shapes real local models send (tests/dialect_corpus.py, each from a public bug
report), played by the offline server through the real `ollama` client: the calls a
faithful agent runs, and the one line it tells the model when nothing can run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jetbox.model.calls import parse_reply
from jetbox.model.nearjson import NearJsonError, loads
from jetbox.model.ollama import ModelOptions, OllamaModel
from jetbox.offline import Call, ChatRequest, OfflineOllama, Turn
from jetbox.offline.dialect_writer import WRITERS, render
from jetbox.store.kinds import ModelReply, ToolCall
from jetbox.tools.schemas import TOOL_NAMES, Refusal, checked_call, tool_specs
from tests.dialect_corpus import CODE, CORPUS, PATH, Shape

SHAPES = {shape.id: shape for shape in CORPUS}


def turn_for(shape: Shape) -> Turn:
    return Turn(content=shape.content, thinking=shape.thinking, done_reason=shape.done_reason,
                calls=tuple(Call(name, args) for name, args in shape.native))


@pytest.fixture(scope="module")
def model() -> Iterator[OllamaModel]:
    """One offline server that answers each request with the shape its prompt names."""
    def responder(request: ChatRequest) -> Turn:
        return turn_for(SHAPES[request.messages[-1]["content"]])

    with OfflineOllama(responder) as server:
        yield OllamaModel(ModelOptions("gpt-oss:20b", server.host, retries=0))


def outcome(reply: ModelReply) -> tuple[list[ToolCall], str]:
    """What the agent runs (calls the toolbox accepts) and everything the model is told."""
    runnable, told = [], [reply.problem]
    for call in reply.calls:
        try:
            checked_call(call.name, call.arguments)
            runnable.append(call)
        except Refusal as exc:
            told.append(str(exc))
    return runnable, " ".join(told)


def faithful(shape: Shape, reply: ModelReply) -> bool:
    runnable, told = outcome(reply)
    if [c.name for c in runnable] != list(shape.runs) or shape.told not in told:
        return False
    writes = [c.arguments for c in runnable if c.name == "write_file"]
    return all(w["path"] == PATH and w["content"].startswith("def add") for w in writes)


@pytest.mark.parametrize("shape", CORPUS, ids=[f"{s.id} ({s.source})" for s in CORPUS])
def test_a_real_reply_shape_is_handled_as_a_faithful_agent_would(model: OllamaModel,
                                                                 shape: Shape) -> None:
    """The shape, quoted from the report named in its id, through the offline server and
    the real client: the intended calls run, in order, and nothing else; or nothing runs
    and the model is told why (cut off, unknown tool, reasoning, prose, shell, a tag)."""
    reply = model.chat([{"role": "user", "content": shape.id}], tool_specs())
    runnable, told = outcome(reply)
    assert [c.name for c in runnable] == list(shape.runs), (reply.delivery, told)
    assert shape.told in told
    assert faithful(shape, reply)
    if not shape.runs:
        assert told.strip() and "No tool call in your reply" not in told


@pytest.mark.slow  # the same chats as the test above, again, for the figure and deliveries
def test_the_corpus_is_handled_in_full_and_says_how_calls_came(model: OllamaModel) -> None:
    ways: dict[str, int] = {}
    handled = 0
    for shape in CORPUS:
        reply = model.chat([{"role": "user", "content": shape.id}], tool_specs())
        handled += faithful(shape, reply)
        ways[reply.delivery] = ways.get(reply.delivery, 0) + 1
    print(f"handled {handled}/{len(CORPUS)} real reply shapes; deliveries: {ways}")
    assert len(CORPUS) >= 50 and handled == len(CORPUS)
    assert ways["native"] >= 2 and ways["native (arguments as a JSON string)"] == 2
    assert ways["qwen-xml in content"] >= 4 and "gpt-oss-harmony in thinking" not in ways


def test_an_offline_model_can_play_every_dialect(model: OllamaModel) -> None:
    calls = (Call("list_dir", {"path": "."}), Call("write_file", {"path": PATH,
                                                                   "content": CODE}))
    for dialect in WRITERS:
        content, thinking = render(dialect, calls, "", "")
        parsed = parse_reply(content, thinking, (), tool_specs())
        if dialect.endswith("-thinking"):  # played, and never run: thinking is reasoning
            assert parsed.calls == () and "inside your reasoning" in parsed.problem
            continue
        assert [(c.name, c.arguments) for c in parsed.calls] == \
            [(c.name, c.arguments) for c in calls], dialect
        assert dialect.removesuffix("-thinking").split("-")[0] in parsed.delivery \
            or dialect in ("python-dict", "fenced-json", "hermes-json")


def test_near_json_never_evaluates_code() -> None:
    for text in ("__import__('os').system('touch pwned')", "(lambda: 1)()", "open('x')"):
        with pytest.raises(NearJsonError):
            loads(text)
    assert loads("{'a': (1, 2), 'b': True, 'c': None,}") == {"a": [1, 2], "b": True,
                                                            "c": None}


# --- properties ------------------------------------------------------------------------

VALUES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n<>`"),
                 max_size=30)
CALLS = st.lists(st.builds(lambda name, path: Call(name, {"path": path}),
                           st.sampled_from(["list_dir", "read_file"]), VALUES),
                 min_size=1, max_size=3)
NOISE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="{[(<`$"),
                max_size=40)


@pytest.mark.slow  # many generated examples: the whole suite runs them
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300), thinking=st.text(max_size=100))
def test_the_parser_never_crashes_and_only_calls_tools(text: str, thinking: str) -> None:
    parsed = parse_reply(text, thinking, (), tool_specs())
    assert all(c.name in TOOL_NAMES for c in parsed.calls)
    assert isinstance(parsed.problem, str) and "\n" not in parsed.problem


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=CALLS, dialect=st.sampled_from([d for d in WRITERS if "thinking" not in d]),
       noise=NOISE, family=st.sampled_from(["think", "prose", "cut", "thinking-field"]),
       cut_at=st.integers(0, 6))
def test_nothing_from_the_refusal_families_ever_runs(calls: list[Call], dialect: str,
                                                     noise: str, family: str,
                                                     cut_at: int) -> None:
    shape, _ = render(dialect, calls, "", "")
    content, thinking = {
        "think": (f"<think>{shape}</think>{noise}", ""),
        "prose": (f"You could call {shape} {noise}", ""),
        "cut": (shape[:shape.rindex("path") + cut_at], ""),
        "thinking-field": (noise, shape),
    }[family]
    parsed = parse_reply(content, thinking, (), tool_specs())
    if family == "cut":  # only the calls before the cut may run, never the cut one
        assert len(parsed.calls) < len(calls)
    else:
        assert parsed.calls == () and parsed.problem


# --- whole runs ------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("dialect", ["qwen-xml", "gpt-oss-harmony", "mistral"])
def test_a_model_that_only_writes_calls_as_text_finishes_the_task(workspace: Path,
                                                                  dialect: str) -> None:
    from dataclasses import replace

    from jetbox.offline.solvers import MathxSolver
    from tests.conftest import run_cli
    from tests.enginekit import MATHX_DATA_GOAL, data_probes

    solver = MathxSolver(workspace)
    with OfflineOllama(lambda r: replace(solver(r), dialect=dialect)) as server:
        result = run_cli("run", MATHX_DATA_GOAL, "-w", str(workspace), "--host", server.host,
                         "--sandbox", "none", *data_probes(workspace))
    assert result.code == 0, result.err
    replies = [json.loads(x) for x in (workspace / "agent_ledger.log").read_text(
        encoding="utf-8").splitlines() if '"model_reply"' in x]
    assert replies and all(r["delivery"].startswith(dialect) for r in replies)
    assert (workspace / PATH).read_text(encoding="utf-8").startswith('"""mathx')


@pytest.mark.slow
def test_a_call_drafted_in_reasoning_is_not_run_and_the_model_hears_why(
        workspace: Path) -> None:
    from tests.conftest import MATHX_GOAL, run_cli

    turns = iter([turn_for(SHAPES["think-only"]), turn_for(SHAPES["truncated-json"])])
    with OfflineOllama(lambda r: next(turns, Turn(calls=(Call("finish", {"summary": "x"}),)))
                       ) as server:
        run_cli("run", MATHX_GOAL, "-w", str(workspace), "--host", server.host,
                "--sandbox", "none", "--max-rounds", "3")
        second = json.dumps(server.requests[1].messages)
        third = json.dumps(server.requests[2].messages)
    assert not (workspace / PATH).exists()
    assert "inside your reasoning" in second and "No tool call" not in second
    assert "was cut off (the reply hit the output limit)" in third


@pytest.mark.parametrize("text", ['{"a":' * 40_000, "{]" * 60_000, "f(x=1) " * 20_000,
                                  "<function=x>" * 20_000, '{"x": 1} ' * 20_000,
                                  "a" * 100_000 + "<|tool_call_argument_begin|>{",
                                  "a." * 50_000 + "(" + "x=1," * 1000],
                         ids=["open", "mismatched", "calls", "qwen-openers", "objects",
                              "one-long-word", "dotted-word"])
def test_a_huge_odd_reply_is_read_quickly(text: str) -> None:
    # Catches: quadratic scans (each opener searching the whole rest of the text).
    import time

    started = time.monotonic()
    parse_reply(text, "", (), tool_specs())
    assert time.monotonic() - started < 5


def test_json_that_is_no_call_is_not_taken_for_one() -> None:
    reply = 'Here is package.json:\n```json\n{"name": "mathx", "version": "0.1.0"}\n```'
    parsed = parse_reply(reply, "", (), tool_specs())
    assert parsed.calls == () and parsed.problem == ""  # the plain reminder follows


def test_a_sentence_before_a_call_does_not_make_it_prose() -> None:
    call = '{"name": "list_dir", "arguments": {"path": "."}}'
    acting = f"I'll add helpers such as add, e.g. for ints.\n<tool_call>{call}</tool_call>"
    assert [c.name for c in parse_reply(acting, "", (), tool_specs()).calls] == ["list_dir"]
    quoting = f"To see the files you could run:\n<tool_call>{call}</tool_call>"
    assert parse_reply(quoting, "", (), tool_specs()).calls == ()


def test_a_native_reply_the_client_cannot_read_is_told_not_retried() -> None:
    # A call without a name fails the client's validation even after the transport has
    # read its arguments: the model hears why, once; no request is repeated.
    with OfflineOllama(lambda r: Turn(calls=(Call(None, {"path": "."}),))) as server:  # type: ignore[arg-type]
        reply = OllamaModel(ModelOptions("gpt-oss:20b", server.host, retries=3)).chat(
            [{"role": "user", "content": "go"}], tool_specs())
        requests = len(server.requests)
    assert reply.calls == () and requests == 1
    assert reply.problem.startswith("Your reply could not be read (message.tool_calls.0")


@pytest.mark.parametrize("text", [
    '<tool_call>{"name": "read_file", "arguments": {"path": "a.py",, }}</tool_call>',
    '[{"name": "read_file", "arguments": {"path": @@@}}]',
    '<|channel|>commentary to=functions.read_file <|constrain|>json<|message|>'
    '{"path": @@}<|call|>',
])
def test_a_call_that_cannot_be_read_is_told_in_prompts_words_with_the_models_own_text(
        text: str) -> None:
    """What the model hears is reply.unparsable around its own text: no parser's wording."""
    from jetbox.core.prompts import say

    parsed = parse_reply(text, "", (), tool_specs())
    assert parsed.calls == ()
    before, after = say("reply.unparsable", near="\x00").split("\x00")
    assert parsed.problem.startswith(before), parsed.problem
    quoted = parsed.problem[len(before):parsed.problem.index(after)]
    assert quoted and quoted.rstrip("…. ") in text, parsed.problem
