"""What a person sees while Jetbox runs: a line per event (each stays on screen), on a
terminal one live line below them for what is in progress, and everything in agent.log."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from jetbox.core.console import can_redraw
from jetbox.core.errors import UsageError
from jetbox.core.text import for_terminal


def open_log(path: Path) -> logging.Logger:
    """agent.log: the human-readable runtime log, appended across runs."""
    logger = logging.getLogger(f"jetbox.run.{path}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not logger.handlers:
        if os.path.islink(path):  # a repository's `agent.log -> ~/.bashrc` gets no lines
            raise UsageError(f"{path} is a link: Jetbox never writes its log through one; "
                             f"it is not Jetbox's: move it away and run again")
        mode = os.stat(path).st_mode if os.path.exists(path) else stat.S_IFREG
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a folder: cli.main says so
            # Opening a FIFO to append blocks until someone reads it: every start would hang.
            raise UsageError(f"{path} is not a regular file (a FIFO, a device?); "
                             f"Jetbox keeps its log there: move it away and run again")
        handler = _QuietFileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    return logger


class _QuietFileHandler(logging.FileHandler):
    """agent.log is a convenience: when it cannot be written (disk full), the run goes on
    and nothing is printed, instead of logging's traceback on the person's terminal."""

    def handleError(self, record: logging.LogRecord) -> None:
        return


def close_log(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        handler.close()
        logger.removeHandler(handler)


class Display:
    """One line per event, everywhere: a person scrolls back through every action and
    notice, as in aider or Codex CLI. On a terminal, one more line updates in place below
    them, only while something is in progress (the model, the probes); when piped (CI,
    files) that line is left out.
    Every text shown or logged passes jetbox.core.text.for_terminal: paths, commands and
    outputs come from the model, and none of them may drive the person's terminal."""

    def __init__(self, logger: logging.Logger, stream: TextIO | None = None,
                 quiet: bool = False, verbose: bool = False, out: TextIO | None = None) -> None:
        self.logger = logger
        self.stream = stream or sys.stderr
        # The summary is the run's result: on stdout, so `jetbox run ... | tee log` keeps it
        # while the progress lines stay on stderr.
        self.out = out or self.stream
        self.quiet = quiet
        self.verbose = verbose
        self.started = time.monotonic()
        self.where = ""
        self._live = False  # a live line is on screen and needs clearing
        self._redraws = can_redraw(self.stream)
        self._lock = threading.RLock()  # the live line's ticker writes from its own thread

    @property
    def live(self) -> bool:
        return self._redraws and not self.verbose

    def _prefix(self) -> str:
        where = f"{self.where}: " if self.where else ""
        return f"[{time.monotonic() - self.started:6.1f}s] {where}"

    def event(self, text: str, round_no: int | None = None, state: str | None = None) -> None:
        self.where = for_terminal(" ".join(
            p for p in (f"r{round_no}" if round_no else "", state or "") if p))
        line = self._prefix() + for_terminal(text)
        self.logger.info(line)
        if not self.quiet:
            self.permanent(line)

    def note(self, text: str, round_no: int | None = None, state: str | None = None) -> None:
        """A notice (a resume, a pause, an interruption): a line of its own, as an event."""
        self.where = for_terminal(" ".join(
            p for p in (f"r{round_no}" if round_no else "", state or "") if p))
        line = self._prefix() + for_terminal(text)
        self.logger.info(line)
        if not self.quiet:
            self.permanent(line)

    def progress(self, text: str) -> None:
        """A transient update (the model streaming, a command running): terminals only."""
        if not self.quiet and self.live:
            self._show_live(self._prefix() + for_terminal(text))

    @contextmanager
    def working(self, text: str, round_no: int | None = None,
                state: str | None = None) -> Iterator[None]:
        """While the body runs (probes: ruff, a slow test suite), the live line says so and
        counts the seconds, redrawn twice a second from a thread of its own."""
        if self.quiet or not self.live:
            yield
            return
        self.where = for_terminal(" ".join(
            p for p in (f"r{round_no}" if round_no else "", state or "") if p))
        started, stop = time.monotonic(), threading.Event()

        def tick() -> None:
            while True:
                self.progress(f"{text} for {time.monotonic() - started:.0f} s")
                if stop.wait(0.5):
                    return

        ticker = threading.Thread(target=tick, name="jetbox-live-line", daemon=True)
        ticker.start()
        try:
            yield
        finally:
            stop.set()
            ticker.join()
            self._clear_live()

    def _show_live(self, line: str) -> None:
        width = max(shutil.get_terminal_size((100, 20)).columns - 1, 20)
        with self._lock:
            self.stream.write("\r\x1b[K" + line[:width])
            self.stream.flush()
            self._live = True

    def permanent(self, text: str) -> None:
        """A line that stays (events, warnings), above any live line."""
        text = for_terminal(text, multiline=True)
        with self._lock:
            self._clear_live()
            self.stream.write(text + "\n")
            self.stream.flush()

    def _clear_live(self) -> None:
        with self._lock:
            if self._live:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._live = False

    def warn(self, text: str) -> None:
        text = for_terminal(text)
        self.logger.warning(text)
        self.permanent(f"warning: {text}")

    def table(self, title: str, rows: Sequence[tuple[str, str]]) -> None:
        """A two-column table, logged, and shown unless quiet."""
        rows = [(for_terminal(key), for_terminal(value)) for key, value in rows]
        width = max(len(key) for key, _ in rows)
        lines = [for_terminal(title)] + [f"  {key:<{width}}  {value}" for key, value in rows]
        for line in lines:
            self.logger.info(line)
        self._clear_live()  # on stderr, before the table is drawn on stdout
        if not self.quiet:
            self.out.write("\n".join(lines) + "\n")
            self.out.flush()
