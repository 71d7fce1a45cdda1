"""The offline Ollama speaks Ollama's wire protocol as the real `ollama` client sees it."""

from __future__ import annotations

import httpx
import ollama
import pytest

from jetbox.offline import Call, FakeModel, OfflineOllama, ScriptResponder, Turn

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

CALL = Turn(thinking="Look first.", content="", calls=(Call("list_dir", {"path": "."}),))
TOOLS = [{"type": "function", "function": {"name": "list_dir", "description": "d",
                                           "parameters": {"type": "object", "properties": {}}}}]


def chat(server: OfflineOllama, stream: bool, model: str = "gpt-oss:20b", **kw):  # noqa: ANN003, ANN201
    client = ollama.Client(host=server.host, timeout=5)
    return client.chat(model=model, messages=[{"role": "user", "content": "hi"}],
                       stream=stream, **kw)


def test_stream_has_thinking_first_metrics_only_on_the_last_chunk_and_no_blank_lines() -> None:
    turn = Turn(thinking="a b", content="one two three")
    with OfflineOllama(ScriptResponder([turn, turn])) as s:
        chunks = list(chat(s, True))
        raw = httpx.post(s.host + "/api/chat", json={"model": "gpt-oss:20b", "messages": [
            {"role": "user", "content": "x"}]}).text
    assert chunks[0].message.thinking == "a " and chunks[-1].done
    assert "".join(c.message.content for c in chunks) == "one two three"
    assert all(c.eval_count is None for c in chunks[:-1])
    assert chunks[-1].done_reason == "stop" and chunks[-1].prompt_eval_count > 0
    assert raw.endswith("\n") and "\n\n" not in raw  # streams by default, no blank line


@pytest.mark.parametrize("style, final_only", [("final", True), ("midstream", False)])
def test_tool_calls_arrive_in_the_final_chunk_or_mid_stream(style: str, final_only: bool) -> None:
    model = FakeModel("m:1", tool_style=style)
    with OfflineOllama(ScriptResponder([CALL]), [model]) as s:
        chunks = list(chat(s, True, "m:1", tools=TOOLS))
    with_calls = [c for c in chunks if c.message.tool_calls]
    assert len(with_calls) == 1 and with_calls[0].done is final_only
    assert with_calls[0].message.tool_calls[0].function.arguments == {"path": "."}


def test_non_streaming_reply_joins_everything() -> None:
    with OfflineOllama(ScriptResponder([CALL])) as s:
        reply = chat(s, False, tools=TOOLS)
    assert reply.done and reply.message.thinking == "Look first."
    assert reply.message.tool_calls[0].function.name == "list_dir"


def test_leaked_calls_and_the_json_protocol_put_calls_in_content() -> None:
    leaky = FakeModel("leaky:1", tool_style="content")
    with OfflineOllama(ScriptResponder([CALL, CALL]), [leaky]) as s:
        leaked = chat(s, False, "leaky:1", tools=TOOLS)
        as_json = chat(s, False, "leaky:1", format={"type": "object"})
    assert not leaked.message.tool_calls and '"name": "list_dir"' in leaked.message.content
    assert as_json.message.content.startswith('{"tool": "list_dir", "args": {"path": "."}')


def test_errors_have_ollamas_status_codes_and_bodies() -> None:
    no_tools = FakeModel("gemma:2b", ("completion",))
    script = ScriptResponder([Turn(http_status=503, error="server busy, please try again."),
                              Turn(content="a b c d", stream_error=True, error="runner died")])
    with OfflineOllama(script, [FakeModel(), no_tools]) as s:
        with pytest.raises(ollama.ResponseError) as missing:
            chat(s, False, "nope:1")
        with pytest.raises(ollama.ResponseError) as tools:
            chat(s, False, "gemma:2b", tools=TOOLS)
        with pytest.raises(ollama.ResponseError) as think:
            chat(s, False, "gemma:2b", think=True)
        with pytest.raises(ollama.ResponseError) as busy:
            chat(s, False)
        with pytest.raises(ollama.ResponseError) as broken:
            list(chat(s, True))
        with pytest.raises(ollama.ResponseError) as exhausted:
            chat(s, False)
        unknown = httpx.get(s.host + "/api/nothing")
        wrong_method = httpx.get(s.host + "/api/chat")
    assert (missing.value.status_code, missing.value.error) == (404, "model 'nope:1' not found")
    assert tools.value.status_code == 400 and \
        tools.value.error == "registry.ollama.ai/library/gemma does not support tools"
    assert think.value.error == '"gemma:2b" does not support thinking'
    assert busy.value.status_code == 503
    assert (broken.value.status_code, broken.value.error) == (-1, "runner died")
    assert exhausted.value.status_code == 500 and "exhausted" in exhausted.value.error
    assert (unknown.status_code, unknown.text) == (404, "404 page not found")
    assert wrong_method.status_code == 405


def test_show_list_version_and_root() -> None:
    with OfflineOllama(ScriptResponder([])) as s:
        client = ollama.Client(host=s.host)
        shown = client.show("gpt-oss:20b")
        listed = [m.model for m in client.list().models]
        version = httpx.get(s.host + "/api/version").json()
        root = httpx.get(s.host + "/").text
    assert shown.capabilities == ["completion", "tools", "thinking"]
    assert shown.modelinfo["gptoss.context_length"] == 131072
    assert listed == ["gpt-oss:20b"] and version["version"] == "0.12.3"
    assert root == "Ollama is running"


def test_unreachable_server_surfaces_as_the_client_really_raises() -> None:
    client = ollama.Client(host="http://127.0.0.1:9", timeout=2)
    with pytest.raises(ConnectionError):
        client.chat(model="m", messages=[{"role": "user", "content": "x"}], stream=False)
    with pytest.raises(httpx.ConnectError):
        list(client.chat(model="m", messages=[{"role": "user", "content": "x"}], stream=True))


def test_a_hanging_reply_times_out_and_stop_does_not_wait_for_it() -> None:
    import time

    server = OfflineOllama(ScriptResponder([Turn(delay_s=30)])).start()
    client = ollama.Client(host=server.host, timeout=0.3)
    with pytest.raises(httpx.ReadTimeout):
        client.chat(model="gpt-oss:20b", messages=[{"role": "user", "content": "x"}])
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5
