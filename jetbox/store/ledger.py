"""The append-only ledger: one JSON object per line, each sealed with seq and crc."""

from __future__ import annotations

import errno
import json
import os
import stat
import time
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from jetbox.core import failpoints
from jetbox.core.errors import LedgerCorrupt, LedgerWriteError, StorageError
from jetbox.core.text import json_safe
from jetbox.store import queries
from jetbox.store.index import RunRecords
from jetbox.store.kinds import Record, custom_record, from_body

# One encoder for every checksum: json.dumps with options builds a new encoder per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _open_append(path: Path) -> BinaryIO:
    """The ledger for appending, never through a link (O_NOFOLLOW where there is one; the
    state folder itself is checked when the workspace is opened: workspace.py)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) \
        | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LedgerWriteError(f"{path} is a link: Jetbox never writes its ledger "
                                   f"through one; remove it and run again") from None
        raise
    return os.fdopen(fd, "ab", buffering=0)


def _crc(body: dict[str, Any]) -> str:
    return f"{zlib.crc32(_CANONICAL.encode(body).encode('utf-8')):08x}"


def seal(body: dict[str, Any]) -> str:
    """One ledger line for `body` (which must already hold `seq`), crc last."""
    return json.dumps({**body, "crc": _crc(body)}, ensure_ascii=False) + "\n"


def parse_line(line: bytes) -> dict[str, Any] | None:
    """The record on a line, or None if the line is torn or its checksum fails."""
    try:
        record = json.loads(line.decode("utf-8"))
        if not isinstance(record, dict) or "crc" not in record or \
                type(record.get("seq")) is not int or not isinstance(record.get("kind"), str):
            return None
        crc = record.pop("crc")  # the rest is the body it seals
        # ValueError also covers a lone surrogate escaped in the JSON ("\ud800"), which
        # cannot be re-encoded to check the crc; RecursionError, absurdly deep nesting.
        return record if _crc(record) == crc else None
    except (ValueError, RecursionError):
        return None


def parse_record(line: bytes) -> Record | None:
    """The typed record on a line, or None if the line is torn or its checksum fails."""
    body = parse_line(line)
    return None if body is None else from_body(body)


def read_from(path: Path, offset: int) -> tuple[list[Record], int]:
    """The records on whole lines from byte `offset` on, and the offset after them: a line
    still being written is left for later (`jetbox log -f`). Damaged lines are skipped."""
    if not path.exists():
        return [], offset
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    end = data.rfind(b"\n") + 1
    records = [r for r in (parse_record(line) for line in data[:end].splitlines()) if r]
    return records, offset + end


class Ledger:
    """Append-only journal of every run, write, command and model reply.

    A torn last line (a crash mid-append) is trimmed before the next append; a
    damaged line anywhere else stops Jetbox with its line number, because silently
    skipping it could make a resume repeat or lose work.
    """

    def __init__(self, path: Path, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self._records: list[Record] | None = None
        self._run: RunRecords | None = None  # the current run's, indexed; appends extend it
        self._broken = ""  # why appends are refused (a failed write could not be undone)
        self._unsynced = False  # appended since the last fsync

    def records(self) -> list[Record]:
        """Every record, oldest first (cached; appends keep the cache current)."""
        if self._records is None:
            self._records = self._load()
        return self._records

    def append(self, record: Record | str, **fields: Any) -> Record:
        """Write one record and return it as read back (its seq and ts set): on disk before
        this returns if its kind is DURABLE, else with the next durable record or sync();
        LedgerWriteError if the disk refuses. A kind Jetbox does not define (a custom
        handler's, e.g. `append("celebrate", round=2)`) may be given by name and fields."""
        if isinstance(record, str):
            record = custom_record(record, fields)
        if self._broken:
            raise LedgerWriteError(self._broken)
        records = self.records()
        seq = records[-1].seq + 1 if records else 1
        # Text that is not valid UTF-8 (a lone surrogate) is recorded escaped, never a crash.
        body = json_safe({**record.to_body(), "seq": seq, "ts": round(time.time(), 4)})
        line = seal(body).encode("utf-8")
        torn = failpoints.tears("ledger")
        try:
            self._write_line(line[: len(line) // 2] if torn else line, sync=record.DURABLE)
        except OSError as exc:
            raise LedgerWriteError(
                f"cannot write {self.path}: {exc.strerror or exc} (disk full or read-only?); "
                f"free space or fix the folder's permissions, then run again to resume: "
                f"every record written before is kept") from None
        if torn:
            failpoints.kill_self()
        # Kept as a resume will read it back: lists, not tuples; text escaped.
        stored = from_body(body)
        records.append(stored)
        if stored.kind == queries.RUN_START or self._run is None:
            self._run = RunRecords(queries.current_run(records))
        else:
            self._run.add(stored)
        failpoints.hit("ledger")
        return stored

    def sync(self) -> None:
        """Put every record appended so far on disk (the engine asks once a round), so a
        power cut loses at most the round's records; a kill loses none (the OS has them)."""
        if not (self.fsync and self._unsynced):
            return
        try:
            with _open_append(self.path) as handle:  # Windows flushes writable ones
                os.fsync(handle.fileno())
        except OSError as exc:
            raise LedgerWriteError(f"cannot sync {self.path}: {exc.strerror or exc}; check the "
                                   f"disk, then run again to resume") from None
        self._unsynced = False

    def _write_line(self, line: bytes, sync: bool = True) -> None:
        """Append `line` (on disk before it returns, with `sync`); if that fails, cut the
        partial line off again, so nothing written later (in this run or the next) ever
        follows half a record."""
        full = failpoints.disk_full("ledger")
        try:
            handle = _open_append(self.path)
        except FileNotFoundError:  # the first append makes the folder (.jetbox/), not each one
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = _open_append(self.path)
        with handle:
            start = handle.seek(0, os.SEEK_END)
            try:
                view = memoryview(line[: len(line) // 2] if full else line)
                while view:
                    view = view[handle.write(view):]
                if full:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
                if self.fsync and sync:  # fsync writes every earlier record too
                    os.fsync(handle.fileno())
                self._unsynced = self.fsync and not sync
            except OSError:
                self._cut(handle, start)
                raise

    def _cut(self, handle: Any, size: int) -> None:
        try:
            handle.truncate(size)
            if self.fsync:
                os.fsync(handle.fileno())
        except OSError as exc:  # from now on every append is refused: it would follow garbage
            self._broken = (f"{self.path} may end in half a record ({exc.strerror or exc}); "
                            f"free space, then run again: the torn line is trimmed on resume")

    def current_run(self) -> RunRecords:
        """The records since the last `run_start`: built once, then kept current by appends
        (the same object each time: read it, never change it)."""
        if self._run is None:
            self._run = RunRecords(queries.current_run(self.records()))
        return self._run

    def last(self, kinds: Iterable[str], in_run: bool = True) -> Record | None:
        """The newest record of one of `kinds`, or None."""
        return queries.last(self.current_run() if in_run else self.records(), *kinds)

    def _load(self) -> list[Record]:
        data = self._read()
        if data is None:
            return []
        lines = data.split(b"\n")
        blank = b"\x00 \r\t"
        filled = [i for i, raw in enumerate(lines, start=1) if raw.strip(blank)]
        last_filled = filled[-1] if filled else 0
        records: list[Record] = []
        good_end = 0
        offset = 0
        for number, raw in enumerate(lines, start=1):
            end = offset + len(raw) + 1
            is_last = number == last_filled
            stripped = raw.strip(blank)
            if stripped:
                record = parse_line(stripped)
                if record is None or (records and record["seq"] != records[-1].seq + 1):
                    if is_last:
                        self._trim_or_fail(good_end)
                        break
                    raise LedgerCorrupt(
                        f"{self.path}: line {number} is damaged (torn, edited or out of order). "
                        f"Jetbox will not resume over it: repair that line, or move the file "
                        f"away (e.g. rename it to {self.path.name}.bad) to start a fresh ledger."
                    )
                records.append(from_body(record))
                good_end = min(end, len(data))
            offset = end
        return records

    def _read(self) -> bytes | None:
        """The ledger's bytes, None if there is none; an odd or unreadable file is a clear
        error naming it (a folder, a device like /dev/full, a FIFO, no permission)."""
        try:
            info = self.path.stat()
            if stat.S_ISDIR(info.st_mode) or not stat.S_ISREG(info.st_mode):
                what = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
                raise LedgerCorrupt(f"{self.path} is {what}: Jetbox keeps its journal there; "
                                    f"move it away (e.g. rename it to {self.path.name}.bad) "
                                    f"and run again")
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except PermissionError as exc:
            raise LedgerCorrupt(f"cannot read {self.path} ({exc.strerror}): give your user "
                                f"read and write access to it, then run again") from None
        except OSError as exc:
            raise StorageError(f"cannot read {self.path}: {exc.strerror or exc}; check the "
                               f"disk, then run again") from None

    def _trim_or_fail(self, size: int) -> None:
        try:
            self._trim(size)
        except OSError as exc:
            raise LedgerWriteError(f"cannot trim the torn last line of {self.path}: "
                                   f"{exc.strerror or exc} (disk full or read-only?); fix "
                                   f"that, then run again: the complete records are kept"
                                   ) from None

    def _trim(self, size: int) -> None:
        """Cut a torn tail so the next append starts on a clean line."""
        with open(self.path, "r+b") as handle:
            handle.truncate(size)
            if size and not self._ends_with_newline(handle, size):
                handle.seek(size)
                handle.write(b"\n")
            handle.flush()
            if self.fsync:
                os.fsync(handle.fileno())

    @staticmethod
    def _ends_with_newline(handle: Any, size: int) -> bool:
        handle.seek(size - 1)
        return handle.read(1) == b"\n"
