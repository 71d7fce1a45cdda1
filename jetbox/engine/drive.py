"""Driving a run to its end: every way it can stop becomes an exit code and the summary."""

from __future__ import annotations

import traceback

from jetbox.core.display import close_log
from jetbox.core.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    JetboxError,
    ModelDown,
    PauseRun,
    Terminated,
)
from jetbox.core.prompts import say
from jetbox.core.text import for_terminal
from jetbox.engine.loop import Engine
from jetbox.engine.trust import record_seen
from jetbox.round.run import Run
from jetbox.store import kinds


def execute(engine: Engine) -> int:
    """Drive the machine and turn every way it can stop into an exit code."""
    run = engine.run
    try:
        engine.start()
        code = engine.loop()
        summary(engine, "done")
        return code
    except PauseRun as pause:
        engine.stop(say("status.paused", status=pause.status, reason=pause.reason),
                    kinds.Paused, reason=pause.reason)
        run.display.note(f"paused: {pause.reason}; {pause.hint}")
        summary(engine, f"paused ({pause.reason})")
        return pause.exit_code
    except ModelDown as exc:
        engine.stop(say("status.waiting_for_model", error=exc), kinds.ModelUnavailable,
                    error=str(exc))
        summary(engine, "model unavailable")
        raise
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM (Terminated): the same stop
        return _interrupted(engine, isinstance(stop, Terminated))
    except JetboxError as exc:
        engine.stop(say("status.error", error=exc), kinds.Error, error=str(exc))
        run.display.logger.error("stopped: %s", exc)
        raise
    except Exception as exc:
        run.display.logger.error("internal error:\n%s",
                                 for_terminal(traceback.format_exc(), multiline=True))
        engine.stop(say("status.internal_error", type=type(exc).__name__, error=exc), kinds.Error,
                    error=f"{type(exc).__name__}: {exc}")
        raise JetboxError(f"internal error: {type(exc).__name__}: {exc} (traceback in "
                          f"{run.workspace.log_path})") from None
    finally:
        _record_seen(run)
        close_log(run.display.logger)


def _interrupted(engine: Engine, by_sigterm: bool) -> int:
    how = "SIGTERM" if by_sigterm else "Ctrl-C"
    engine.stop(say("status.interrupted", how=how), kinds.Interrupted,
                by="SIGTERM" if by_sigterm else None)
    engine.run.display.note(f"interrupted ({how}); run the same command again to resume")
    summary(engine, f"interrupted ({how})")
    return EXIT_TERMINATED if by_sigterm else EXIT_INTERRUPTED


def _record_seen(run: Run) -> None:
    """Best effort: when the disk or a file is what failed, the next start asks instead.
    Then the invocation's last records go to disk (Ledger.sync)."""
    try:
        record_seen(run.spec, run.workspace.root, run.ledger)
        run.ledger.sync()
    except (JetboxError, OSError) as exc:
        run.display.logger.error("could not record the configuration at the end: %s", exc)


def summary(engine: Engine, reason: str) -> None:
    """The table at the end of every invocation, whatever ended it."""
    from jetbox.round.metrics import summary_rows

    engine.run.display.table(f"run summary ({reason})",
                             summary_rows(engine.run, engine.now, reason))
