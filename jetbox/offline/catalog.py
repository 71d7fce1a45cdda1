"""The offline server's answers about models: /api/tags, /api/show, /api/ps, /api/pull, and
the deterministic vectors of /api/embed."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from jetbox.offline.script import FakeModel

MODIFIED_AT = "2025-08-05T14:03:12-07:00"
SIZE = 13780173839
EMBED_DIMENSIONS = 64
KEEP_ALIVE_S = 300  # Ollama's default keep_alive: a loaded model stays five minutes


def details(model: FakeModel) -> dict[str, Any]:
    return {"parent_model": "", "format": "gguf", "family": model.family,
            "families": [model.family], "parameter_size": "20.9B",
            "quantization_level": "MXFP4"}


def digest(model: FakeModel) -> str:
    return hashlib.sha256(model.name.encode()).hexdigest()


def tag(model: FakeModel) -> dict[str, Any]:
    return {"name": model.name, "model": model.name, "modified_at": MODIFIED_AT,
            "size": SIZE, "digest": digest(model), "details": details(model)}


def show(model: FakeModel) -> dict[str, Any]:
    return {"modelfile": f"FROM {model.name}", "parameters": "", "template": "{{ .Prompt }}",
            "details": details(model), "capabilities": list(model.capabilities),
            "model_info": {"general.architecture": model.family,
                           f"{model.family}.context_length": model.context_length},
            "modified_at": MODIFIED_AT}


def running(model: FakeModel, loaded_at: datetime) -> dict[str, Any]:
    """An /api/ps entry: the model stays loaded KEEP_ALIVE_S after its last request."""
    expires = (loaded_at + timedelta(seconds=KEEP_ALIVE_S)).astimezone(UTC)
    return {"name": model.name, "model": model.name, "size": SIZE, "digest": digest(model),
            "details": details(model), "expires_at": expires.isoformat(),
            "size_vram": SIZE, "context_length": model.context_length}


def pull_lines(model: FakeModel) -> list[dict[str, Any]]:
    """What `ollama pull` streams for a model that is already complete on disk."""
    return [{"status": "pulling manifest"},
            {"status": f"pulling {digest(model)[:12]}", "digest": f"sha256:{digest(model)}",
             "total": SIZE, "completed": SIZE},
            {"status": "verifying sha256 digest"}, {"status": "writing manifest"},
            {"status": "success"}]


def vector(text: str, dimensions: int = EMBED_DIMENSIONS) -> list[float]:
    """A unit vector that depends only on the text: equal texts, equal vectors."""
    raw: list[float] = []
    counter = 0
    while len(raw) < dimensions:
        block = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        raw += [(b - 127.5) / 127.5 for b in block]
        counter += 1
    raw = raw[:dimensions]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [round(x / norm, 6) for x in raw]


def now() -> datetime:
    return datetime.now(UTC)
