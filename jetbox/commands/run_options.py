"""`jetbox run`'s command line: the goal, where, which model, the limits, and what a person
decides for the run."""

from __future__ import annotations

import argparse

RUN_HELP = "work towards a goal (or resume the run in the workspace)"


def add_run_parser(sub: argparse._SubParsersAction) -> None:
    from jetbox.core.errors import EXIT_CODES_HELP
    from jetbox.spec.config import Settings

    p = sub.add_parser(
        "run", help=RUN_HELP,
        description="Work towards GOAL in the workspace, or resume the run its status.txt "
                    "names. The same goal (or none) resumes; a different goal starts a new run.",
        epilog=EXIT_CODES_HELP + "\n\nsettings precedence: flag > environment > "
               "[tool.jetbox] in the workspace's pyproject.toml > your config.toml > "
               "machine.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("goal", nargs="?", help="what to achieve; omit to resume")
    p.add_argument("-w", "--workspace", metavar="DIR",
                   help="folder to work in, as given (default: the project the current folder "
                        "is in: the nearest git root or folder with pyproject.toml, setup.cfg "
                        "or setup.py above it)")
    p.add_argument("-m", "--model", help="Ollama model (default: $JETBOX_MODEL, "
                                         "$OLLAMA_MODEL, the settings, gpt-oss:20b)")
    p.add_argument("--host", help="Ollama server: HOST[:PORT] or a URL (default: $JETBOX_HOST, "
                                  "$OLLAMA_HOST, the settings, else 127.0.0.1:11434)")
    defaults = Settings()
    p.add_argument("--max-rounds", type=int, metavar="N",
                   help=f"rounds before pausing, exit 3 (default: {defaults.max_rounds}, or "
                        f"what machine.yaml's limits say)")
    p.add_argument("--timebox", type=float, metavar="SECONDS", dest="timebox_s",
                   help=f"seconds before pausing, exit 3 (default: {defaults.timebox_s:g}, or "
                        f"what machine.yaml's limits say)")
    p.add_argument("--machine", metavar="PATH", help="machine.yaml to use")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "none"),
                   help="OS sandbox for commands and probes (default: auto); with none, the "
                        "code a run runs (tests, scripts) has your rights")
    p.add_argument("--python", metavar="PATH",
                   help="the project's Python (an interpreter or a venv folder) for its python, "
                        "pytest and pip (default: $VIRTUAL_ENV, else .venv/ or venv/ in the "
                        "workspace, else Jetbox's own)")
    judgement_options(p)
    p.add_argument("--fresh", action="store_true",
                   help="start over: set an unfinished run aside (its ledger records stay)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress output (warnings and errors still show)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="no live line at a terminal either: only the events' lines")


def judgement_options(p: argparse.ArgumentParser) -> None:
    """What a person decides for the run: known failures, test changes, approvals."""
    p.add_argument("--known-failures", metavar="IDS",
                   help="comma-separated pytest ids known to fail; they do not block a finish")
    p.add_argument("--approve", choices=("never", "commands", "changes", "all"),
                   help="ask a person before calls: commands (run_cmd, and writes of test "
                        "code), changes (also writes, edits, deletes) or all (default: never)")
    p.add_argument("--answer", metavar="qN=yes|no[:REASON]|always[ PREFIX]",
                   help="answer question qN the run is waiting on (status.txt `Approve [qN]:`); "
                        "a plain yes only answers a question you were shown before")
    p.add_argument("--allow-test-changes", action="store_true", default=None,
                   help="let the run remove, skip or deselect tests and change test config "
                        "(for a goal that asks for it); the summary lists each change")
    p.add_argument("--state-dir", choices=(".", ".jetbox"),
                   help="where Jetbox keeps status.txt, agent_ledger.log and agent.log "
                        "(default: beside the code, or .jetbox/ when those names are taken)")
    p.add_argument("--trust-config", action="store_true",
                   help="accept machine.yaml or [tool.jetbox] changes made since the run "
                        "started, and trust what the folder brings as `jetbox trust` does "
                        "(review them first)")
