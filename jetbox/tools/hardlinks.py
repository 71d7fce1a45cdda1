"""A file the model writes that has hard links: written in place when every one of its names
is in the workspace, so they all see the change and stay one file; replaced when one is
elsewhere (a command or a cloned repository can link /home/you/.bashrc into the project,
and no write of Jetbox's may reach a file outside the workspace), and said so."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetbox.core.fsutil import atomic_write_bytes, write_in_place
from jetbox.core.prompts import say
from jetbox.core.text import escape_name
from jetbox.tools.watch import watched_paths


@dataclass(frozen=True)
class Links:
    """The hard links of one file, as they were before a write."""

    others: tuple[str, ...]
    """Its other names in the workspace (escaped, as the ledger keeps names), sorted."""
    outside: bool
    """Some link was not found where the watch looks: outside the workspace, or in `.git`,
    a virtual environment or Jetbox's own folder. The file is then never written in place."""
    identity: os.stat_result
    """The file whose links were counted: an in-place write checks it opens that one."""

    @property
    def in_place(self) -> bool:
        return not self.outside

    def intent_fields(self) -> dict[str, Any]:
        """What a write's intent records (store.kinds.Intent `links`, `links_outside`)."""
        return {"links": list(self.others) or None, "links_outside": self.outside or None}

    def note(self, relative: str) -> str:
        """What the model is told beside the write's own result."""
        if self.outside:
            return say("result.hard_link_outside", path=relative)
        return say("result.hard_links_in_place", links=", ".join(self.others))


def links_of(root: Path, absolute: Path) -> Links | None:
    """The hard links of the regular file at `absolute`, or None when it has none (or is
    no regular file). Every name is searched the way the watch walks the workspace."""
    try:
        info = os.lstat(absolute)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_nlink <= 1:
        return None
    paths, _ = watched_paths(root)  # cut short: links past the limit count as outside
    found = []
    for rel, entry in paths:
        if rel.endswith("/") or not stat.S_ISREG(entry.st_mode):
            continue
        if entry.st_ino == 0:  # Windows: scandir leaves the inode and device unset
            try:
                entry = os.lstat(root / rel)
            except OSError:
                continue
        if (entry.st_dev, entry.st_ino) == (info.st_dev, info.st_ino):
            found.append(rel)
    others = tuple(sorted(escape_name(rel) for rel in found
                          if os.path.normcase(root / rel) != os.path.normcase(absolute)))
    return Links(others, len(found) < info.st_nlink or len(others) == len(found), info)


def write_keeping_links(absolute: Path, data: bytes, links: Links | None,
                        original: Path | None) -> None:
    """Write `data` to the file: in place when `links` says every name is in the workspace
    (`original`, a copy of the old content, is written back if the write fails part-way);
    else replaced, as every other write is."""
    if links is not None and links.in_place and original is not None:
        write_in_place(absolute, data, original, links.identity)
    else:
        atomic_write_bytes(absolute, data)
