"""What a person sees while Jetbox runs: one line per event, plus agent.log."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import TextIO


def open_log(path: Path) -> logging.Logger:
    """agent.log: the human-readable runtime log, appended across runs."""
    logger = logging.getLogger(f"jetbox.run.{path}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not logger.handlers:
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    return logger


def close_log(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        handler.close()
        logger.removeHandler(handler)


class Display:
    """Progress lines on the terminal (stderr), mirrored into agent.log."""

    def __init__(self, logger: logging.Logger, stream: TextIO | None = None,
                 quiet: bool = False) -> None:
        self.logger = logger
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.started = time.monotonic()

    def event(self, text: str, round_no: int | None = None, state: str | None = None) -> None:
        where = " ".join(p for p in (f"r{round_no}" if round_no else "", state or "") if p)
        elapsed = time.monotonic() - self.started
        line = f"[{elapsed:6.1f}s] {where + ': ' if where else ''}{text}"
        self.logger.info(line)
        if not self.quiet:
            clear = "\r\x1b[K" if self.stream.isatty() else ""  # over a progress line
            self.stream.write(clear + line + "\n")
            self.stream.flush()

    def progress(self, text: str) -> None:
        """A transient line while something works (the model streaming): terminals only."""
        if self.quiet or not self.stream.isatty():
            return
        elapsed = time.monotonic() - self.started
        self.stream.write(f"\r[{elapsed:6.1f}s] {text[:100]}\x1b[K")
        self.stream.flush()

    def warn(self, text: str) -> None:
        self.logger.warning(text)
        self.stream.write(f"warning: {text}\n")
        self.stream.flush()
