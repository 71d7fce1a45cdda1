"""The current run's records with an index by kind, kept up to date as records are appended.

Every round asks the ledger the same questions (the newest plan, the baseline, the replies
since the resume); scanning the run's records for each costs O(records) per round, so a long
run would slow down round after round. The ledger keeps one of these instead: appending a
record updates it, and the queries in queries.py use its index when they are given one.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, overload

from jetbox.store.kinds import Record


class RunRecords(Sequence[Record]):
    """A read-only sequence of one run's records, oldest first, with each kind's positions."""

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self._items: list[Record] = []
        self._positions: dict[str, list[int]] = {}
        for record in records:
            self.add(record)

    def add(self, record: Record) -> None:
        """Only the ledger appends, right after the record is durably written."""
        self._positions.setdefault(record.kind, []).append(len(self._items))
        self._items.append(record)

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...

    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Record]:
        return iter(self._items)

    def __reversed__(self) -> Iterator[Record]:
        return reversed(self._items)

    def newest_at(self, kinds: Iterable[str]) -> int | None:
        """The position of the newest record of one of `kinds`, or None: O(kinds)."""
        found = [self._positions[k][-1] for k in kinds if self._positions.get(k)]
        return max(found) if found else None

    def of_kind(self, kind: str) -> list[Record]:
        """Every record of `kind`, oldest first: O(those records), not O(the run)."""
        return [self._items[i] for i in self._positions.get(kind, ())]

    def newest_first(self, kind: str) -> Iterator[Record]:
        """The records of `kind`, newest first, each found without a scan."""
        return (self._items[i] for i in reversed(self._positions.get(kind, ())))

    def since(self, start: int) -> RunRecords:
        """The records from position `start` on, as a view: no copy, still indexed."""
        return _Tail(self, start) if start > 0 else self


class _Tail(RunRecords):
    """RunRecords.since: the run's records from `start` on, read through the whole run's
    list and index (a round asks for the records since the resume; copying them was
    O(the run) per round)."""

    def __init__(self, run: RunRecords, start: int) -> None:
        super().__init__()
        self._run, self._start = run, min(start, len(run))

    def add(self, record: Record) -> None:
        raise TypeError("a view of a run's records is read-only")

    def since(self, start: int) -> RunRecords:
        return _Tail(self._run, self._start + start) if start > 0 else self

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return self._run._items[self._start:][index]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("record index out of range")
        return self._run._items[self._start + index]

    def __len__(self) -> int:
        return len(self._run) - self._start

    def __iter__(self) -> Iterator[Record]:
        return islice(self._run._items, self._start, None)

    def __reversed__(self) -> Iterator[Record]:
        items = self._run._items
        return (items[i] for i in range(len(items) - 1, self._start - 1, -1))

    def newest_at(self, kinds: Iterable[str]) -> int | None:
        found = self._run.newest_at(kinds)
        return None if found is None or found < self._start else found - self._start

    def of_kind(self, kind: str) -> list[Record]:
        positions = self._run._positions.get(kind, [])
        return [self._run._items[i] for i in positions[bisect_left(positions, self._start):]]

    def newest_first(self, kind: str) -> Iterator[Record]:
        positions = self._run._positions.get(kind, [])
        first = bisect_left(positions, self._start)
        return (self._run._items[positions[j]] for j in range(len(positions) - 1, first - 1, -1))


def newest_first(records: Sequence[Record], kind: str) -> Iterator[Record]:
    """The records of `kind`, newest first: indexed when it can be."""
    if isinstance(records, RunRecords):
        return records.newest_first(kind)
    return (r for r in reversed(records) if r.kind == kind)


def newest_at(records: Sequence[Record], kinds: tuple[str, ...]) -> int | None:
    """The position of the newest record of one of `kinds`: indexed when it can be."""
    if isinstance(records, RunRecords):
        return records.newest_at(kinds)
    return next((i for i in range(len(records) - 1, -1, -1) if records[i].kind in kinds),
                None)


def of_kind(records: Sequence[Record], kind: str) -> list[Record]:
    """Every record of `kind`, oldest first: indexed when it can be."""
    if isinstance(records, RunRecords):
        return records.of_kind(kind)
    return [r for r in records if r.kind == kind]
