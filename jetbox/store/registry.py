"""Every kind of ledger record by its name, and the record a ledger line's JSON holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jetbox.store import acts, kinds
from jetbox.store.kinds import Record


@dataclass(frozen=True, kw_only=True)
class Unknown(Record):
    """A record of a kind this version of Jetbox does not know (a newer one wrote it):
    loaded and kept whole in `extra`, never an error."""

    name: str = ""

    @property
    def kind(self) -> str:
        return self.name

    def to_body(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "kind": self.name, **self.extra}


def _declared(*modules: object) -> dict[str, type[Record]]:
    """The record classes the modules declare, by kind (Jetbox's own: nothing else)."""
    found = [v for m in modules for v in vars(m).values()
             if isinstance(v, type) and issubclass(v, Record) and v.KIND]
    return {c.KIND: c for c in found}


KINDS: Mapping[str, type[Record]] = _declared(kinds, acts)


def custom_record(kind: str, fields: Mapping[str, Any]) -> Unknown:
    """A record of a kind Jetbox does not define (a custom handler's), from its fields.
    Jetbox's own kinds are written as their classes, so each field is declared once."""
    if kind in KINDS:
        raise TypeError(f"`{kind}` is a kind of record Jetbox defines: append "
                        f"{KINDS[kind].__name__}(...) instead")
    if not kind:
        raise TypeError("a record needs a kind")
    return Unknown(name=kind, extra={k: v for k, v in fields.items()
                                     if k not in ("seq", "ts", "kind", "crc")})


def from_body(body: Mapping[str, Any]) -> Record:
    """The typed record for one ledger line's body (seq, ts, kind and its fields)."""
    cls = KINDS.get(str(body.get("kind")))
    if cls is None:
        extra = {k: v for k, v in body.items() if k not in ("seq", "ts", "kind")}
        return Unknown(seq=body.get("seq", 0), ts=body.get("ts", 0.0), name=str(body.get("kind")),
                       extra=extra)
    return cls.from_body(body)
