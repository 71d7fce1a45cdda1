"""status.txt: the plaintext snapshot a person can read and edit, and the run resumes from."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jetbox.core import failpoints
from jetbox.core.errors import StatusError, StorageError
from jetbox.core.fsutil import atomic_write_text
from jetbox.core.prompts import say
from jetbox.core.text import for_terminal

# Keys that may appear on several lines, one item each (the seed: "one concept per line").
# `Known:` lists test ids known to fail before the run (kept as the person wrote them).
LIST_KEYS = ("Active", "Next", "Notes", "Known")
# `Approve [q3]:` holds the call a run waits on a person for, with the question's id; they
# answer on that line, and an answer answers only the id it names.
APPROVE_KEY = re.compile(r"approve\s*\[\s*(q\d{1,9})\s*\]\Z", re.IGNORECASE)
KEYS = ("Goal", "Status", "Active", "Next", "Notes", "Known", "Approve", "State", "Round")
MAX_NEXT = 4
MAX_ACTIVE = 3
MAX_ROUND_DIGITS = 9


def one_line(text: object) -> str:
    """A value as status.txt holds it: one line, control characters escaped (\\x0a for a
    newline, jetbox.core.text's form), so no value can add a line of its own."""
    return for_terminal(text).strip()
MAX_STATUS_BYTES = 16_000_000  # a bigger status.txt is a mistake: refused, never read whole


@dataclass(frozen=True)
class Status:
    """One snapshot of status.txt. Every value is kept as one escaped line (one_line), so
    render() writes exactly one line per value and parse(render(s)) == s."""

    goal: str
    status: str = field(default_factory=lambda: say("status.starting"))
    active: tuple[str, ...] = ()
    next: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    state: str = ""
    round: int = 1
    known: tuple[str, ...] = ()
    approve: str = ""  # the question waiting for a person, or their answer to it
    approve_id: str = ""  # the id of that question, `q3` (empty: the line names none)

    def __post_init__(self) -> None:
        for name in ("goal", "status", "state", "approve", "approve_id"):
            object.__setattr__(self, name, one_line(getattr(self, name)))
        if not self.approve:  # no line to name a question on (render writes none)
            object.__setattr__(self, "approve_id", "")
        limits = {"active": MAX_ACTIVE, "next": MAX_NEXT, "notes": None, "known": None}
        for name, limit in limits.items():
            items = tuple(i for i in (one_line(v) for v in getattr(self, name)) if i)
            object.__setattr__(self, name, items[:limit])
        if not isinstance(self.round, int) or not 1 <= self.round < 10 ** MAX_ROUND_DIGITS:
            raise StatusError(f"round {self.round!r} is out of range")

    def with_(self, **changes: Any) -> Status:
        return replace(self, **changes)

    @property
    def colour(self) -> str:
        """green, yellow or red: the first word of the Status line."""
        return self.status.split(maxsplit=1)[0].lower() if self.status.strip() else ""

    def render(self) -> str:
        lines = [f"Goal: {self.goal}", f"Status: {self.status}"]
        lines += [f"Active: {item}" for item in self.active] or ["Active:"]
        lines += [f"Next: {item}" for item in self.next] or ["Next:"]
        lines += [f"Notes: {item}" for item in self.notes] or ["Notes:"]
        lines += [f"Known: {item}" for item in self.known]
        key = f"Approve [{self.approve_id}]" if self.approve_id else "Approve"
        lines += [f"{key}: {self.approve}"] if self.approve else []
        lines += [f"State: {self.state}", f"Round: {self.round}"]
        return "\n".join(lines) + "\n"


def _line_error(source: str, number: int, raw: str, problem: str) -> StatusError:
    return StatusError(f"{source} line {number}: `{for_terminal(raw.strip()[:80])}` {problem}; "
                       f"fix or remove that line (or delete {Path(source).name} to have it "
                       f"rebuilt from the ledger)")


def _round(text: str, source: str, number: int) -> int:
    # isdigit() accepts "²" and int() any length: only ASCII digits, a bounded count.
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_ROUND_DIGITS) or \
            int(text) < 1:
        raise _line_error(source, number, f"Round: {text}", f"must be a whole number from 1, "
                          f"written with the digits 0-9 (at most {MAX_ROUND_DIGITS})")
    return int(text)


def parse(text: str, source: str = "status.txt") -> Status:
    """Read status.txt strictly: CRLF, a BOM and blank lines are fine; every other line must
    be `Key: value` with a known key, single keys once. Anything else is a StatusError
    naming the line, so a stray line can never be read as a plan."""
    values: dict[str, list[str]] = {key: [] for key in KEYS}
    round_no, approve_id = 1, ""
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        if not raw.strip():
            continue
        key, sep, value = raw.partition(":")
        key, value = key.strip(), value.strip()
        named = APPROVE_KEY.match(key) if sep else None
        if named:  # `Approve [q3]: ...`: the line of question q3
            key, approve_id = "Approve", named.group(1).lower()
        canonical = next((k for k in KEYS if k.lower() == key.lower()), None) if sep else None
        if canonical is None:
            raise _line_error(source, number, raw, f"is not a status line (known keys: "
                              f"{', '.join(KEYS)}; free text goes on a `Notes:` line)")
        if canonical not in LIST_KEYS and values[canonical]:
            raise _line_error(source, number, raw, f"repeats `{canonical}:`, which is "
                              f"allowed once")
        if canonical == "Round":
            round_no = _round(value, source, number)
        if value or canonical not in LIST_KEYS:
            values[canonical].append(value)
    if not values["Goal"] or not values["Goal"][0]:
        raise StatusError(f"{source}: no `Goal:` line")
    return Status(
        goal=values["Goal"][0],
        status=(values["Status"] or [say("status.unknown")])[0],
        active=tuple(values["Active"]),
        next=tuple(values["Next"]),
        notes=tuple(values["Notes"]),
        state=(values["State"] or [""])[0],
        round=round_no,
        known=tuple(values["Known"]),
        approve=(values["Approve"] or [""])[0],
        approve_id=approve_id,
    )


# A status.txt this small is rewritten in place with one write: a kill cannot split a write
# within one page, and a rename per transition cost more than the rest of a round.
IN_PLACE_BYTES = 4096


class StatusFile:
    """status.txt on disk: read strictly, rewritten after every transition so that a kill
    leaves the old text or the new one, never a mix."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last_written: str | None = None
        self._written: tuple[int, int] | None = None  # (device, inode) of the file written

    def exists(self) -> bool:
        data = self._bytes()
        return data is not None and bool(data.strip())

    def read(self) -> Status:
        data = self._bytes()
        if data is None:
            raise StatusError(f"{self.path} is missing; run `jetbox run \"<goal>\"`")
        return parse(data.decode("utf-8", errors="surrogateescape"), source=str(self.path))

    def write(self, status: Status) -> None:
        text = status.render()
        if text == self.last_written:
            return
        try:
            if not self._overwrite(text.encode("utf-8")):
                if self.path.is_dir():
                    raise self._odd("a folder")
                # Not synced: the ledger is the durable truth, and a status.txt a power cut
                # left behind is reconciled with it on resume (the ledger wins) or rebuilt.
                atomic_write_text(self.path, text, durable=False)
                written = os.lstat(self.path)
                self._written = (written.st_dev, written.st_ino)
        except OSError as exc:
            raise StorageError(f"cannot write {self.path}: {exc.strerror or exc} (disk full or "
                               f"read-only?); fix that, then run again: the ledger has every "
                               f"step, and status.txt is rebuilt from it") from None
        self.last_written = text

    def _overwrite(self, data: bytes) -> bool:
        """The new text over the very file this object wrote last, in place, in one write:
        a longer old file is padded with blank lines, then cut (a kill between the two
        leaves blank lines, which parse as nothing). False where that cannot be done: the
        file is gone, replaced (by a person's editor, or by a command's link to another
        file, which must never be written through), odd, held by another program, too big
        for one page, or it would need a new block (a full disk must not leave half a
        write: the caller writes it whole)."""
        if self._written is None:
            return False
        try:
            fd = os.open(self.path, os.O_WRONLY | getattr(os, "O_BINARY", 0)
                         | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:  # also a FIFO put there: no reader, so it fails instead of blocking
            return False
        try:
            info = os.fstat(fd)
            padded = data + b"\n" * max(0, info.st_size - len(data))
            blocks = getattr(info, "st_blocks", None)  # None on Windows
            room = IN_PLACE_BYTES if blocks is None else min(IN_PLACE_BYTES, blocks * 512)
            if (info.st_dev, info.st_ino) != self._written or info.st_nlink != 1 \
                    or not stat.S_ISREG(info.st_mode) or len(padded) > room:
                return False
            if os.write(fd, padded) != len(padded):
                return False
            failpoints.hit("status")  # crash tests: the new text is written, not yet cut
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)
        return True

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
    flat = one_line(" ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
