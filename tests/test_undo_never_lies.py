"""Issue 31: undo never says "undone" while something stays lost, never reverts a person's
own work, and shows and takes back everything a run changed. Each test is a whole run
through the offline server, then compares the whole tree with a snapshot."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from jetbox.core.fsutil import new_file_mode
from jetbox.offline import OfflineOllama, ScriptResponder, Turn
from jetbox.offline.wire import ChatRequest
from tests.attackkit import tool_outputs, turn
from tests.conftest import files_and_modes, run_cli
from tests.enginekit import machine_file

# The whole module is in the slow tier: whole runs with undo and diff after each (about a
# second each); the quick tier keeps tests/test_undo.py's.
pytestmark = pytest.mark.slow

posix_only = pytest.mark.skipif(os.name == "nt", reason="modes, links and byte names: POSIX")
needs_git = pytest.mark.skipif(subprocess.run(["git", "--version"], capture_output=True,
                                              check=False).returncode != 0,
                               reason="git is not installed")
Action = Callable[[], None]


class PersonBetweenRounds(ScriptResponder):
    """The scripted model; before answering round N, the person does `actions[N]` (the
    model call is where a round waits, so this is a person working between rounds)."""

    def __init__(self, turns: Sequence[Turn], actions: dict[int, Action]) -> None:
        super().__init__(turns)
        self.actions = actions

    def __call__(self, request: ChatRequest) -> Turn:
        action = self.actions.get(self.calls + 1)
        if action is not None:
            action()
        return super().__call__(request)


def a_run(root: Path, turns: Sequence[Turn], actions: dict[int, Action] | None = None,
          goal: str = "Look around", sandbox: str = "none", real_probes: bool = False) -> None:
    """One whole `jetbox run`: the turns, one round each, the person's actions between.
    Its probes print what ruff and pytest print (tests/enginekit.py) unless `real_probes`:
    what undo shows and takes back does not depend on them, and real ones cost seconds."""
    machine = () if real_probes else ("--machine", str(machine_file(root.parent / "machine")))
    with OfflineOllama(PersonBetweenRounds(list(turns), actions or {})) as server:
        result = run_cli("run", goal, "-w", str(root), "--host", server.host,
                         "--max-rounds", str(len(turns)), "--sandbox", sandbox, *machine)
    assert result.code in (0, 3, 4, 5), result.err  # any ending but a crash


def tree(root: Path) -> dict[str, object]:
    """The whole tree: files' bytes and modes, links' targets, empty folders."""
    found: dict[str, object] = dict(files_and_modes(root))
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        if {".git", ".jetbox"} & set(rel.parts):
            continue
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink():
                found[(rel / name).as_posix()] = ("link", os.readlink(path))
        if not dirs and not files and rel.parts:
            found[rel.as_posix() + "/"] = "empty folder"
    return found


def cmd(script: str, name: str = "tool.py") -> list[Turn]:
    """The model writes a script and runs it (commands run scripts, never `python -c`)."""
    return [turn("write_file", path=name, content=script + "\n"),
            turn("run_cmd", cmd=["python", name])]


def write(root: Path, rel: str, data: bytes) -> Action:
    return lambda: (root / rel).write_bytes(data)


# A. Never "undone" while something stays lost; one missing copy never blocks the rest.

def test_a_large_file_a_command_deletes_is_named_and_the_rest_restored(workspace: Path) -> None:
    root = workspace
    (root / "data").mkdir()
    with open(root / "data" / "big.dat", "wb") as handle:  # sparse: 60 MB, no disk
        handle.truncate(60_000_000)
    (root / "app.py").write_text("X = 1\n")
    before = tree(root)
    a_run(root, [turn("edit_file", path="app.py", old="X = 1", new="X = 2"),
                 *cmd("import os; os.remove('data/big.dat')")])
    assert "data/big.dat" in run_cli("diff", "--stat", "-w", str(root)).out
    result = run_cli("undo", "-w", str(root))
    assert result.code == 1 and "undone:" not in result.out
    assert "not restored   data/big.dat: no copy" in result.err
    assert tree(root) == {k: v for k, v in before.items() if k != "data/big.dat"} | \
        {"data/": "empty folder"}


def test_a_one_byte_append_to_a_large_file_is_seen(workspace: Path) -> None:
    root = workspace
    with open(root / "big.dat", "wb") as handle:
        handle.truncate(60_000_000)
    a_run(root, cmd("open('big.dat', 'ab').write(b'x')"))
    assert run_cli("diff", "--stat", "-w", str(root)).out == "tool.py\nbig.dat\n"
    result = run_cli("undo", "-w", str(root))
    assert result.code == 1 and "big.dat" in result.err


def test_a_large_file_a_tool_rewrites_is_copied_first_and_restored(workspace: Path) -> None:
    root = workspace
    with open(root / "big.txt", "wb") as handle:  # 70 MB: over every former limit
        handle.write(b"head\n")
        handle.truncate(70_000_000)
    before = tree(root)
    a_run(root, [turn("write_file", path="big.txt", content="small now\n")])
    result = run_cli("undo", "-w", str(root))
    assert result.code == 0, result.err
    assert tree(root) == before


def test_a_missing_copy_blocks_nothing_else(workspace: Path) -> None:
    root = workspace
    (root / "a.txt").write_text("a\n")
    (root / "b.txt").write_text("b\n")
    before = tree(root)
    a_run(root, [turn("write_file", path="a.txt", content="A\n"),
                 turn("write_file", path="b.txt", content="B\n")])
    import hashlib
    sha = hashlib.sha256(b"a\n").hexdigest()
    (root / ".jetbox" / "objects" / sha[:2] / sha).unlink()
    result = run_cli("undo", "-w", str(root))
    assert result.code == 1 and "not restored   a.txt" in result.err, result
    assert tree(root) == {**before, "a.txt": (b"A\n", before["a.txt"][1])}  # type: ignore[index]
    forced = run_cli("undo", "--force", "-w", str(root))
    assert forced.code == 1 and "a.txt" in forced.err  # still named: nothing can bring it


# B. The person's own work is never reverted (item 2: between rounds).

@needs_git
def test_a_persons_edit_between_two_run_edits_survives_undo(workspace: Path) -> None:
    root = workspace
    (root / "app.py").write_text("a = 1\nb = 2\nc = 3\nd = 4\ne = 5\n")
    person = "a = 1\nb = 2\nc = 3\nd = 4\ne = 'mine'\n"
    a_run(root, [turn("edit_file", path="app.py", old="a = 1", new="a = 10"),
                 turn("edit_file", path="app.py", old="c = 3", new="c = 30")],
          {2: lambda: (root / "app.py").write_text(
              (root / "app.py").read_text().replace("e = 5", "e = 'mine'"))})
    assert (root / "app.py").read_text() == "a = 10\nb = 2\nc = 30\nd = 4\ne = 'mine'\n"
    diff = run_cli("diff", "-w", str(root)).out
    assert "+a = 10" in diff and "+c = 30" in diff and "mine" not in diff.replace(
        " e = 'mine'", "")  # the person's line is context at most, never a change
    before = tree(root) | {"app.py": (person.encode(), 0o644)}
    result = run_cli("undo", "-w", str(root))
    assert result.code == 0, result.err
    assert "your changes kept" in result.out
    assert tree(root) == before


@needs_git
def test_a_persons_edit_after_the_run_on_the_same_line_is_named_not_lost(
        workspace: Path) -> None:
    root = workspace
    (root / "app.py").write_text("a = 1\n")
    a_run(root, [turn("edit_file", path="app.py", old="a = 1", new="a = 2")])
    (root / "app.py").write_text("a = 3\n")
    result = run_cli("undo", "-w", str(root))
    assert result.code == 1 and "app.py" in result.err and "overlap" in result.err
    assert (root / "app.py").read_text() == "a = 3\n"
    assert run_cli("undo", "--force", "-w", str(root)).code == 0
    assert (root / "app.py").read_text() == "a = 1\n"


@posix_only
def test_a_binary_file_a_person_changed_after_the_run_is_named(workspace: Path) -> None:
    root = workspace
    (root / "blob.bin").write_bytes(b"\0one")
    a_run(root, cmd("open('blob.bin', 'wb').write(b'\\0two')"))
    (root / "blob.bin").write_bytes(b"\0mine")
    result = run_cli("undo", "-w", str(root))
    assert result.code == 1 and "blob.bin" in result.err
    assert (root / "blob.bin").read_bytes() == b"\0mine"
    assert stat.S_IMODE((root / "blob.bin").stat().st_mode) & 0o600 == 0o600



# C, item 9: a set-aside run can still be diffed and undone.

def test_a_set_aside_run_is_listed_diffed_and_undone(workspace: Path) -> None:
    root = workspace
    (root / "notes.md").write_text("one\n")
    (root / "other.md").write_text("two\n")
    before = tree(root)
    a_run(root, [turn("edit_file", path="notes.md", old="one", new="ONE")], goal="First goal")
    with OfflineOllama(ScriptResponder([turn("edit_file", path="other.md", old="two",
                                             new="TWO")])) as server:
        second = run_cli("run", "Second goal", "--fresh", "-w", str(root), "--host",
                         server.host, "--max-rounds", "1", "--sandbox", "none")
    assert second.code != 1, second.err
    listing = run_cli("log", "--runs", "-w", str(root)).out.splitlines()
    assert "Second goal" in listing[0] and listing[0].split()[0] == "2"
    assert "First goal" in listing[1] and listing[1].split()[0] == "1"
    assert run_cli("diff", "--stat", "-w", str(root)).out == "other.md\n"  # newest first
    assert run_cli("diff", "--stat", "--run", "1", "-w", str(root)).out == "notes.md\n"
    first = run_cli("undo", "--run", "1", "-w", str(root))
    assert first.code == 0, first.err
    assert (root / "notes.md").read_text() == "one\n"
    assert (root / "other.md").read_text() == "TWO\n"  # the newer run's change stays
    assert "undone" in run_cli("log", "--runs", "-w", str(root)).out.splitlines()[1]
    newest = run_cli("undo", "-w", str(root))
    assert newest.code == 0, newest.err
    assert tree(root) == before
    assert "no changes" in run_cli("diff", "--run", "1", "-w", str(root)).out or \
        "undone" in run_cli("diff", "--run", "1", "-w", str(root)).out


# C, item 5: non-UTF-8 names are bytes end to end.

@posix_only
def test_non_utf8_names_are_shown_escaped_and_restored_by_their_bytes(workspace: Path) -> None:
    root = workspace
    raw = os.fsdecode(b"caf\xe9.txt")
    (root / "data").mkdir()
    (root / raw).write_bytes(b"original\n")
    (root / "data" / raw).write_bytes(b"the person's\n")
    (root / "back\\slash.txt").write_bytes(b"b\n")
    before = tree(root)
    script = ("import os\nopen(os.fsdecode(b'caf\\xe9.txt'), 'wb').write(b'changed\\n')\n"
              "open('back\\\\slash.txt', 'wb').write(b'B\\n')")
    a_run(root, [*cmd(script), turn("write_file", path="data/caf\\xe9.txt", content="run\n")])
    assert (root / "data" / raw).read_bytes() == b"run\n"
    stat_out = run_cli("diff", "--stat", "-w", str(root)).out.splitlines()
    assert sorted(stat_out) == sorted(["tool.py", "caf\\xe9.txt", "back\\\\slash.txt",
                                       "data/caf\\xe9.txt"])
    assert "+changed" in run_cli("diff", raw, "-w", str(root)).out  # the name as the shell gives it
    result = run_cli("undo", "-w", str(root))
    assert result.code == 0, result.err
    assert tree(root) == before


# C, items 3 and 4: ignored files, links, empty folders.

def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
                          cwd=root, capture_output=True, text=True, check=True).stdout


@posix_only
@needs_git
def test_ignored_files_links_and_empty_folders_are_shown_and_undone(workspace: Path) -> None:
    root = workspace
    (root / ".gitignore").write_text(".env\nbuild/\n")
    (root / ".env").write_text("SECRET=1\n")
    (root / "build").mkdir()
    (root / "build" / "out.txt").write_text("built\n")
    (root / "drafts").mkdir()
    (root / "drafts" / "idea.md").write_text("an idea\n")
    (root / "target.txt").write_text("t\n")
    os.symlink("target.txt", root / "tracked-link")
    (root / "empty").mkdir()
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    os.symlink("target.txt", root / "untracked-link")
    before = tree(root)
    script = ("import os, shutil\nopen('.env', 'w').close()\n"
              "open('build/out.txt', 'w').write('rebuilt\\n')\n"
              "shutil.rmtree('drafts')\nos.remove('tracked-link')\nos.remove('untracked-link')\n"
              "os.rmdir('empty')\nos.makedirs('made/deeper')\n")
    a_run(root, [turn("write_file", path=".gitignore", content=".env\nbuild/\ndrafts/\n"),
                 *cmd(script)])
    stat_out = set(run_cli("diff", "--stat", "-w", str(root)).out.splitlines())
    assert {".env", "build/out.txt", "drafts/idea.md", "tracked-link", "untracked-link",
            "empty/", "made/deeper/"} <= stat_out, stat_out
    result = run_cli("undo", "-w", str(root))
    assert result.code == 0, result.err
    assert tree(root) == before
    assert git(root, "status", "--porcelain") == "?? untracked-link\n"


@posix_only
def test_a_gitignore_of_everything_in_a_plain_folder_hides_nothing(workspace: Path) -> None:
    root = workspace
    (root / ".gitignore").write_text("*\n")
    (root / "mathx").mkdir()
    (root / "mathx" / "__init__.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_add.py").write_text("def test_x():\n    pass\n")
    before = tree(root)
    a_run(root, cmd("import shutil\nshutil.rmtree('mathx')\nshutil.rmtree('tests')\n"))
    assert {"mathx/__init__.py", "tests/test_add.py"} <= set(
        run_cli("diff", "--stat", "-w", str(root)).out.splitlines())
    result = run_cli("undo", "-w", str(root))
    assert result.code == 0, result.err
    assert tree(root) == before


# B, item 1: a person saves files while the model's slow command runs. Under bwrap the
# command runs in a private copy of the workspace, and only what it changed there is applied
# (tools/cmdcopy.py): the person's files are never the run's. Without bwrap Jetbox sees only
# the snapshots around the command, so it names such files with the command and keeps the
# version it replaces.

# The slow command: it waits for SIGUSR1 (sent by the person once they have saved their
# files), then makes its own changes.
SLOW = ("import os, signal, time\n"
        "go = []\n"
        "signal.signal(signal.SIGUSR1, lambda *_: go.append(1))\n"
        "deadline = time.monotonic() + 60\n"
        "while not go and time.monotonic() < deadline:\n"
        "    time.sleep(0.02)\n")


def needs_bwrap() -> None:
    from jetbox.exec.sandbox import bwrap_usable

    if not bwrap_usable():
        print("SKIP: bubblewrap is not usable here (not Linux, not installed, or user "
              "namespaces are not allowed): commands run in the workspace, watched")
        pytest.skip("bwrap is not usable: no private copy for commands")


def _waiting_slow_py(root: Path) -> int | None:
    """The pid of the `python slow.py` of this workspace's run, once its SIGUSR1 handler is
    in place (/proc/PID/status SigCgt), or None."""
    marker = f"JETBOX_CHILD_OF={root.resolve()}".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if not argv or Path(os.fsdecode(argv[0])).name == "bwrap" or \
                    b"slow.py" not in argv[1:3]:
                continue
            if marker not in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                continue
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        caught = next(int(line.split()[1], 16) for line in status.splitlines()
                      if line.startswith("SigCgt:"))
        if caught & (1 << (signal_number() - 1)):
            return int(pid)
    return None


def signal_number() -> int:
    import signal

    return int(signal.SIGUSR1)


def while_slow_py_runs(root: Path, person: Action) -> Action:
    """A thread's body: wait for the run's `python slow.py`, do the person's saves, let it
    go on."""
    import time

    def act() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pid = _waiting_slow_py(root)
            if pid is not None:
                person()
                os.kill(pid, signal_number())
                return
            time.sleep(0.02)
    return act


def run_with_person(root: Path, turns: Sequence[Turn], person: Action) -> None:
    import threading

    helper = threading.Thread(target=while_slow_py_runs(root, person), daemon=True)
    helper.start()
    a_run(root, turns, sandbox="bwrap")
    helper.join(10)
    assert not helper.is_alive()


def command_changes(root: Path) -> None:
    """A project where a command rewrites, deletes, chmods, links and makes folders."""
    (root / "notes.md").write_text("notes\n")
    (root / "out.txt").write_text("old output\n")
    (root / "old.txt").write_text("to be deleted\n")
    (root / "run.sh").write_text("echo hi\n")
    os.chmod(root / "run.sh", 0o755)
    os.symlink("out.txt", root / "latest")
    (root / "empty").mkdir()


COMMAND = ("open('out.txt', 'w').write('new output\\n')\n"
           "os.remove('old.txt')\n"
           "os.chmod('run.sh', 0o644)\n"
           "os.remove('latest'); os.symlink('run.sh', 'latest')\n"
           "os.rmdir('empty')\n"
           "os.makedirs('made/inner')\n"
           "open('made/inner/x.txt', 'w').write('made\\n')\n")


@posix_only
def test_files_saved_during_a_command_are_the_persons_and_never_undone(
        workspace: Path) -> None:
    needs_bwrap()
    root = workspace
    command_changes(root)
    before = tree(root)

    def person() -> None:
        (root / "notes.md").write_bytes(b"the person's notes\n")
        (root / "draft.md").write_bytes(b"the person's draft\n")

    run_with_person(root, cmd(SLOW + COMMAND, "slow.py"), person)
    assert (root / "out.txt").read_bytes() == b"new output\n"  # the command's, applied
    assert (root / "made" / "inner" / "x.txt").read_bytes() == b"made\n"
    assert os.readlink(root / "latest") == "run.sh"
    stat_out = run_cli("diff", "--stat", "-w", str(root)).out.splitlines()
    assert "notes.md" not in stat_out and "draft.md" not in stat_out, stat_out
    assert {"out.txt", "old.txt", "run.sh", "slow.py"} <= set(stat_out), stat_out
    assert "changed while" not in run_cli("diff", "-w", str(root)).out  # the command's own
    result = run_cli("undo", "-w", str(root))
    assert result.code == 0, result.err
    assert "changed while" not in result.out
    assert tree(root) == {**before, "notes.md": (b"the person's notes\n", before["notes.md"][1]),  # type: ignore[index]
                          "draft.md": (b"the person's draft\n", new_file_mode())}


def person_and_command_edit(root: Path, person_line: int, command_line: int
                            ) -> tuple[dict[str, object], str]:
    """data.txt (8 lines) and other.txt; during a slow command that rewrites `command_line`
    of data.txt and other.txt, the person saves data.txt with `person_line` rewritten.
    Returns the tree before the run and the person's text."""
    needs_bwrap()
    (root / "data.txt").write_text("".join(f"line {i}\n" for i in range(8)))
    (root / "other.txt").write_text("other\n")
    before = tree(root)
    theirs = "".join(f"line {i} by the person\n" if i == person_line else f"line {i}\n"
                     for i in range(8))

    def person() -> None:
        (root / "data.txt").write_text(theirs)

    script = SLOW + (f"text = open('data.txt').read().replace('line {command_line}', "
                     f"'line {command_line} by the command')\n"
                     "open('data.txt', 'w').write(text)\n"
                     "open('other.txt', 'w').write('changed\\n')\n")
    run_with_person(root, cmd(script, "slow.py"), person)
    return before, theirs


@posix_only
@needs_git
def test_a_persons_line_and_a_commands_line_in_one_file_are_merged(workspace: Path) -> None:
    root = workspace
    before, theirs = person_and_command_edit(root, person_line=0, command_line=6)
    both = theirs.replace("line 6", "line 6 by the command")
    assert (root / "data.txt").read_text() == both
    diff = run_cli("diff", "-w", str(root), "data.txt").out
    assert "+line 6 by the command" in diff and "by the person" not in diff, diff
    result = run_cli("undo", "-w", str(root))
    assert result.code == 0, result.err
    assert tree(root) == {**before, "data.txt": (theirs.encode(), before["data.txt"][1])}  # type: ignore[index]


@posix_only
@needs_git
def test_a_persons_line_and_a_commands_on_the_same_line_keep_the_persons(
        workspace: Path) -> None:
    root = workspace
    before, theirs = person_and_command_edit(root, person_line=2, command_line=2)
    assert (root / "data.txt").read_text() == theirs
    assert (root / "other.txt").read_text() == "changed\n"
    seen = [out for out in tool_outputs(root, "run_cmd") if "data.txt" in out]
    assert seen and "the command's change to it was not applied" in seen[0], seen
    assert "data.txt" not in run_cli("diff", "--stat", "-w", str(root)).out
    result = run_cli("undo", "-w", str(root))
    assert result.code == 1 and "not restored   data.txt: `python slow.py` changed it" \
        in result.err, result
    assert tree(root) == {**before, "data.txt": (theirs.encode(), before["data.txt"][1])}  # type: ignore[index]
    forced = run_cli("undo", "--force", "-w", str(root))
    assert forced.code == 0, forced.err
    assert tree(root) == before


@posix_only
def test_a_command_killed_in_its_copy_leaves_nothing_of_the_persons_to_the_run(
        workspace: Path) -> None:
    """Jetbox killed while a command ran in its copy: the command's changes never reached
    the workspace, so on resume nothing there is journaled as its (the person's saves
    meanwhile included), and the copy it left behind is removed."""
    import gc
    import shutil

    from jetbox.store.kinds import FilesChanged, Intent, RunStart
    from jetbox.store.ledger import Ledger
    from jetbox.tools.policy import ToolPolicy
    from jetbox.tools.toolbox import Toolbox

    needs_bwrap()
    root = workspace
    (root / "drop.py").write_text("import pathlib\npathlib.Path('data.txt').unlink()\n")
    (root / "data.txt").write_text("data\n")
    (root / "notes.md").write_text("notes\n")
    ledger = Ledger(root / "agent_ledger.log")
    ledger.append(RunStart(goal="g"))
    tools = Toolbox(root, ledger, ToolPolicy(sandbox="bwrap"))
    assert tools.dispatch("run_cmd", {"cmd": ["python", "drop.py"]}).ok
    intent = next(r for r in ledger.records() if isinstance(r, Intent))
    assert intent.work_copy and Path(intent.work_copy).is_dir()  # for the next command
    del tools
    gc.collect()
    assert not Path(intent.work_copy).exists()  # removed with the session
    # As if Jetbox died while the command ran: its intent journaled, nothing after; the
    # workspace as the command found it, but for the person's saves; the copy left over.
    lines = (root / "agent_ledger.log").read_bytes().splitlines(keepends=True)
    (root / "agent_ledger.log").write_bytes(b"".join(lines[:intent.seq]))
    (root / "data.txt").write_text("data\n")
    (root / "notes.md").write_text("the person's notes\n")
    shutil.copytree(root, intent.work_copy, ignore=shutil.ignore_patterns(".jetbox"))
    before = tree(root)
    resumed = Toolbox(root, Ledger(root / "agent_ledger.log"), ToolPolicy(sandbox="bwrap"))
    resumed.replay("run_cmd", intent, None)
    resumed.replay("run_cmd", intent, None)  # a second resume journals nothing twice
    assert not Path(intent.work_copy).exists()
    changed = [r for r in Ledger(root / "agent_ledger.log").records()
               if isinstance(r, FilesChanged)]
    assert [(r.changes, r.isolated) for r in changed] == [([], True)]
    assert run_cli("diff", "--stat", "-w", str(root)).out.startswith("no changes")
    assert run_cli("undo", "-w", str(root)).code == 0
    assert tree(root) == before


@posix_only
def test_a_large_file_is_read_only_to_a_command_in_its_copy(workspace: Path) -> None:
    """Under bwrap a file over the watch's copy limit is bound read-only into the command's
    copy (copying it before every command would cost its size): the command cannot delete
    it, is told why, and nothing is left that undo could not restore."""
    needs_bwrap()
    root = workspace
    (root / "data").mkdir()
    with open(root / "data" / "big.dat", "wb") as handle:  # sparse: 60 MB, no disk
        handle.truncate(60_000_000)
    before = tree(root)
    a_run(root, cmd("import os; os.remove('data/big.dat')"), sandbox="bwrap")
    assert (root / "data" / "big.dat").stat().st_size == 60_000_000
    told = tool_outputs(root, "run_cmd")[-1]
    assert "exit code 1" in told and "read-only to commands" in told and "data/big.dat" \
        in told, told
    assert run_cli("diff", "--stat", "-w", str(root)).out == "tool.py\n"
    assert run_cli("undo", "-w", str(root)).code == 0
    assert tree(root) == before


@posix_only
def test_files_saved_during_a_command_without_a_sandbox_are_named_and_kept(
        workspace: Path, tmp_path: Path) -> None:
    """Without bwrap (--sandbox none, Windows, macOS) the command runs in the workspace:
    a file saved meanwhile is named with the command, and its content kept."""
    import threading
    import time

    root = workspace
    (root / "notes.md").write_text("notes\n")
    flags = tmp_path / "flags"
    flags.mkdir()
    script = (f"import pathlib, time\nflags = pathlib.Path({str(flags)!r})\n"
              "(flags / 'started').touch()\n"
              "while not (flags / 'go').exists():\n    time.sleep(0.02)\n")

    def person() -> None:
        while not (flags / "started").exists():
            time.sleep(0.02)
        (root / "notes.md").write_text("the person's notes\n")
        (root / "draft.md").write_text("the person's draft\n")
        (flags / "go").touch()

    helper = threading.Thread(target=person, daemon=True)
    helper.start()
    a_run(root, cmd(script, "slow.py"))
    helper.join(10)
    diff = run_cli("diff", "-w", str(root)).out
    assert "# changed while `python slow.py` ran (by it, or by someone else" in diff
    result = run_cli("undo", "-w", str(root))
    assert result.code == 0, result.err
    lines = {line.split()[1]: line for line in result.out.splitlines() if "  " in line[:3]}
    for name, content in (("notes.md", b"the person's notes\n"),
                          ("draft.md", b"the person's draft\n")):
        assert "changed while `python slow.py` ran" in lines[name]
        kept = lines[name].split("kept in ")[1].rstrip(")")
        assert (root / kept).read_bytes() == content


# The property: random run edits, command changes and person edits between rounds.

FILES = ("f0.py", "f1.py", "f2.py")
LINES = 6
COMMAND_OPS = {
    "write": "open('c0.txt', 'w').write('by the command\\n')",
    "delete": "os.remove('c1.txt')",
    "rename": "os.rename('c2.txt', 'c2-renamed.txt')",
    "chmod": "os.chmod('c3.sh', 0o644)",
    "link": "os.remove('ln'); os.symlink('c0.txt', 'ln')",
    "folder": "os.rmdir('empty'); os.makedirs('made/inner', exist_ok=True)",
    "byte name": "open(os.fsdecode(b'caf\\xe9.txt'), 'wb').write(b'changed')",
    "ignored": "open('.env', 'w').write('')",
}


def start_tree(root: Path) -> None:
    for name in FILES:
        (root / name).write_text("".join(f"{name} line {i}\n" for i in range(LINES)))
    for name in ("c0.txt", "c1.txt", "c2.txt", "c3.sh"):
        (root / name).write_text(f"{name}\n")
    os.chmod(root / "c3.sh", 0o755)
    os.symlink("c1.txt", root / "ln")
    (root / "empty").mkdir()
    (root / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"caf\n")
    (root / ".gitignore").write_text(".env\n")
    (root / ".env").write_text("SECRET=1\n")


@pytest.mark.slow
@posix_only
@needs_git
@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_undo_keeps_every_persons_change_and_restores_the_rest_or_names_it(
        tmp_path_factory: pytest.TempPathFactory, sandbox: str) -> None:
    """With bwrap, every command runs in the session's private copy, brought in step with
    the person's edits before each one."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    if sandbox == "bwrap":
        needs_bwrap()

    run_edit = st.tuples(st.just("run"), st.sampled_from(FILES), st.integers(0, LINES - 1))
    person_edit = st.tuples(st.just("person"), st.sampled_from(FILES),
                            st.integers(0, LINES - 1))
    command = st.tuples(st.just("cmd"), st.sampled_from(sorted(COMMAND_OPS)), st.just(0))

    @settings(max_examples=12, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(st.one_of(run_edit, person_edit, command), min_size=1, max_size=5))
    def check(steps: list[tuple[str, str, int]]) -> None:
        root = tmp_path_factory.mktemp("prop")
        start_tree(root)
        before = tree(root)
        turns: list[Turn] = []
        actions: dict[int, Action] = {}
        person: dict[str, dict[int, str]] = {}
        for number, (what, name, line) in enumerate(steps):
            if what == "run":
                turns.append(turn("edit_file", path=name, old=f"{name} line {line}\n",
                                  new=f"{name} line {line} by the run {number}\n"))
            elif what == "cmd":
                turns += cmd(f"import os\n{COMMAND_OPS[name]}", f"tool{number}.py")
            else:
                text = f"{name} line {line} by the person {number}\n"
                person.setdefault(name, {})[line] = text
                earlier = actions.get(len(turns) + 1, lambda: None)
                actions[len(turns) + 1] = _then(earlier, _person_edit(root, name, line, text))
        turns.append(turn("read_file", path="f0.py"))  # the person's last edit lands first
        a_run(root, turns, actions, sandbox=sandbox)
        result = run_cli("undo", "-w", str(root))
        named = {line.split()[2].rstrip(":") for line in result.err.splitlines()
                 if line.startswith("  not restored")}
        assert result.code == (1 if named else 0), result
        expected = dict(before)
        for name, edits in person.items():
            lines = [f"{name} line {i}\n" for i in range(LINES)]
            for index, text in edits.items():
                lines[index] = text
            expected[name] = ("".join(lines).encode(), before[name][1])  # type: ignore[index]
        now = tree(root)
        for path in set(expected) | set(now):
            if path not in named:
                assert now.get(path) == expected.get(path), (path, steps, result)

    check()


def _then(first: Action, second: Action) -> Action:
    return lambda: (first(), second())  # type: ignore[func-returns-value]


def _person_edit(root: Path, name: str, line: int, text: str) -> Action:
    def edit() -> None:
        lines = (root / name).read_text().splitlines(keepends=True)
        lines[line] = text
        (root / name).write_text("".join(lines))
    return edit


# D, item 7: a test that changes files during a probe.

def test_a_file_a_test_rewrites_during_the_probes_is_shown_and_undone(workspace: Path) -> None:
    root = workspace
    (root / "data.txt").write_text("the person's data\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_writes.py").write_text(
        "import pathlib\n\n\ndef test_it():\n"
        "    data = pathlib.Path(__file__).parent.parent / 'data.txt'\n"
        "    data.write_text('by a test\\n')\n")
    (root / "app.py").write_text("X = 1\n")
    before = tree(root)
    a_run(root, [turn("edit_file", path="app.py", old="X = 1", new="X = 2"),
                 turn("read_file", path="app.py")], real_probes=True)
    assert (root / "data.txt").read_text() == "by a test\n"
    diff = run_cli("diff", "-w", str(root)).out
    assert "+by a test" in diff and "# changed while the probes (round" in diff
    result = run_cli("undo", "-w", str(root))
    assert result.code == 0, result.err
    assert tree(root) == before


# D, item 8: owners kept where the OS allows (hard links are not: see the docs).

@posix_only
def test_an_owner_survives_an_edit_and_its_undo(workspace: Path) -> None:
    root = workspace
    (root / "theirs.py").write_text("Y = 1\n")
    if os.getuid() != 0:
        pytest.skip("only root may give a file to another user")
    os.chown(root / "theirs.py", 4321, 4321)
    before = tree(root)
    a_run(root, [turn("edit_file", path="theirs.py", old="Y = 1", new="Y = 2")])
    owner = (root / "theirs.py").stat()
    assert (owner.st_uid, owner.st_gid) == (4321, 4321)
    result = run_cli("undo", "-w", str(root))
    assert result.code == 0, result.err
    assert tree(root) == before
    owner = (root / "theirs.py").stat()
    assert (owner.st_uid, owner.st_gid) == (4321, 4321)


# D, item 8: hard links kept where every name is in the workspace.

def linked_tree(root: Path, *names: str) -> dict[str, object]:
    """The whole tree, and which of `names` are one file (their inode shared)."""
    inodes = {name: (root / name).stat().st_ino for name in names}
    groups = sorted(sorted(n for n in names if inodes[n] == inode)
                    for inode in set(inodes.values()))
    return {**tree(root), "one file": groups}


def test_an_edit_keeps_hard_links_in_the_workspace_and_undo_links_them_again(
        workspace: Path) -> None:
    root = workspace
    (root / "a.txt").write_bytes(b"first\nsecond\n")
    (root / "sub").mkdir()
    os.link(root / "a.txt", root / "sub" / "b.txt")
    (root / "c.txt").write_bytes(b"first\nsecond\n")  # the same bytes, its own file
    before = linked_tree(root, "a.txt", "sub/b.txt", "c.txt")
    assert before["one file"] == [["a.txt", "sub/b.txt"], ["c.txt"]]
    a_run(root, [turn("edit_file", path="a.txt", old="second", new="SECOND")])
    assert (root / "sub" / "b.txt").read_bytes() == b"first\nSECOND\n"
    assert linked_tree(root, "a.txt", "sub/b.txt", "c.txt")["one file"] == \
        before["one file"]
    assert (root / "c.txt").read_bytes() == b"first\nsecond\n"
    ledger = (root / "agent_ledger.log").read_text(encoding="utf-8")
    assert "written in place, so its hard links sub/b.txt show it too" in ledger
    assert run_cli("diff", "--stat", "-w", str(root)).out.splitlines() == ["a.txt",
                                                                          "sub/b.txt"]
    result = run_cli("undo", "-w", str(root))
    assert result.code == 0, result.err
    assert "linked again   sub/b.txt (a hard link of a.txt" in result.out
    assert linked_tree(root, "a.txt", "sub/b.txt", "c.txt") == before


def test_a_write_to_a_file_linked_outside_the_workspace_leaves_that_file_and_says_so(
        workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = workspace
    outside = tmp_path_factory.mktemp("home") / ".bashrc"
    outside.write_bytes(b"export SECRET=1\n")
    os.link(outside, root / "rc.txt")
    os.chmod(root / "rc.txt", 0o640)
    before = tree(root)
    a_run(root, [turn("write_file", path="rc.txt", content="by the model\n")])
    assert outside.read_bytes() == b"export SECRET=1\n"
    assert outside.stat().st_nlink == 1 and (root / "rc.txt").stat().st_nlink == 1
    assert stat.S_IMODE((root / "rc.txt").stat().st_mode) == 0o640
    ledger = (root / "agent_ledger.log").read_text(encoding="utf-8")
    assert "rc.txt had a hard link outside the workspace; it is now a separate file" in ledger
    assert "had a hard link outside the workspace" in run_cli("diff", "-w", str(root)).out
    result = run_cli("undo", "-w", str(root))
    assert result.code == 1 and "undone:" not in result.out
    assert "not restored   rc.txt: it had a hard link outside the workspace" in result.err
    assert tree(root) == before
    assert outside.read_bytes() == b"export SECRET=1\n"
