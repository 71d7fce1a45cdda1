"""Under bwrap, no host socket is reachable: a fresh /run, /dev/null over the others."""

from __future__ import annotations

import atexit
import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from jetbox.exec.sandbox import bwrap_usable
from jetbox.offline import Call, OfflineOllama, ScriptResponder, Turn
from tests.conftest import run_cli

# Whole runs and real timeouts: left out of the quick `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

PROBE = """\
import socket, sys
for path in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        print("CONNECTED", path)
    except OSError as exc:
        print("REFUSED", path, exc.errno)
"""


def remove_at_exit(folder: Path) -> None:
    """A closed socket leaves /proc/net/unix at once, but a sandbox another worker is
    starting may have listed it a moment before: its file stays until this process ends,
    so that sandbox's bind over it never finds the path gone."""
    atexit.register(shutil.rmtree, folder, True)


@pytest.fixture
def host_sockets() -> Iterator[list[str]]:
    """Listening sockets where host services keep theirs: /run and elsewhere (not /tmp)."""
    servers, paths = [], []
    for parent in (Path("/run"), Path("/var/tmp")):
        if not parent.is_dir():
            continue
        folder = Path(tempfile.mkdtemp(prefix="jetbox-sock-", dir=parent))
        path = folder / "service.sock"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.listen(4)
        servers.append((server, folder))
        paths.append(str(path))
    yield paths
    for server, folder in servers:
        server.close()
        remove_at_exit(folder)


def connect_from_a_model_script(workspace: Path, paths: list[str], sandbox: str) -> str:
    (workspace / "probe_sockets.py").write_text(PROBE)
    call = Call("run_cmd", {"cmd": ["python", "probe_sockets.py", *paths]})
    with OfflineOllama(ScriptResponder([Turn(calls=(call,))])) as server:
        run_cli("run", "Check the sockets", "-w", str(workspace), "--host", server.host,
                "--sandbox", sandbox, "--max-rounds", "1")
    lines = (workspace / "agent_ledger.log").read_text().splitlines()
    result = next(r for r in map(json.loads, lines) if r["kind"] == "tool_result")
    return result["output"]


@pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap is not usable here")
def test_a_sandboxed_command_reaches_no_host_socket(workspace: Path,
                                                    host_sockets: list[str]) -> None:
    assert host_sockets, "no folder to listen in"
    output = connect_from_a_model_script(workspace, host_sockets, "bwrap")
    assert "CONNECTED" not in output
    assert output.count("REFUSED") == len(host_sockets)


def test_without_the_sandbox_the_same_sockets_are_reachable(tmp_path: Path,
                                                            host_sockets: list[str]) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    output = connect_from_a_model_script(workspace, host_sockets, "none")
    assert output.count("CONNECTED") == len(host_sockets)  # so the test above can fail


LISTEN = """\
import os, socket, sys, time
os.chdir(sys.argv[1])
servers = []
for name in sys.argv[2:]:
    s = socket.socket(socket.AF_UNIX)
    s.bind(name)
    s.listen(4)
    servers.append(s)
print("listening", flush=True)
time.sleep(120)
"""


@pytest.fixture
def hard_sockets(tmp_path: Path) -> Iterator[list[str]]:
    """Sockets the old enumeration of /proc/net/unix missed: a path with spaces, a name
    bound relative to the binder's folder, one bound in another network namespace (so
    absent from Jetbox's /proc/net/unix), and an abstract one."""
    import subprocess
    import sys

    folder = Path(tempfile.mkdtemp(prefix="jetbox-hard-sock-", dir="/var/tmp"))
    (folder / "with space").mkdir()
    script = tmp_path / "listen.py"
    script.write_text(LISTEN)
    here = subprocess.Popen([sys.executable, str(script), str(folder),
                             "with space/my service.sock", "relative.sock"],
                            stdout=subprocess.PIPE, text=True)
    # A listener in its own network namespace (bwrap --unshare-net), with / shared.
    other = ["bwrap", "--bind", "/", "/", "--unshare-user", "--unshare-net",
             "--die-with-parent", "--", sys.executable, str(script), str(folder),
             "other-netns.sock"]
    there = subprocess.Popen(other, stdout=subprocess.PIPE, text=True)
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind("\0jetbox-abstract-test")
    abstract.listen(4)
    try:
        for child in (here, there):
            assert child.stdout is not None and child.stdout.readline() == "listening\n"
        yield [str(folder / "with space" / "my service.sock"), str(folder / "relative.sock"),
               str(folder / "other-netns.sock"), "@jetbox-abstract-test"]
    finally:
        abstract.close()
        for child in (here, there):
            child.kill()
            child.wait()
        remove_at_exit(folder)


PROBE_ALL = PROBE.replace("s.connect(path)",
                          "s.connect('\\0' + path[1:] if path.startswith('@') else path)")


@pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap is not usable here")
def test_sockets_with_spaces_relative_names_or_in_another_netns_are_hidden(
        workspace: Path, hard_sockets: list[str]) -> None:
    (workspace / "probe_sockets.py").write_text(PROBE_ALL)
    call = Call("run_cmd", {"cmd": ["python", "probe_sockets.py", *hard_sockets]})
    with OfflineOllama(ScriptResponder([Turn(calls=(call,))])) as server:
        run_cli("run", "Check the sockets", "-w", str(workspace), "--host", server.host,
                "--sandbox", "bwrap", "--max-rounds", "1")
    lines = (workspace / "agent_ledger.log").read_text().splitlines()
    output = next(r for r in map(json.loads, lines) if r["kind"] == "tool_result")["output"]
    assert "CONNECTED" not in output, output
    assert output.count("REFUSED") == len(hard_sockets), output
    # and each of them is reachable without the sandbox, so this test can fail
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(workspace / "probe_sockets.py"),
                           *hard_sockets], capture_output=True, text=True, check=True)
    assert done.stdout.count("CONNECTED") == len(hard_sockets), done.stdout
