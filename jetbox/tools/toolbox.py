"""The tools the model can use, each refusing unsafe input with a clear result."""

from __future__ import annotations

import logging
import os
import traceback
from pathlib import Path
from typing import Any

from jetbox.core import failpoints
from jetbox.core.errors import JetboxError, LedgerWriteError, PauseRun
from jetbox.core.fsutil import read_bounded, sha256
from jetbox.core.prompts import say
from jetbox.core.text import escape_name, escape_surrogates
from jetbox.exec.files import project_files
from jetbox.exec.interpreter import Interpreter
from jetbox.exec.process import run_process, scrubbed_env
from jetbox.store import queries
from jetbox.store.kinds import (
    FilesChanged,
    Intent,
    ProtectedRemoved,
    Record,
    Refused,
    Result,
    ToolError,
)
from jetbox.store.ledger import Ledger
from jetbox.store.objects import FileState, ObjectStore, keep_before
from jetbox.store.workspace import IGNORED_DIRS, LOG_NAME, absent_protected, remove_created
from jetbox.tools import cmdcopy
from jetbox.tools.hardlinks import Links, links_of, write_keeping_links
from jetbox.tools.paths import PathRefused, inside, jail
from jetbox.tools.policy import (
    CommandRefused,
    ToolPolicy,
    check_arguments,
    program_name,
    resolve_program,
    split_command,
)
from jetbox.tools.recovery import complete, is_idempotent_program
from jetbox.tools.schemas import Refusal, ToolResult, checked_call, tool_specs
from jetbox.tools.search import SearchRefused, search
from jetbox.tools.textfile import EditRefused, line_range, locate
from jetbox.tools.watch import MAX_KEPT_BYTES, FileWatch

BINARY_SNIFF_BYTES = 8000
MAX_READ_BYTES = 8_000_000   # read_file never reads more than this, whatever the file claims
SEARCH_TIMEOUT_S = 20.0
MAX_SEARCH_MATCHES = 40

# What the toolbox appends as it runs a call (its journal), for the handler that calls it
# to declare (Handler.appends).
TOOLBOX_KINDS = (Intent.KIND, Result.KIND, Refused.KIND, ToolError.KIND, ProtectedRemoved.KIND,
                 FilesChanged.KIND)


class Toolbox:
    """Dispatches the model's calls; never raises for anything the model sends."""

    def __init__(self, workspace: Path, ledger: Ledger, policy: ToolPolicy | None = None,
                 python: Interpreter | None = None, pass_env: tuple[str, ...] = ()) -> None:
        self.workspace = workspace.resolve()
        # Copies of files before a write or edit changes them: `jetbox undo` restores them.
        self.objects = ObjectStore.of(self.workspace)
        self.watch = FileWatch(self.workspace, self.objects)  # what commands change
        self.copy = cmdcopy.SessionCopy(self.workspace, self.objects)  # where they run
        self.pass_env = pass_env  # the `pass_env` setting: variables commands may see
        self.ledger = ledger
        self.policy = policy or ToolPolicy()
        self._specs = tool_specs()
        # Resolved once, now: a program planted in the workspace later can never be picked.
        self._programs: dict[str, list[str] | str] = {}
        for name in self.policy.allowed_programs:
            try:
                self._programs[name] = resolve_program(name, self.workspace,
                                                       python.python if python else None)
            except CommandRefused as exc:
                self._programs[name] = str(exc)
        self._visible = python.folders() if python else ()
        # The project's interpreter is read-only to the model wherever it lives.
        self._read_only = tuple(p.resolve() for p in self._visible
                                if p.resolve().is_relative_to(self.workspace))
        if python is not None and not python.has_pytest and "pytest" in self._programs:
            self._programs["pytest"] = python.pytest_missing_hint()

    def specs(self) -> list[dict[str, Any]]:
        return self._specs

    def dispatch(self, name: str, arguments: object, round_no: int = 0) -> ToolResult:
        """Run one call; whatever happens, the model gets a result and the ledger a record.

        A tool may let OSError (or anything else) out: it becomes a failed result, and a
        write or command intent the call opened is closed as failed, so a resume never
        replays the call into the same error. Only the ledger failing stops the run,
        because then nothing could be journaled."""
        label = call_label(name)
        mark = len(self.ledger.records())
        try:
            failpoints.hit(f"tool:{label}")
            args = checked_call(name, arguments)
            return getattr(self, f"_{name}")(round_no=round_no, **args)
        except (LedgerWriteError, PauseRun):
            raise
        except (Refusal, PathRefused, CommandRefused) as exc:
            reason = str(exc)
            self._journal(Refused, tool=label, reason=reason, round=round_no)
            return ToolResult(label, False, say("result.refused", reason=reason), refused=True)
        except OSError as exc:
            return self._failed(label, mark, round_no, os_error_text(exc, self.workspace))
        except JetboxError as exc:
            return self._failed(label, mark, round_no, str(exc))
        except Exception as exc:  # a bug in a tool must not end the run, nor every resume
            detail = say("result.internal_error", tool=label, type=type(exc).__name__,
                         error=exc)
            # The run's agent.log logger (display.open_log names it so), if a run opened it;
            # never logging's last resort, which would print the traceback on the terminal.
            logger = logging.getLogger(f"jetbox.run.{self.workspace / LOG_NAME}")
            if logger.handlers:
                logger.error("%s\n%s", detail, traceback.format_exc())
            return self._failed(label, mark, round_no, detail)

    def replay(self, name: str, intent: Intent, result: Result | None,
               ) -> ToolResult | None:
        """Complete a call whose action began before a crash (see replay.complete)."""
        if intent.work_copy:  # it ran in a copy: nothing of the workspace is its
            cmdcopy.recover(self.ledger, intent)
        else:
            self.watch.recover(self.ledger, intent)  # what a command changed, if not journaled
        return complete(self.ledger, self.workspace, name, intent, result)

    def _failed(self, label: str, mark: int, round_no: int, error: str) -> ToolResult:
        """Close the intents this call opened (as failed), record the error, tell the model."""
        for intent in queries.open_intents(self.ledger.records()[mark:]):
            self._journal(Result, intent=intent.seq, action=intent.action,
                          ok=False, changed=False, error=error[:500])
        self._journal(ToolError, tool=label, error=error[:500], round=round_no)
        return ToolResult(label, False, say("result.error", error=error))

    def _journal(self, kind: type[Record], **fields: Any) -> None:
        """Append a failure record; one that cannot be encoded is kept in ASCII instead."""
        try:
            self.ledger.append(kind(**fields))
        except LedgerWriteError:
            raise
        except (ValueError, TypeError):  # e.g. a lone surrogate before the ledger escapes it
            in_ascii: dict[str, Any] = {k: v if isinstance(v, int) else ascii(v)
                                        for k, v in fields.items()}
            self.ledger.append(kind(**in_ascii))

    def _list_dir(self, path: str, round_no: int) -> ToolResult:
        target = jail(self.workspace, path)
        if not target.absolute.is_dir():
            raise Refusal(say("result.not_a_folder", path=target.relative))
        return ToolResult("list_dir", True, self._listing(target.absolute))

    def _listing(self, folder: Path) -> str:
        with os.scandir(folder) as scan:
            entries = sorted(entry_line(e, self.workspace) for e in scan
                             if e.name not in IGNORED_DIRS)
        shown = [line for _, line in entries]
        limit = self.policy.max_list_entries
        more = "\n" + say("result.more", count=len(shown) - limit) if len(shown) > limit else ""
        return "\n".join(shown[:limit]) + more or say("result.empty_folder")

    def _read_file(self, path: str, round_no: int, start_line: int | None = None,
                   end_line: int | None = None) -> ToolResult:
        target = jail(self.workspace, path)
        if target.absolute.is_dir():  # the listing list_dir gave, without its schema
            return ToolResult("read_file", True, say("result.folder_entries", path=target.relative,
                                                     entries=self._listing(target.absolute)))
        if not target.absolute.is_file():
            raise Refusal(say("result.not_a_file", path=target.relative))
        data, size = read_bounded(target.absolute, MAX_READ_BYTES)
        if b"\x00" in data[:BINARY_SNIFF_BYTES]:
            return ToolResult("read_file", True, say("result.binary_file", path=target.relative,
                                                     size=size))
        text = data.decode("utf-8", errors="replace")
        note = "" if "\ufffd" not in text or b"\xef\xbf\xbd" in data else \
            say("result.not_utf8", path=target.relative) + "\n"
        if size > len(data):
            note += say("result.partly_read", shown=len(data), size=size) + "\n"
        try:
            shown = line_range(text, start_line, end_line, self.policy.max_read_chars,
                               target.relative)
        except ValueError as exc:
            raise Refusal(str(exc)) from None
        return ToolResult("read_file", True, note + shown)

    def _search(self, pattern: str, round_no: int, path: str = ".") -> ToolResult:
        target = jail(self.workspace, path)
        files = project_files(self.workspace)
        if target.relative != ".":
            prefix = target.relative + "/"
            files = [f for f in files if f == target.relative or f.startswith(prefix)]
        files = inside(self.workspace, files)  # the jail read_file uses, for every file
        try:
            found = search(self.workspace, pattern, files, MAX_SEARCH_MATCHES, SEARCH_TIMEOUT_S,
                           self.policy.max_output_chars)
        except SearchRefused as exc:
            raise Refusal(str(exc)) from None
        return ToolResult("search", True, escape_surrogates(found))

    def _edit_file(self, path: str, old: str, new: str, round_no: int) -> ToolResult:
        target = jail(self.workspace, path, for_write=True, read_only=self._read_only)
        if not target.absolute.is_file():
            raise Refusal(say("result.edit_not_a_file", path=target.relative))
        data, size = read_bounded(target.absolute, self.policy.max_write_bytes + 1)
        if size > self.policy.max_write_bytes:
            raise Refusal(say("result.too_big", path=target.relative, size=size,
                              limit=self.policy.max_write_bytes))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Refusal(say("result.edit_not_utf8", path=target.relative)) from None
        try:
            edit = locate(text, old, new, target.relative)
        except EditRefused as exc:
            raise Refusal(str(exc)) from None
        after = edit.after.encode("utf-8")
        links = links_of(self.workspace, target.absolute)
        intent = self._intend(Intent(action="edit", path=target.relative,
                                     sha256_before=sha256(data), sha256=sha256(after),
                                     old=old, new=new, round=round_no,
                                     **self._keep(target.relative, target.absolute,
                                                  after, links)))
        self._apply(target.relative, target.absolute, after, intent, links)
        preview = edit.preview(target.relative)
        if links is not None:  # beside the header line, before the numbered lines
            head, _, lines = preview.partition("\n")
            preview = f"{head.removesuffix('; now:')}{links.note(target.relative)}; now:\n{lines}"
        return ToolResult("edit_file", True, preview, changed=True)

    def _keep(self, relative: str, absolute: Path, after: bytes,
              links: Links | None) -> dict[str, Any]:
        """Copies of the file before and after this write: undo takes out only this write's
        lines when someone edited the file since (a three-way merge needs both sides); and
        its hard links, which undo links again."""
        self.objects.save_bytes(after)
        kept = keep_before(self.objects, self.workspace, relative, absolute)
        return kept | links.intent_fields() if links is not None else kept

    def _intend(self, intent: Intent) -> Intent:
        """Journal an intent; returns it as journaled (its seq set)."""
        journaled = self.ledger.append(intent)
        assert isinstance(journaled, Intent)
        return journaled

    def _apply(self, relative: str, absolute: Path, data: bytes, intent: Intent,
               links: Links | None) -> None:
        """Write after the intent is journaled; record the result only once it is on disk.
        An OSError goes to dispatch, which closes the intent as failed."""
        failpoints.hit("intent")  # crash tests: the intent is journaled, the file not written
        before = (intent.before or {}).get("sha256")
        original = self.objects.path(before) if isinstance(before, str) else None
        try:
            write_keeping_links(absolute, data, links, original)
        except OSError as exc:
            raise OSError(exc.errno, say("result.cannot_write", path=relative,
                                         reason=exc.strerror or exc)) from None
        failpoints.hit("applied")  # crash tests: the file is written, its result is not
        self.ledger.append(Result(intent=intent.seq, action=intent.action, ok=True,
                                  changed=True, path=relative, sha256=intent.sha256))

    def _write_file(self, path: str, content: str, round_no: int) -> ToolResult:
        target = jail(self.workspace, path, for_write=True, read_only=self._read_only)
        data = content.encode("utf-8")
        if len(data) > self.policy.max_write_bytes:
            raise Refusal(say("result.content_too_big", size=len(data),
                              limit=self.policy.max_write_bytes))
        if target.absolute.is_dir():
            raise Refusal(say("result.write_a_folder", path=target.relative))
        sha = sha256(data)
        if target.absolute.is_file() and read_bounded(target.absolute, len(data) + 1)[0] == data:
            return ToolResult("write_file", True, say("result.unchanged", path=target.relative,
                                                      size=len(data)))
        links = links_of(self.workspace, target.absolute)
        intent = self._intend(Intent(action="write", path=target.relative, bytes=len(data),
                                     sha256=sha, content=content, round=round_no,
                                     **self._keep(target.relative, target.absolute,
                                                  data, links)))
        self._apply(target.relative, target.absolute, data, intent, links)
        note = links.note(target.relative) if links is not None else ""
        return ToolResult("write_file", True,
                          say("result.wrote", path=target.relative, size=len(data)) + note,
                          changed=True)

    def _run_cmd(self, cmd: object, round_no: int) -> ToolResult:
        argv = split_command(cmd)
        name = program_name(argv[0])
        if name not in self.policy.allowed_programs:
            raise Refusal(say("result.not_allowed_program", program=argv[0],
                              allowed=", ".join(self.policy.allowed_programs)))
        program = self._programs[name]
        if isinstance(program, str):
            raise Refusal(program)
        full = [*program, *check_arguments(name, argv[1:], self.policy, self.workspace)]
        before = self.watch.snapshot()  # first: it may create .jetbox/, which is Jetbox's
        built = self._private_copy(before)
        intent = self._intend(Intent(action="cmd", argv=full, program=name,
                                     idempotent=is_idempotent_program(name, self.workspace),
                                     round=round_no, files_before=self.watch.manifest(before),
                                     work_copy=str(built.copy.folder) if built else None))
        return self._run_in(full, intent, round_no, before, built)

    def _private_copy(self, before: dict[str, FileState]) -> cmdcopy.Built | None:
        """Under bwrap, the copy of the workspace the command runs in (cmdcopy.py), so what
        someone else changes meanwhile is never taken for the command's; None without bwrap,
        past the watch's limit of paths, or when the copy cannot be made (then the command
        runs in the workspace, watched as before)."""
        if self.policy.sandbox != "bwrap" or self.watch.truncated:
            return None
        try:
            return self.copy.prepare(before, self.watch.left_out, self.watch.uncopied)
        except OSError:
            self.copy.discard()
            return None

    def _run_in(self, full: list[str], intent: Intent, round_no: int,
                before: dict[str, FileState], built: cmdcopy.Built | None) -> ToolResult:
        # The project's own pytest plugins load, as in the probes (runner.py).
        env = {**scrubbed_env(pass_env=self.pass_env), "PYTHONDONTWRITEBYTECODE": "1",
               "PIP_NO_INPUT": "1", "NO_COLOR": "1"}
        absent = absent_protected(self.workspace)
        result = run_process(full, cwd=self.workspace, timeout_s=self.policy.cmd_timeout_s,
                             env=env, max_output_chars=self.policy.max_output_chars,
                             sandbox=self.policy.sandbox, workspace=self.workspace,
                             visible=self._visible, copy=built.copy if built else None)
        removed = remove_created(self.workspace, absent)
        if built is not None:  # made in the copy: never applied, named like the rest
            removed += [n for n in remove_created(built.copy.folder, absent)
                        if n not in removed]
        self.ledger.append(Result(intent=intent.seq, action="cmd",
                                  ok=result.returncode == 0, exit_code=result.returncode,
                                  timed_out=result.timed_out,
                                  duration_s=round(result.duration_s, 3),
                                  output_tail=result.output[-500:]))
        notes = ""
        if built is None:
            self.watch.record(self.ledger, intent.seq, before)
        else:
            outcome = cmdcopy.finish(self.ledger, intent.seq, built, before, self.workspace,
                                     self.objects, self.watch.links)
            notes += "".join(f"\n{note}" for note in outcome.notes)
            notes += "".join("\n" + say("result.copy_merged", path=path)
                             for path in outcome.merged)
            if built.read_only and result.returncode != 0:
                notes += "\n" + say("result.read_only_large",
                                    megabytes=MAX_KEPT_BYTES // 1_000_000,
                                    names=", ".join(escape_name(r)
                                                    for r in built.read_only[:5]))
        head = say("result.timed_out", seconds=self.policy.cmd_timeout_s) \
            if result.timed_out else say("result.exit_code", code=result.returncode)
        if removed:
            self.ledger.append(ProtectedRemoved(names=removed, round=round_no))
        notes += "".join("\n" + say("result.protected_removed", name=name) for name in removed)
        return ToolResult("run_cmd", result.returncode == 0,
                          f"{head}\n{result.output}".rstrip() + notes)

    def _finish(self, summary: str, round_no: int) -> ToolResult:
        return ToolResult("finish", True, say("result.finish", summary=summary[:300]))


# How the toolbox words what it saw: a folder entry, a call's name, an OS error.
def entry_line(entry: os.DirEntry[str], root: Path) -> tuple[tuple[bool, str], str]:
    """A sort key (folders first) and list_dir's line for one entry; a broken or looping
    link is listed as such instead of failing the whole listing, and a link out of the
    workspace without a look at what it points to (the jail's rule)."""
    # Names that are not valid UTF-8 are shown escaped (caf\xe9.txt); jail takes them back.
    name = escape_name(entry.name)
    if entry.is_symlink() and not Path(os.path.realpath(entry.path)).is_relative_to(root):
        return (True, entry.name), say("result.link_out", name=name)
    try:
        if entry.is_dir():
            return (False, entry.name), f"{name}/"
        return (True, entry.name), say("result.entry_size", name=name, size=entry.stat().st_size)
    except OSError as exc:
        return (True, entry.name), say(
            "result.unreadable_link" if entry.is_symlink() else "result.unreadable_entry",
            name=name, reason=exc.strerror or exc)


def call_label(name: object) -> str:
    """The call's name, bounded and printable, for results and records."""
    text = name if isinstance(name, str) else type(name).__name__
    return text[:80].encode("utf-8", "backslashreplace").decode("utf-8")


def os_error_text(exc: OSError, workspace: Path) -> str:
    """`File name too long: a/b.py`: the reason, and the path relative to the workspace."""
    where = ""
    if isinstance(exc.filename, str):
        try:
            where = f": {Path(exc.filename).relative_to(workspace).as_posix()}"
        except ValueError:
            where = ""
    return f"{exc.strerror or type(exc).__name__}{where}"
