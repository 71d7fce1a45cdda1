"""Third-party Ollama clients against the offline server: litellm (`ollama/`, which uses
/api/generate, and `ollama_chat/`) and langchain-ollama. Both are optional (the `clients`
extra); without them these tests skip and say so."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from types import ModuleType

import pytest
from pydantic import BaseModel

from jetbox.offline import OfflineOllama
from jetbox.offline.replay import ChatScript

# Importing litellm alone takes seconds; one worker imports it (tests/grouping.py).
pytestmark = [pytest.mark.slow]
HI = [{"role": "user", "content": "hi"}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city.",
    "parameters": {"type": "object", "required": ["city"],
                   "properties": {"city": {"type": "string"}}}}}


def _client(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        reason = f"{name} is not installed ({exc}); pip install -e \".[clients]\" to run this"
        print(f"SKIP: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def host() -> Iterator[str]:
    with OfflineOllama(ChatScript()) as server:
        yield server.host


@pytest.fixture(scope="module")
def litellm() -> ModuleType:
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no download of the price list
    return _client("litellm")


@pytest.mark.parametrize("prefix", ["ollama", "ollama_chat"])
def test_litellm_completion_stream_and_json(litellm: ModuleType, host: str,
                                            prefix: str) -> None:
    model = f"{prefix}/gpt-oss:20b"
    whole = litellm.completion(model=model, messages=HI, api_base=host)
    streamed = "".join(c.choices[0].delta.content or "" for c in litellm.completion(
        model=model, messages=HI, api_base=host, stream=True))
    as_json = litellm.completion(model=model, messages=HI, api_base=host,
                                 response_format={"type": "json_object"})
    text = whole.choices[0].message.content
    assert text.startswith("You said: ") and "hi" in text and streamed == text
    assert json.loads(as_json.choices[0].message.content) == {"response": text}


def test_litellm_ollama_chat_tool_calls(litellm: ModuleType, host: str) -> None:
    reply = litellm.completion(model="ollama_chat/gpt-oss:20b", messages=HI, api_base=host,
                               tools=[WEATHER])
    (call,) = reply.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert set(json.loads(call.function.arguments)) == {"city"}


def test_litellm_embedding(litellm: ModuleType, host: str) -> None:
    vectors = litellm.embedding(model="ollama/gpt-oss:20b", input=["a", "b", "a"],
                                api_base=host).data
    assert len(vectors) == 3 and len(vectors[0]["embedding"]) == 64
    assert vectors[0]["embedding"] == vectors[2]["embedding"] != vectors[1]["embedding"]


class Person(BaseModel):
    name: str
    age: int


def get_weather(city: str) -> str:
    """Weather for a city.

    Args:
        city: the city
    """
    return "sunny"


def test_langchain_chat_tools_and_structured_output(host: str) -> None:
    lc = _client("langchain_ollama")
    chat = lc.ChatOllama(model="gpt-oss:20b", base_url=host)
    assert chat.invoke("hi").content == "You said: hi"
    assert "".join(c.content for c in chat.stream("hi")) == "You said: hi"
    (call,) = chat.bind_tools([get_weather]).invoke("weather in Paris?").tool_calls
    assert call["name"] == "get_weather" and set(call["args"]) == {"city"}
    for method in ("json_schema", "function_calling"):
        person = chat.with_structured_output(Person, method=method).invoke("who?")
        assert isinstance(person, Person)


def test_langchain_llm_and_embeddings(host: str) -> None:
    lc = _client("langchain_ollama")
    assert lc.OllamaLLM(model="gpt-oss:20b", base_url=host).invoke("hello") == \
        "You said: hello"
    embeddings = lc.OllamaEmbeddings(model="gpt-oss:20b", base_url=host)
    documents = embeddings.embed_documents(["a", "b"])
    assert len(documents) == 2 and embeddings.embed_query("a") == documents[0]
