"""What a person waiting on the model is told: how long it has been and what is happening
(the model loading or reading the prompt, thinking, writing), updated by the thread that
reads the stream and read by the one that shows it."""

from __future__ import annotations

import threading
import time
from typing import Any


class Waiting:
    """The progress of one request; `describe()` is safe to call from another thread."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._thinking = 0  # chunks of each kind, about one token each
        self._content = 0
        self._calls = 0

    def update(self, message: Any) -> None:
        with self._lock:
            self._thinking += bool(message.thinking)
            self._content += bool(message.content)
            self._calls += len(message.tool_calls or ())

    def describe(self) -> str:
        with self._lock:
            thinking, content, calls = self._thinking, self._content, self._calls
        elapsed = time.monotonic() - self.started
        if calls:
            doing = f"sent {calls} tool call{'s' if calls > 1 else ''}, finishing"
        elif content:
            doing = f"writing, {content + thinking} tokens so far"
        elif thinking:
            doing = f"thinking, {thinking} tokens so far"
        else:
            doing = "loading the model or reading the prompt"
        return f"waiting on {self.model} for {elapsed:.0f} s: {doing}"
