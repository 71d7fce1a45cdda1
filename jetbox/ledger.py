"""The append-only ledger: one JSON object per line, each sealed with seq and crc."""

from __future__ import annotations

import json
import os
import time
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jetbox import failpoints
from jetbox.errors import LedgerCorrupt
from jetbox.text import json_safe


def _crc(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"{zlib.crc32(canonical.encode('utf-8')):08x}"


def seal(body: dict[str, Any]) -> str:
    """One ledger line for `body` (which must already hold `seq`), crc last."""
    return json.dumps({**body, "crc": _crc(body)}, ensure_ascii=False) + "\n"


def parse_line(line: bytes) -> dict[str, Any] | None:
    """The record on a line, or None if the line is torn or its checksum fails."""
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict) or "crc" not in record or "seq" not in record:
        return None
    body = {k: v for k, v in record.items() if k != "crc"}
    return body if _crc(body) == record["crc"] else None


class Ledger:
    """Append-only journal of every run, write, command and model reply.

    A torn last line (a crash mid-append) is trimmed before the next append; a
    damaged line anywhere else stops Jetbox with its line number, because silently
    skipping it could make a resume repeat or lose work.
    """

    def __init__(self, path: Path, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self._records: list[dict[str, Any]] | None = None

    def records(self) -> list[dict[str, Any]]:
        """Every record, oldest first (cached; appends keep the cache current)."""
        if self._records is None:
            self._records = self._load()
        return self._records

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Write one record durably and return it."""
        records = self.records()
        seq = records[-1]["seq"] + 1 if records else 1
        # Text that is not valid UTF-8 (a lone surrogate) is recorded escaped, never a crash.
        body = {"seq": seq, "ts": round(time.time(), 4), "kind": kind, **json_safe(fields)}
        line = seal(body).encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torn = failpoints.tears("ledger")
        with open(self.path, "ab") as handle:
            handle.write(line[: len(line) // 2] if torn else line)
            handle.flush()
            if self.fsync:
                os.fsync(handle.fileno())
        if torn:
            failpoints.kill_self()
        records.append(body)
        failpoints.hit("ledger")
        return body

    def current_run(self) -> list[dict[str, Any]]:
        """The records since the last `run_start`."""
        records = self.records()
        for index in range(len(records) - 1, -1, -1):
            if records[index]["kind"] == "run_start":
                return records[index:]
        return records

    def last(self, kinds: Iterable[str], in_run: bool = True) -> dict[str, Any] | None:
        """The newest record of one of `kinds`, or None."""
        wanted = set(kinds)
        source = self.current_run() if in_run else self.records()
        for record in reversed(source):
            if record["kind"] in wanted:
                return record
        return None

    def _load(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        blank = b"\x00 \r\t"
        filled = [i for i, raw in enumerate(lines, start=1) if raw.strip(blank)]
        last_filled = filled[-1] if filled else 0
        records: list[dict[str, Any]] = []
        good_end = 0
        offset = 0
        for number, raw in enumerate(lines, start=1):
            end = offset + len(raw) + 1
            is_last = number == last_filled
            stripped = raw.strip(blank)
            if stripped:
                record = parse_line(stripped)
                if record is None or (records and record["seq"] != records[-1]["seq"] + 1):
                    if is_last:
                        self._trim(good_end)
                        break
                    raise LedgerCorrupt(
                        f"{self.path}: line {number} is damaged (torn, edited or out of order). "
                        f"Jetbox will not resume over it: repair that line, or move the file "
                        f"away (e.g. rename it to {self.path.name}.bad) to start a fresh ledger."
                    )
                records.append(record)
                good_end = min(end, len(data))
            offset = end
        return records

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
