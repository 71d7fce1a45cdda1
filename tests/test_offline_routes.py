"""Every route of the offline server through the official `ollama` client: chat, generate,
embed, pull, show, tags, ps and version, `format`, and turns with several calls."""

from __future__ import annotations

import json

import httpx
import ollama
import pytest

from jetbox.offline import Call, FakeModel, OfflineOllama, ScriptResponder, Turn
from jetbox.offline.replay import ChatScript
from jetbox.offline.schema import example, formatted

USER = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city.",
    "parameters": {"type": "object", "required": ["city"],
                   "properties": {"city": {"type": "string"}}}}}
PERSON = {"type": "object", "required": ["name", "age", "tags"], "properties": {
    "name": {"type": "string"}, "age": {"type": "integer", "minimum": 18},
    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
    "kind": {"enum": ["a", "b"]}, "pet": {"$ref": "#/$defs/Pet"}},
    "$defs": {"Pet": {"type": "object", "properties": {"legs": {"type": "number"}}}}}


@pytest.fixture
def client() -> ollama.Client:
    with OfflineOllama(ChatScript()) as server:
        yield ollama.Client(host=server.host, timeout=10)


def test_chat_streamed_and_not_and_ps_lists_the_model_after_it(client: ollama.Client) -> None:
    assert client.ps().models == []
    whole = client.chat(model="gpt-oss:20b", messages=USER, stream=False)
    parts = [c.message.content for c in client.chat(model="gpt-oss:20b", messages=USER,
                                                      stream=True)]
    assert whole.message.content == "".join(parts) == "You said: What is the weather in Paris?"
    running = client.ps().models
    assert [m.model for m in running] == ["gpt-oss:20b"]
    assert running[0].expires_at is not None and running[0].size_vram > 0


def test_keep_alive_zero_unloads_the_model(client: ollama.Client) -> None:
    client.chat(model="gpt-oss:20b", messages=USER, stream=False)
    unloaded = client.chat(model="gpt-oss:20b", messages=[], keep_alive=0, stream=False)
    assert unloaded.done_reason == "unload" and client.ps().models == []


def test_tools_then_the_tool_result(client: ollama.Client) -> None:
    first = client.chat(model="gpt-oss:20b", messages=USER, tools=[WEATHER], stream=False)
    (call,) = first.message.tool_calls
    assert call.function.name == "get_weather" and set(call.function.arguments) == {"city"}
    second = client.chat(model="gpt-oss:20b", tools=[WEATHER], stream=False, messages=[
        *USER, first.message, {"role": "tool", "content": "18 C", "tool_name": "get_weather"}])
    assert second.message.content == "The tool answered: 18 C"


@pytest.mark.parametrize("stream", [True, False])
def test_generate_answers_with_response_and_context(client: ollama.Client,
                                                    stream: bool) -> None:
    if stream:
        chunks = list(client.generate(model="gpt-oss:20b", prompt="hello", stream=True))
        text, last = "".join(c.response for c in chunks), chunks[-1]
    else:
        last = client.generate(model="gpt-oss:20b", prompt="hello", stream=False)
        text = last.response
    assert text == "You said: hello" and last.done and last.context
    assert last.eval_count and last.done_reason == "stop"


def test_embed_is_deterministic_unit_vectors(client: ollama.Client) -> None:
    one = client.embed(model="gpt-oss:20b", input=["cat", "dog"]).embeddings
    again = client.embed(model="gpt-oss:20b", input="cat").embeddings
    legacy = client.embeddings(model="gpt-oss:20b", prompt="cat").embedding
    assert one[0] == again[0] == pytest.approx(list(legacy))
    assert one[0] != one[1] and len(one[0]) == 64
    assert sum(x * x for x in one[0]) == pytest.approx(1.0, abs=1e-4)


def test_pull_show_list_version(client: ollama.Client) -> None:
    statuses = [p.status for p in client.pull("gpt-oss:20b", stream=True)]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
    assert client.pull("gpt-oss:20b").status == "success"
    with pytest.raises(ollama.ResponseError, match="file does not exist"):
        client.pull("no-such-model")
    assert client.show("gpt-oss:20b").modelinfo["gptoss.context_length"] == 131072
    assert [m.model for m in client.list().models] == ["gpt-oss:20b"]
    host = str(client._client.base_url)
    version = httpx.get(f"{host}/api/version")
    assert version.json() == {"version": "0.12.3", "server": "Jetbox offline server"}
    assert version.headers["server"] == "Jetbox offline server"


def test_format_json_and_schema_are_satisfied(client: ollama.Client) -> None:
    as_json = client.chat(model="gpt-oss:20b", messages=USER, format="json", stream=False)
    assert json.loads(as_json.message.content) == {
        "response": "You said: What is the weather in Paris?"}
    shaped = client.chat(model="gpt-oss:20b", messages=USER, format=PERSON, stream=False)
    person = json.loads(shaped.message.content)
    assert set(person) >= {"name", "age", "tags"} and person["age"] >= 18
    assert len(person["tags"]) == 2 and person["kind"] == "a"
    assert person["pet"] == {"legs": 0.0}
    generated = client.generate(model="gpt-oss:20b", prompt="x", format=PERSON, stream=False)
    assert json.loads(generated.response)["age"] == 18


def test_a_reply_that_already_fits_the_schema_is_kept() -> None:
    fitting = json.dumps({"name": "Ada", "age": 36, "tags": []})
    assert formatted(fitting, PERSON) == fitting
    assert json.loads(formatted('{"name": "Ada"}', PERSON)) == example(PERSON)


@pytest.mark.parametrize("stream", [True, False])
def test_every_call_of_a_scripted_turn_is_delivered(stream: bool) -> None:
    turn = Turn(calls=(Call("get_weather", {"city": "Paris"}),
                       Call("get_weather", {"city": "Oslo"})))
    with OfflineOllama(ScriptResponder([turn])) as server:
        client = ollama.Client(host=server.host, timeout=10)
        reply = client.chat(model="gpt-oss:20b", messages=USER, tools=[WEATHER], stream=stream)
        chunks = list(reply) if stream else [reply]
    calls = [c for chunk in chunks for c in chunk.message.tool_calls or []]
    assert [c.function.arguments["city"] for c in calls] == ["Paris", "Oslo"]


def test_delete_answers_json_and_the_model_leaves_the_catalog(client: ollama.Client) -> None:
    host = str(client._client.base_url)
    unknown = httpx.request("DELETE", f"{host}/api/delete", json={"model": "nope:1"})
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "model 'nope:1' not found"}
    assert client.delete("gpt-oss:20b").status == "success"
    assert client.list().models == []
    with pytest.raises(ollama.ResponseError) as gone:
        client.chat(model="gpt-oss:20b", messages=USER, stream=False)
    assert gone.value.status_code == 404


@pytest.mark.parametrize("route", ["/api/chat", "/api/generate", "/api/show", "/api/embed",
                                   "/api/delete", "/v1/chat/completions"])
def test_a_body_that_is_not_json_is_a_400_that_says_so(client: ollama.Client,
                                                       route: str) -> None:
    host = str(client._client.base_url)
    method = "DELETE" if route == "/api/delete" else "POST"
    broken = httpx.request(method, host + route, content=b'{"model": "gpt-oss:20b",',
                           headers={"Content-Type": "application/json"})
    listed = httpx.request(method, host + route, json=["gpt-oss:20b"])
    assert broken.status_code == listed.status_code == 400
    error = broken.json()["error"]
    message = error["message"] if isinstance(error, dict) else error
    assert "not valid JSON" in message and "model is required" not in message
    listed_error = listed.json()["error"]
    assert "JSON object" in (listed_error["message"] if isinstance(listed_error, dict)
                             else listed_error)


@pytest.mark.parametrize("level", ["low", "medium", "high", True])
@pytest.mark.parametrize("stream", [True, False])
def test_a_thinking_model_asked_to_think_sends_its_thinking(client: ollama.Client,
                                                            level: object,
                                                            stream: bool) -> None:
    reply = client.chat(model="gpt-oss:20b", messages=USER, think=level, stream=stream)
    chunks = list(reply) if stream else [reply]
    thinking = "".join(c.message.thinking or "" for c in chunks)
    content = "".join(c.message.content for c in chunks)
    assert thinking and content == "You said: What is the weather in Paris?"
    if stream:  # the trace comes first, as a real model's does
        first = next(i for i, c in enumerate(chunks) if c.message.content)
        assert all(not c.message.thinking for c in chunks[first:])


def test_thinking_grows_with_the_level_and_false_stops_it_except_on_gpt_oss() -> None:
    qwen = FakeModel("qwen3:8b", family="qwen3")
    with OfflineOllama(ChatScript(), [FakeModel(), qwen]) as server:
        client = ollama.Client(host=server.host, timeout=10)
        sizes = [len(client.chat(model="gpt-oss:20b", messages=USER, think=level,
                                 stream=False).message.thinking or "")
                 for level in ("low", "medium", "high")]
        off = client.chat(model="qwen3:8b", messages=USER, think=False, stream=False)
        oss_off = client.chat(model="gpt-oss:20b", messages=USER, think=False, stream=False)
        unasked = client.chat(model="qwen3:8b", messages=USER, stream=False)
    assert sizes[0] < sizes[1] < sizes[2]
    assert not off.message.thinking and not unasked.message.thinking
    assert oss_off.message.thinking  # gpt-oss ignores false: its trace cannot be turned off
