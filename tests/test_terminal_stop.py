"""How a run ends and where its words go, through real pseudo-terminals and pipes: SIGTERM
is handled as Ctrl-C is, TERM=dumb gets plain lines, the summary is on stdout, and an
unquoted goal gets a hint."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from jetbox.offline.solvers import MathxSolver
from jetbox.store.ledger import Ledger
from jetbox.store.workspace import LOCK_NAME
from tests.conftest import jetbox_process, run_cli, status_fields
from tests.enginekit import MATHX_DATA_GOAL, data_probes

if sys.platform == "win32":  # pragma: no cover - pty and SIGTERM are POSIX here
    pytest.skip("pseudo-terminals (the pty module) are POSIX only", allow_module_level=True)

from tests.test_live_progress import Terminal  # noqa: E402 - imports pty


def run_argv(workspace: Path, host: str) -> list[str]:
    return [sys.executable, "-m", "jetbox", "run", MATHX_DATA_GOAL, "-w", str(workspace),
            "--host", host, "--sandbox", "none", *data_probes(workspace)]


@pytest.mark.slow  # a run in a child process, on a terminal or a pipe
def test_sigterm_at_a_terminal_stops_the_run_as_ctrl_c_does(workspace: Path) -> None:
    slow = Turn(delay_s=60, calls=(Call("finish", {"summary": "x"}),))
    with OfflineOllama(ScriptResponder([slow])) as server:
        terminal = Terminal(run_argv(workspace, server.host), workspace)
        try:
            assert terminal.read_until(rb"waiting on gpt-oss:20b for 1 s", 60), terminal.seen
            terminal.process.send_signal(signal.SIGTERM)  # kill, docker stop, a CI cancel
        finally:
            code = terminal.close()
    text = terminal.seen.decode("utf-8", "replace")
    assert code == 143, text
    assert "run summary (interrupted (SIGTERM))" in text
    assert "interrupted (SIGTERM); run the same command again to resume" in text
    assert status_fields(workspace)["Status"].startswith("yellow - interrupted (SIGTERM)")
    assert status_fields(workspace)["State"] == "Ask"  # where the next run resumes
    assert not (workspace / LOCK_NAME).exists()  # released
    stops = [r for r in Ledger(workspace / "agent_ledger.log").records()
             if r.kind == "interrupted"]
    assert [getattr(r, "by", None) for r in stops] == ["SIGTERM"]
    log = run_cli("log", "-w", str(workspace))
    assert "interrupted (SIGTERM)" in log.out


@pytest.mark.slow  # a run in a child process, on a terminal or a pipe
def test_a_dumb_terminal_gets_plain_lines(workspace: Path) -> None:
    with OfflineOllama(MathxSolver(workspace)) as server:
        terminal = Terminal(run_argv(workspace, server.host), workspace, term="dumb")
        code = terminal.close()
    text = terminal.seen.decode("utf-8", "replace")
    assert code == 0, text
    assert "\x1b[" not in text and "\r\x1b" not in text  # no redrawing, no escapes
    assert "starting at Probe, round 1" in text and "run summary (done)" in text


@pytest.mark.slow  # a run in a child process, on a terminal or a pipe
def test_the_summary_goes_to_stdout_and_progress_to_stderr(workspace: Path) -> None:
    with OfflineOllama(MathxSolver(workspace)) as server:
        child = jetbox_process("run", MATHX_DATA_GOAL, "-w", str(workspace), "--host",
                               server.host, "--sandbox", "none", *data_probes(workspace))
        out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err
    assert "run summary (done)" in out and "verdict" in out  # `| tee log` keeps it
    assert "run summary (" not in err
    assert "starting at Probe, round 1" in err and "starting at" not in out


def test_an_unquoted_goal_gets_a_hint_to_quote_it(workspace: Path) -> None:
    result = run_cli("run", "Fix", "the", "bug", "-w", str(workspace))
    assert result.code == 2
    assert "unrecognized arguments: the bug" in result.err
    assert 'quote it, as in jetbox run "Fix the bug"' in result.err
    assert not (workspace / "status.txt").exists()
    other = run_cli("run", "Fix", "--no-such-flag", "-w", str(workspace))
    assert other.code == 2 and "quote" not in other.err  # a wrong flag is just that
