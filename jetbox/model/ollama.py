"""The Model that talks to a real (or the offline) Ollama server through the official client."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jetbox.core.errors import ModelDown, PauseRun
from jetbox.core.prompts import say
from jetbox.model.base import Message
from jetbox.model.calls import parse_reply
from jetbox.model.failures import Retryable, _parsed, _translated_errors
from jetbox.model.host import parse_host
from jetbox.model.protocol import json_schema, to_json_protocol
from jetbox.model.transport import RawRepair, tls
from jetbox.model.waiting import Waiting
from jetbox.store.kinds import ModelReply, ToolCall

DEFAULT_HOST = "http://127.0.0.1:11434"
NEAR_CONTEXT = 0.9  # warn when a prompt uses this share of num_ctx (Ollama truncates silently)

Progress = Callable[[str], None]
Warn = Callable[[str], None]


@dataclass(frozen=True)
class ModelOptions:
    """How to talk to one model."""

    name: str
    host: str = ""
    timeout_s: float = 200.0        # the wall time of one request, streaming included
    options: Mapping[str, Any] | None = None  # temperature, num_ctx, seed
    think: str = ""
    protocol: str = "auto"  # auto | tools | json
    retries: int = 3
    backoff_s: float = 1.0
    deadline: float | None = None   # time.monotonic() when the run's timebox ends


class OllamaModel:
    """Streams one chat at a time; chooses native tools or the JSON protocol per model."""

    def __init__(self, settings: ModelOptions, progress: Progress | None = None,
                 warn: Warn | None = None) -> None:
        import ollama  # here, not at the top: it pulls in httpx and pydantic (slow for --help)

        self.settings = settings
        self.name = settings.name
        self.host = parse_host(settings.host).url
        self.progress = progress or (lambda text: None)
        self.warn = warn or (lambda text: None)
        self.protocol = settings.protocol if settings.protocol != "auto" else ""
        self._client = ollama.Client(host=self.host, timeout=settings.timeout_s,
                                     verify=tls())
        self._warned_context = False

    def chat(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]) -> ModelReply:
        for attempt in range(self.settings.retries + 1):
            try:
                if not self.protocol:
                    self.protocol = self._choose_protocol()
                return self._chat_once(messages, tools, self._budget_s())
            except Retryable as exc:
                if attempt == self.settings.retries:
                    raise ModelDown(f"Ollama at {self.host} failed {attempt + 1} times; "
                                           f"last: {exc}; the run is paused, run again to "
                                           f"resume") from None
                delay = self.settings.backoff_s * 2 ** attempt
                if self._left_s() <= delay:
                    raise PauseRun(say("pause.timebox_in_call", error=exc)) from None
                self.warn(f"{exc}; retrying in {delay:g} s ({attempt + 1}/"
                          f"{self.settings.retries})")
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _left_s(self) -> float:
        """Seconds until the run's timebox ends (infinite without one)."""
        deadline = self.settings.deadline
        return float("inf") if deadline is None else deadline - time.monotonic()

    def _budget_s(self) -> float:
        """The wall time one request may take: request_timeout_s, cut to the timebox."""
        left = self._left_s()
        if left <= 0:
            raise PauseRun(say("pause.timebox_before_call"))
        return min(self.settings.timeout_s, left)

    def _choose_protocol(self) -> str:
        """Native tools when /api/show lists the capability, else the JSON protocol."""
        with _translated_errors(self):
            try:
                shown = self._client.show(self.name)
            except (TypeError, AttributeError) as exc:  # JSON, but not an object
                raise Retryable(f"Ollama at {self.host} answered /api/show with something "
                                f"that is not Ollama's: {str(exc)[:80]}") from None
        capabilities = list(getattr(shown, "capabilities", None) or [])
        if capabilities and "tools" not in capabilities:
            self.warn(f"{self.name} has no tool-calling capability; using the JSON protocol")
            return "json"
        return "tools"

    def _chat_once(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]],
                   budget_s: float) -> ModelReply:
        import ollama

        try:
            return self._bounded(messages, tools, budget_s)
        except ollama.ResponseError as exc:
            if exc.status_code == 400 and "does not support tools" in str(exc.error) \
                    and self.protocol == "tools":
                self.protocol = "json"
                self.warn(f"{self.name} does not support tools; switching to the JSON protocol "
                          f"for the rest of the run")
                return self._bounded(messages, tools, budget_s)
            raise

    def _bounded(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]],
                 budget_s: float) -> ModelReply:
        """One request that ends within `budget_s` of wall time, however the server streams:
        the stream is read in a worker thread, abandoned (its connection closed) at the limit."""
        import ollama

        # The client's own timeout (between bytes) only backs up the wall-time limit below.
        transport = RawRepair()
        client = ollama.Client(host=self.host, timeout=budget_s + 5, transport=transport,
                               verify=tls())
        outcome: dict[str, Any] = {}
        cancelled = threading.Event()
        waiting = Waiting(self.name)

        def consume() -> None:
            try:
                outcome["reply"] = self._stream(client, messages, tools, cancelled, waiting,
                                                transport)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                outcome["error"] = exc

        worker = threading.Thread(target=consume, name="jetbox-model-stream", daemon=True)
        worker.start()
        ends = time.monotonic() + budget_s
        while worker.is_alive() and time.monotonic() < ends:
            self.progress(waiting.describe())  # a live line, several times a second
            worker.join(min(0.25, max(ends - time.monotonic(), 0.0)))  # Ctrl-C stays prompt
        if worker.is_alive():
            cancelled.set()
            client.close()
            raise Retryable(f"no complete reply from Ollama at {self.host} within "
                            f"{budget_s:g} s")
        client.close()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["reply"]

    def _stream(self, client: Any, messages: Sequence[Message],
                tools: Sequence[Mapping[str, Any]], cancelled: threading.Event,
                waiting: Waiting, transport: RawRepair) -> ModelReply:
        import pydantic  # here, like ollama: slow to import
        started = time.monotonic()
        content, thinking, calls = [], [], []
        final: Any = None
        unreadable = ""
        first_token_s = 0.0
        use_json = self.protocol == "json"
        wire = to_json_protocol(messages, tools) if use_json else list(messages)
        with _translated_errors(self):
            stream = client.chat(
                model=self.name, messages=wire, tools=None if use_json else (list(tools) or None),
                format=json_schema(tools) if use_json else None, stream=True,
                options=dict(self.settings.options or {}) or None,
                think=self.settings.think or None)
            try:
                for chunk in _parsed(stream, self.host):
                    if cancelled.is_set():
                        break
                    message = chunk.message
                    if not first_token_s and (message.content or message.thinking
                                              or message.tool_calls):
                        first_token_s = time.monotonic() - started
                    content.append(message.content or "")
                    thinking.append(message.thinking or "")
                    calls += [ToolCall(c.function.name, dict(c.function.arguments or {}))
                              for c in message.tool_calls or ()]
                    waiting.update(message)
                    if chunk.done:
                        final = chunk
            except pydantic.ValidationError as exc:  # read, not retried: tell the model
                unreadable = _unreadable(exc)
        if final is None and not cancelled.is_set() and not unreadable:
            raise Retryable(f"the stream from Ollama at {self.host} ended before its final "
                            f"chunk")
        return self._reply(Stream("".join(content), "".join(thinking), calls, final, started,
                                  first_token_s, transport.repaired, unreadable), tools)

    def _reply(self, got: Stream, tools: Sequence[Mapping[str, Any]]) -> ModelReply:
        parsed = parse_reply(got.content, got.thinking, got.calls, tools,
                             json_protocol=self.protocol == "json",
                             from_string=got.repaired > 0)
        thinking = got.thinking
        if self.protocol == "json" and parsed.calls:
            thinking = thinking or _json_thought(got.content)
        problem = parsed.problem
        if got.unreadable and not parsed.calls:
            problem = got.unreadable
        final = got.final
        prompt_tokens = getattr(final, "prompt_eval_count", 0) or 0
        self._check_context(prompt_tokens)
        if getattr(final, "done_reason", "") == "length" and not parsed.calls and not problem:
            problem = say("reply.cut_off_before_call")
        return ModelReply(content=got.content, thinking=thinking, calls=parsed.calls,
                          prompt_tokens=prompt_tokens,
                          output_tokens=getattr(final, "eval_count", 0) or 0,
                          duration_s=time.monotonic() - got.started,
                          load_s=(getattr(final, "load_duration", 0) or 0) / 1e9,
                          first_token_s=got.first_token_s,
                          recovered=parsed.delivery.endswith("in content"),
                          problem=problem, delivery=parsed.delivery)

    def _check_context(self, prompt_tokens: int) -> None:
        num_ctx = int((self.settings.options or {}).get("num_ctx") or 0)
        if num_ctx and prompt_tokens >= NEAR_CONTEXT * num_ctx and not self._warned_context:
            self._warned_context = True
            self.warn(f"the prompt used {prompt_tokens} of num_ctx={num_ctx} tokens; Ollama "
                      f"drops the oldest messages silently beyond it: raise num_ctx or lower "
                      f"the compaction budget")


@dataclass(frozen=True)
class Stream:
    """What one streamed reply brought, before its calls are read."""

    content: str
    thinking: str
    calls: list[ToolCall]
    final: Any
    started: float
    first_token_s: float
    repaired: int = 0       # calls whose arguments came as a JSON string
    unreadable: str = ""    # why the client could not read the reply


def _unreadable(exc: Any) -> str:
    error = (exc.errors() or [{}])[0]
    where = ".".join(str(p) for p in error.get("loc", ()))
    return say("reply.unreadable", where=where, error=error.get("msg", "invalid"))


def _json_thought(content: str) -> str:
    try:
        value = json.loads(content)
    except ValueError:
        return ""
    return str(value.get("thought", "")) if isinstance(value, dict) else ""
