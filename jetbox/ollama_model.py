"""The Model implementation that talks to a real (or the offline) Ollama server."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jetbox.errors import JetboxError, ModelUnavailable
from jetbox.model import Message, Reply, ToolCall

DEFAULT_HOST = "http://127.0.0.1:11434"

Progress = Callable[[str, int], None]  # (phase, output chunks so far)


class OllamaModel:
    """Streams one chat at a time through the official `ollama` client, native tool calls."""

    def __init__(self, name: str, host: str = "", timeout_s: float = 300.0,
                 options: Mapping[str, Any] | None = None, think: str = "",
                 progress: Progress | None = None) -> None:
        import ollama  # imported here: it pulls in httpx and pydantic, slow for `--help`

        self.name = name
        self.host = host or DEFAULT_HOST
        self.options = dict(options or {})
        self.think = think or None
        self.progress = progress
        self._client = ollama.Client(host=self.host, timeout=timeout_s)

    def chat(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]) -> Reply:
        started = time.monotonic()
        content: list[str] = []
        thinking: list[str] = []
        calls: list[ToolCall] = []
        final: Any = None
        first_token_s = 0.0
        with _translated_errors(self):
            stream = self._client.chat(model=self.name, messages=list(messages),
                                       tools=list(tools) or None, stream=True,
                                       options=self.options or None, think=self.think)
            for chunk in stream:
                message = chunk.message
                if not first_token_s and (message.content or message.thinking
                                          or message.tool_calls):
                    first_token_s = time.monotonic() - started
                content.append(message.content or "")
                thinking.append(message.thinking or "")
                calls.extend(ToolCall(c.function.name, dict(c.function.arguments or {}))
                             for c in message.tool_calls or ())
                if self.progress:
                    self.progress("generating", len(content))
                if chunk.done:
                    final = chunk
        return Reply(
            content="".join(content),
            thinking="".join(thinking),
            tool_calls=tuple(calls),
            prompt_tokens=getattr(final, "prompt_eval_count", 0) or 0,
            output_tokens=getattr(final, "eval_count", 0) or 0,
            duration_s=time.monotonic() - started,
            load_s=(getattr(final, "load_duration", 0) or 0) / 1e9,
            first_token_s=first_token_s,
        )


class _translated_errors:
    """Turns the client's many failure shapes into messages a person can act on."""

    def __init__(self, model: OllamaModel) -> None:
        self.model = model

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> bool:
        if exc is None:
            return False
        import httpx
        import ollama

        host = self.model.host
        if isinstance(exc, ConnectionError | httpx.ConnectError):
            raise ModelUnavailable(f"cannot reach Ollama at {host}; start it with "
                                   f"`ollama serve`") from None
        if isinstance(exc, httpx.TimeoutException):
            raise ModelUnavailable(f"Ollama at {host} did not answer in time "
                                   f"({type(exc).__name__}); is the model still loading?") from None
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404:
                raise ModelUnavailable(f"model `{self.model.name}` is not available at {host}; "
                                       f"pull it with `ollama pull {self.model.name}`") from None
            raise JetboxError(f"Ollama at {host} answered an error: {exc.error} "
                              f"(status {exc.status_code})") from None
        if isinstance(exc, httpx.HTTPError):
            raise ModelUnavailable(f"connection to Ollama at {host} failed: {exc}") from None
        return False
