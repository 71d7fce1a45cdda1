"""The request being built up, as a value: a stable prefix, the compacted state, then the
exchanges since (Ollama's prompt cache reuses the unchanged prefix)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from jetbox.core.prompts import say
from jetbox.round import notes


@dataclass(frozen=True)
class Conversation:
    """The request being built up: prefix + compacted state + exchanges since. A value:
    each change returns a new one, which the round carries."""

    prefix: tuple[dict[str, Any], ...]
    state: dict[str, Any]
    exchanges: tuple[dict[str, Any], ...] = ()
    rounds: int = 0  # exchanges appended since the last compaction
    shown: Mapping[str, str] = field(default_factory=dict)  # what the model last saw, by topic
    latest: tuple[int, ...] = ()  # exchanges holding the latest results

    def messages(self) -> list[dict[str, Any]]:
        return [*self.prefix, self.state, *self.exchanges]

    def with_round(self, messages: Sequence[dict[str, Any]], fold_chars: int) -> Conversation:
        """A round appended; the round before it is folded to fold_chars per result, so only
        the newest results are whole (the model has acted on the older ones)."""
        exchanges = list(self.exchanges)
        for index in self.latest:
            message = exchanges[index]
            exchanges[index] = {**message, "content": fold(message["content"], fold_chars)}
        start = len(exchanges)
        exchanges.extend(messages)
        latest = tuple(start + i for i, m in enumerate(messages) if m.get("role") == "tool")
        return replace(self, exchanges=tuple(exchanges), latest=latest, rounds=self.rounds + 1)

    def with_note(self, found: Mapping[str, str]) -> Conversation:
        """A note appended with what changed since the model last saw it, if anything did:
        of the files, only those added or removed, and not those its own calls named."""
        changed = [text for topic, text in found.items()
                   if topic != notes.FILES and self.shown.get(topic) != text]
        files = notes.files_delta(self.shown.get(notes.FILES, ""), found.get(notes.FILES, ""),
                               notes.called_paths(self.exchanges)) if notes.FILES in found else ""
        changed += [files] if files else []
        note = ({"role": "user", "content": "\n\n".join(changed)},) if changed else ()
        return replace(self, exchanges=(*self.exchanges, *note), shown=dict(found))


def fold(text: str, max_chars: int) -> str:
    """Head and tail of a result, saying how much was left out of the middle."""
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    return f"{text[:half]}\n{say('context.elided', chars=len(text) - 2 * half)}\n{text[-half:]}"
