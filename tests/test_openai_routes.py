"""The OpenAI-compatible routes real Ollama serves (/v1/chat/completions, /v1/completions,
/v1/models, /v1/embeddings), driven by the real `openai` client (the `clients` extra; these
tests skip, saying so, without it)."""

from __future__ import annotations

import base64
import importlib
import json
import struct
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.offline.replay import ChatScript

MODEL = "gpt-oss:20b"
HI = [{"role": "user", "content": "hi"}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city.",
    "parameters": {"type": "object", "required": ["city"],
                   "properties": {"city": {"type": "string"}}}}}


@pytest.fixture(scope="module")
def openai() -> ModuleType:
    try:
        return importlib.import_module("openai")
    except ImportError as exc:
        reason = f"openai is not installed ({exc}); pip install -e \".[clients]\" to run this"
        print(f"SKIP: {reason}")
        pytest.skip(reason)


@pytest.fixture
def server() -> Iterator[OfflineOllama]:
    with OfflineOllama(ChatScript()) as running:
        yield running


@pytest.fixture
def client(openai: ModuleType, server: OfflineOllama) -> Any:
    # Ollama's documented setup: base_url ending in /v1, any api_key (it is not checked).
    return openai.OpenAI(base_url=f"{server.host}/v1", api_key="ollama", max_retries=0,
                         timeout=10)


def test_chat_completion_whole_and_streamed(client: Any) -> None:
    whole = client.chat.completions.create(model=MODEL, messages=HI)
    chunks = list(client.chat.completions.create(model=MODEL, messages=HI, stream=True,
                                                 stream_options={"include_usage": True}))
    assert whole.object == "chat.completion" and whole.model == MODEL
    assert whole.choices[0].message.content == "You said: hi"
    assert whole.choices[0].finish_reason == "stop" and whole.usage.total_tokens > 0
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: hi"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls_in_openai_shape_and_the_result_goes_back(client: Any,
                                                             stream: bool) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=HI, tools=[WEATHER],
                                           stream=stream)
    if stream:
        chunks = list(reply)
        calls = [c for chunk in chunks for c in chunk.choices[0].delta.tool_calls or []]
        finish = chunks[-1].choices[0].finish_reason
    else:
        calls, finish = reply.choices[0].message.tool_calls, reply.choices[0].finish_reason
    (call,) = calls
    assert finish == "tool_calls" and call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "text"}  # a JSON string, as OpenAI
    answered = client.chat.completions.create(model=MODEL, tools=[WEATHER], messages=[
        *HI, {"role": "assistant", "content": None, "tool_calls": [
            {"id": call.id, "type": "function", "function": {
                "name": call.function.name, "arguments": call.function.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": "18 C"}])
    assert answered.choices[0].message.content == "The tool answered: 18 C"


def test_every_scripted_call_and_the_reasoning_arrive(openai: ModuleType) -> None:
    turn = Turn(thinking="Two cities.", calls=(Call("get_weather", {"city": "Paris"}),
                                               Call("get_weather", {"city": "Oslo"})))
    with OfflineOllama(ScriptResponder([turn])) as server:
        client = openai.OpenAI(base_url=f"{server.host}/v1", api_key="x", max_retries=0)
        reply = client.chat.completions.create(model=MODEL, messages=HI, tools=[WEATHER],
                                               reasoning_effort="low")
        request = server.requests[0]
    message = reply.choices[0].message
    assert [json.loads(c.function.arguments)["city"] for c in message.tool_calls] == \
        ["Paris", "Oslo"]
    assert [c.index for c in message.tool_calls] == [0, 1]
    assert message.reasoning == "Two cities."  # Ollama's field for the thinking
    assert request.think == "low" and request.options["temperature"] == 1.0


def test_json_response_formats_are_honoured(client: Any) -> None:
    as_json = client.chat.completions.create(model=MODEL, messages=HI,
                                             response_format={"type": "json_object"})
    shaped = client.chat.completions.create(model=MODEL, messages=HI, response_format={
        "type": "json_schema", "json_schema": {"name": "n", "schema": {
            "type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}}})
    assert json.loads(as_json.choices[0].message.content) == {"response": "You said: hi"}
    assert json.loads(shaped.choices[0].message.content) == {"n": 0}


def test_completions_whole_and_streamed(client: Any) -> None:
    whole = client.completions.create(model=MODEL, prompt="hello")
    parts = list(client.completions.create(model=MODEL, prompt="hello", stream=True))
    assert whole.object == "text_completion" and whole.choices[0].text == "You said: hello"
    assert "".join(p.choices[0].text for p in parts) == "You said: hello"
    assert parts[-1].choices[0].finish_reason == "stop"


def test_models_list_and_retrieve(client: Any, openai: ModuleType) -> None:
    assert [m.id for m in client.models.list()] == [MODEL]
    model = client.models.retrieve(MODEL)
    assert (model.id, model.object, model.owned_by) == (MODEL, "model", "library")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope:1")


def test_embeddings_as_floats_and_base64(client: Any, server: OfflineOllama) -> None:
    # Without encoding_format the client asks for base64 and decodes the float32s itself.
    default = client.embeddings.create(model=MODEL, input=["cat", "dog"])
    one = client.embeddings.create(model=MODEL, input="cat", encoding_format="float")
    assert [d.index for d in default.data] == [0, 1] and len(default.data[0].embedding) == 64
    assert default.data[0].embedding == pytest.approx(one.data[0].embedding, abs=1e-6)
    assert default.data[0].embedding != pytest.approx(default.data[1].embedding)
    raw = httpx.post(f"{server.host}/v1/embeddings", json={
        "model": MODEL, "input": "cat", "encoding_format": "base64"}).json()
    packed = base64.b64decode(raw["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(packed) // 4}f", packed)
    assert decoded == pytest.approx(one.data[0].embedding, abs=1e-6)


def test_errors_come_in_openai_shape(client: Any, openai: ModuleType) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="nope:1", messages=HI)
    with pytest.raises(openai.BadRequestError) as effort:
        client.chat.completions.create(model=MODEL, messages=HI, reasoning_effort="extreme")
    assert missing.value.body["message"] == "model 'nope:1' not found"
    assert missing.value.body["type"] == "not_found_error"
    assert "invalid reasoning value" in effort.value.body["message"]
