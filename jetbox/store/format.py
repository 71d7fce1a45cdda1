"""The base of every ledger record: how a record becomes a JSON object and back.

On disk a record is one JSON object: seq, ts, kind, its fields, crc last (ledger.py). A
field declared in `SOMETIMES` is written only when set (not None), as Jetbox always wrote
it. Reading is lenient, because a ledger outlives the code that wrote it: a missing field
takes its default, a key this version does not know is kept in `extra` (and written back
the same), and a kind it does not know loads as an `Unknown` record (kinds.py), never
an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class Record:
    """What every record has: its place in the ledger and when it was written."""

    KIND: ClassVar[str] = ""
    SOMETIMES: ClassVar[frozenset[str]] = frozenset()
    ORDER: ClassVar[tuple[str, ...]] = ()  # the fields' order on disk, if not declared order
    # On disk (fsync) before append returns: the record comes before a change outside the
    # ledger, holds a person's decision, or ends an invocation. Other records reach the disk
    # with the next durable one or the round's sync (Ledger.sync); a kill loses none of them.
    DURABLE: ClassVar[bool] = False
    seq: int = 0
    ts: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Keys on disk that this version of Jetbox does not know: kept, never lost."""

    @property
    def kind(self) -> str:
        return self.KIND

    def to_body(self) -> dict[str, Any]:
        """The JSON object as written (before the crc): seq, ts, kind, then the fields."""
        body: dict[str, Any] = {"seq": self.seq, "ts": self.ts, "kind": self.kind}
        # type[Record] is hashable; mypy reads the instances' __hash__ here (python/mypy#11470).
        for name in self.ORDER or _field_names(type(self)):  # type: ignore[arg-type]
            value = getattr(self, name)
            if value is None and name in self.SOMETIMES:
                continue
            body[name] = value
        return {**body, **{k: v for k, v in self.extra.items() if k not in body}}

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Record:
        """The record a JSON object holds, whatever version of Jetbox wrote it."""
        known, plain, factories = _layout(cls)  # type: ignore[arg-type]  # as in to_body
        state = {**plain, **{n: make() for n, make in factories.items() if n not in body}}
        extra = {}
        for key, value in body.items():
            if key in known:
                state[key] = value
            elif key not in _HEADER:
                extra[key] = value
        state.update(seq=body.get("seq", 0), ts=body.get("ts", 0.0), extra=extra)
        # Filled in place, not through __init__: a frozen dataclass's __init__ sets each
        # field through object.__setattr__, and opening a long run reads 20,000 records.
        record = object.__new__(cls)
        record.__dict__.update(state)
        return record


_BASE = frozenset({"seq", "ts", "extra"})
_HEADER = frozenset({"seq", "ts", "kind"})


@cache  # dataclasses.fields() is slow, and a long ledger reads thousands of records
def _field_names(cls: type[Record]) -> tuple[str, ...]:
    """A kind's own fields, in declared order (not seq, ts or extra)."""
    return tuple(f.name for f in fields(cls) if f.name not in _BASE)


@cache
def _layout(cls: type[Record]) -> tuple[frozenset[str], dict[str, Any],
                                        dict[str, Callable[[], Any]]]:
    """A kind's field names, its plain defaults and its default factories (each record
    gets its own list or dict)."""
    own = [f for f in fields(cls) if f.name not in _BASE]
    plain = {f.name: f.default for f in own if f.default is not MISSING}
    factories = {f.name: f.default_factory for f in own if f.default_factory is not MISSING}
    return frozenset(f.name for f in own), plain, factories
