"""Under bwrap, no host socket is reachable: a fresh /run, /dev/null over the others."""

from __future__ import annotations

import json
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
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


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
