"""status.txt: the plaintext snapshot a person can read and edit, and the run resumes from."""

from __future__ import annotations

import stat
from dataclasses import dataclass, field, replace
from pathlib import Path

from jetbox.errors import StatusError, StorageError
from jetbox.fsutil import atomic_write_text

# Keys that may appear on several lines, one item each (the seed: "one concept per line").
LIST_KEYS = ("Active", "Next", "Notes")
KEYS = ("Goal", "Status", "Active", "Next", "Notes", "State", "Round")
MAX_NEXT = 4
MAX_ACTIVE = 3
MAX_STATUS_BYTES = 16_000_000  # a bigger status.txt is a mistake: refused, never read whole


@dataclass(frozen=True)
class Status:
    """One snapshot of status.txt."""

    goal: str
    status: str = "yellow - starting"
    active: tuple[str, ...] = ()
    next: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    state: str = ""
    round: int = 1
    extra: tuple[tuple[str, str], ...] = field(default=())  # lines Jetbox does not know: kept

    def with_(self, **changes: object) -> Status:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def colour(self) -> str:
        """green, yellow or red: the first word of the Status line."""
        return self.status.split(maxsplit=1)[0].lower() if self.status.strip() else ""

    def render(self) -> str:
        lines = [f"Goal: {self.goal}", f"Status: {self.status}"]
        lines += [f"Active: {item}" for item in self.active] or ["Active:"]
        lines += [f"Next: {item}" for item in self.next] or ["Next:"]
        lines += [f"Notes: {item}" for item in self.notes] or ["Notes:"]
        lines += [f"State: {self.state}", f"Round: {self.round}"]
        lines += [f"{key}: {value}" for key, value in self.extra]
        return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def parse(text: str, source: str = "status.txt") -> Status:
    """Read status.txt leniently: CRLF, a BOM, blank and unknown lines are fine."""
    values: dict[str, list[str]] = {key: [] for key in KEYS}
    extra: list[tuple[str, str]] = []
    for raw in text.lstrip("\ufeff").splitlines():
        key, sep, value = raw.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            continue
        canonical = next((k for k in KEYS if k.lower() == key.lower()), None)
        if canonical is None:
            extra.append((key, value))
        elif value:
            values[canonical].append(value)
    if not values["Goal"]:
        raise StatusError(f"{source}: no `Goal:` line")
    round_text = (values["Round"] or ["1"])[0]
    if not round_text.isdigit() or int(round_text) < 1:
        raise StatusError(f"{source}: `Round: {round_text}` is not a whole number of at least 1")
    return Status(
        goal=values["Goal"][0],
        status=(values["Status"] or ["yellow - unknown"])[0],
        active=tuple(values["Active"][:MAX_ACTIVE]),
        next=tuple(values["Next"][:MAX_NEXT]),
        notes=tuple(values["Notes"]),
        state=(values["State"] or [""])[0],
        round=int(round_text),
        extra=tuple(extra),
    )


class StatusFile:
    """status.txt on disk: read leniently, written atomically after every transition."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last_written: str | None = None

    def exists(self) -> bool:
        data = self._bytes()
        return data is not None and bool(data.strip())

    def read(self) -> Status:
        data = self._bytes()
        if data is None:
            raise StatusError(f"{self.path} is missing; run `jetbox run \"<goal>\"`")
        return parse(data.decode("utf-8", errors="replace"), source=str(self.path))

    def write(self, status: Status) -> None:
        text = status.render()
        if text == self.last_written:
            return
        if self.path.is_dir():
            raise self._odd("a folder")
        try:
            atomic_write_text(self.path, text)
        except OSError as exc:
            raise StorageError(f"cannot write {self.path}: {exc.strerror or exc} (disk full or "
                               f"read-only?); fix that, then run again: the ledger has every "
                               f"step, and status.txt is rebuilt from it") from None
        self.last_written = text

    def _bytes(self) -> bytes | None:
        """status.txt's bytes (None if absent); odd or unreadable files are clear errors."""
        try:
            info = self.path.stat()
            if not stat.S_ISREG(info.st_mode):
                raise self._odd("a folder" if stat.S_ISDIR(info.st_mode) else
                                "not a regular file")
            if info.st_size > MAX_STATUS_BYTES:
                raise self._odd(f"{info.st_size} bytes, more than {MAX_STATUS_BYTES}")
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StatusError(f"cannot read {self.path} ({exc.strerror or exc}): fix its "
                              f"permissions, or move it away and run again to rebuild it "
                              f"from the ledger") from None

    def _odd(self, what: str) -> StatusError:
        return StatusError(f"{self.path} is {what}: move it away (e.g. rename it to "
                           f"{self.path.name}.bad) and run again; it is rebuilt from the ledger")


def clean_item(text: str, limit: int = 160) -> str:
    """An item for a status line: one line, bounded."""
    flat = _one_line(text)
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
