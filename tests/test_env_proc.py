"""What a command can learn of Jetbox's environment: only exact allow-listed names (no
`LC_*` wildcard), and not Jetbox's own through /proc/<pid>/environ: under bwrap no host
process is visible; without it Jetbox makes itself non-dumpable, so a command of the same
(unprivileged) user cannot read that file (issue 18, item 14)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from jetbox.exec.sandbox import bwrap_usable
from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from tests.attackkit import tool_outputs
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

SECRETS = {"LC_SECRET_TOKEN": "lc-secret-4421", "AWS_SECRET_ACCESS_KEY": "aws-secret-4422"}
SNOOP = """\
import os
print("ENV", sorted(os.environ))
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            data = open(f"/proc/{pid}/environ", "rb").read()
        except OSError:
            continue
        if b"secret-44" in data:
            print("LEAKED from", pid, data.replace(b"\\0", b" ").decode(errors="replace"))
print("DONE")
"""


def snoop(workspace: Path, sandbox: str, user: int | None = None) -> str:
    """A real `jetbox run` process, holding the secrets in its environment, whose model
    runs a script that prints its environment and reads every /proc/*/environ it can."""
    (workspace / "snoop.py").write_text(SNOOP)
    turns = [Turn(calls=(Call("run_cmd", {"cmd": ["python", "snoop.py"]}),))]
    env = {**os.environ, **SECRETS, "LC_ALL": "C.UTF-8", "PYTHONPATH": str(ROOT)}
    with OfflineOllama(ScriptResponder(turns)) as server:
        argv = [sys.executable, "-m", "jetbox", "run", "Look", "-w", str(workspace),
                "--host", server.host, "--sandbox", sandbox, "--max-rounds", "1"]
        done = subprocess.run(argv, cwd=workspace, env=env, capture_output=True, text=True,
                              timeout=120, check=False, user=user, group=user,
                              extra_groups=None if user is None else [])
    assert done.returncode == 3, done.stderr
    return tool_outputs(workspace, "run_cmd")[0]


def test_only_exact_locale_names_pass_and_nothing_leaks_under_bwrap(workspace: Path) -> None:
    if not bwrap_usable():
        print("SKIP: bubblewrap is not usable here (CI installs it)")
        pytest.skip("bubblewrap is not usable here")
    output = snoop(workspace, "bwrap")
    assert "'LC_ALL'" in output and "DONE" in output
    assert "LC_SECRET_TOKEN" not in output and "LEAKED" not in output, output


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_without_bwrap_an_unprivileged_command_cannot_read_jetbox_environ() -> None:
    user = None
    if os.geteuid() == 0:  # root's children may read any /proc/<pid>/environ (see docs)
        user = 65534
        try:
            subprocess.run([sys.executable, "-c", ""], user=user, check=True, timeout=60)
        except (OSError, subprocess.CalledProcessError):
            print(f"SKIP: uid 65534 cannot run {sys.executable} (it lives where only root "
                  f"can enter); as a normal user this test runs as that user")
            pytest.skip("uid 65534 cannot run this Python")
    workspace = Path(tempfile.mkdtemp(prefix="jetbox-environ-"))
    try:
        workspace.chmod(0o777)
        output = snoop(workspace, "none", user)
    finally:
        subprocess.run(["rm", "-rf", str(workspace)], check=False)
    assert "'LC_ALL'" in output and "DONE" in output
    assert "LC_SECRET_TOKEN" not in output and "LEAKED" not in output, output
