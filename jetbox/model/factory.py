"""The model a run uses unless told otherwise: Ollama through its client."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jetbox.model.base import Model
from jetbox.model.ollama import ModelOptions, OllamaModel

if TYPE_CHECKING:
    from jetbox.core.display import Display
    from jetbox.spec.config import Settings


def ollama_factory(settings: Settings, display: Display) -> Callable[[], Model]:
    """The model a run uses unless told otherwise: Ollama through its client, created on first
    use. The deadline is taken before the run starts its clock, so a model call never
    outlives the timebox."""
    deadline = time.monotonic() + settings.timebox_s

    def make() -> Model:
        options: dict[str, Any] = {"temperature": settings.temperature, "num_ctx": settings.num_ctx}
        if settings.seed >= 0:
            options["seed"] = settings.seed
        return OllamaModel(ModelOptions(settings.model, settings.host, settings.request_timeout_s,
                                        options, settings.think, settings.protocol,
                                        settings.retries, settings.retry_backoff_s, deadline),
                           progress=display.progress, warn=display.warn)
    return make
