"""Errors a user can hit, each with the exit code the CLI turns it into."""

from __future__ import annotations

EXIT_DONE = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PAUSED = 3
EXIT_MODEL = 4
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process SIGTERM ended


class JetboxError(Exception):
    """An error with a message written for the person running Jetbox."""

    exit_code = EXIT_ERROR


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, a CI cancel, `docker stop`, systemd): stopped as Ctrl-C stops a run,
    its state saved, with exit 143 so a script can still tell the two apart."""


class UsageError(JetboxError):
    """Bad command line, bad settings or a bad machine.yaml: fix and run again."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """machine.yaml or [tool.jetbox] is invalid; the message names file and line."""

    @classmethod
    def invalid_yaml(cls, path: object, exc: Exception) -> ConfigError:
        """`file:LINE: invalid YAML: ...` for a yaml.YAMLError (its line when PyYAML knows
        it); typed loosely so this module imports nothing."""
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        return cls(f"{path}{line}: invalid YAML: {getattr(exc, 'problem', None) or exc}")


class StatusError(UsageError):
    """status.txt cannot be used as it is (e.g. an unknown `State:`)."""


class LedgerCorrupt(UsageError):
    """agent_ledger.log is damaged in the middle; a person must look at it."""


class PauseRun(JetboxError):
    """The run stopped at a limit or a guard; running again resumes it."""

    exit_code = EXIT_PAUSED

    def __init__(self, reason: str, status: str = "yellow",
                 hint: str = "run the same command again to resume") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        # What the person does next. Not always "the same command": a question waiting is
        # answered by its id, and the same `--answer yes` again must not answer a new one.
        self.hint = hint


class ModelDown(JetboxError):
    """The Ollama server cannot be reached or the model is missing; resumable."""

    exit_code = EXIT_MODEL


class StorageError(JetboxError):
    """Writing to disk failed (disk full, fsync error, I/O error): the run stops, and
    nothing is recorded as done that may not be."""


class MachineError(JetboxError):
    """The machine reached a situation its declaration does not cover."""


class LedgerWriteError(StorageError):
    """agent_ledger.log could not be appended to: nothing can be journaled, so the run
    stops; every record already written is kept."""


EXIT_CODES_HELP = f"""\
exit codes:
  {EXIT_DONE}    goal done and verified against where the run started (no new ruff
       finding, every test passing but those marked known)
  1    anything else (an internal error; details in agent.log)
  2    usage or configuration error (bad flags, machine.yaml, status.txt, ledger)
  3    paused at a limit (rounds, timebox) or a guard (loop, no progress,
       malformed calls), or waiting for a person's approval; run again to resume
  4    the model server is unreachable or the model is missing; run again to resume
  {EXIT_INTERRUPTED}  interrupted with Ctrl-C; state saved, run again to resume
  {EXIT_TERMINATED}  stopped by SIGTERM (kill, docker stop); handled as Ctrl-C is"""
