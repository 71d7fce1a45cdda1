"""machine.yaml `compaction:`: how Compact keeps the model's context small."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from jetbox.core.errors import ConfigError


@dataclass(frozen=True)
class CompactionPolicy:
    """machine.yaml `compaction:`: when the rounds since the last compaction are folded."""

    history_keep: int = 8           # rounds of exchanges kept before compacting
    budget_share: float = 0.6       # share of num_ctx one request may use
    chars_per_token: float = 3.0    # conservative size estimate (code is ~3-4 chars/token)
    max_result_chars: int = 1500    # an older tool result as kept in the exchanges
    max_state_chars: int = 3000     # the compacted state message, without the latest results
    latest_share: float = 0.5       # share of the budget the latest round's results keep whole

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> CompactionPolicy:
        known = [f.name for f in fields(cls)]
        default = cls()  # each value is read as its default's type (int or float)
        values: dict[str, Any] = {}
        for key, value in (data or {}).items():
            if key not in known:
                raise ConfigError(f"machine.yaml: compaction: unknown key `{key}`; known: "
                                  f"{', '.join(known)}")
            try:
                values[key] = type(getattr(default, key))(value)
            except (TypeError, ValueError):
                raise ConfigError(f"machine.yaml: compaction: `{key}` has a bad value "
                                  f"{value!r}") from None
        return cls(**values)

    def budget_chars(self, num_ctx: int) -> int:
        return int(num_ctx * self.budget_share * self.chars_per_token)

    def latest_chars(self, num_ctx: int) -> int:
        """What the latest round's results may use, whole: the tools' outputs fit in it."""
        return max(self.max_result_chars, int(self.budget_chars(num_ctx) * self.latest_share))
