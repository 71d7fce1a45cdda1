"""How the toolbox words what it saw: a folder entry, a call's name, an OS error."""

from __future__ import annotations

import os
from pathlib import Path

from jetbox.core.prompts import say
from jetbox.core.text import escape_name


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
