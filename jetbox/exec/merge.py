"""Three-way merges of a file's bytes by `git merge-file`, with none of the person's git
configuration: undo takes a run's lines out of a file with it, and a command's change made
in its private copy is merged with a person's edit of the same file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from jetbox.core.programs import find_program
from jetbox.core.prompts import say
from jetbox.exec.process import run_process, scrubbed_env

MERGE_TIMEOUT_S = 60.0


class CannotMerge(Exception):
    """Why the two changes cannot be merged (they overlap, binary, no git)."""


def merge_file(ours: bytes, base: bytes, theirs: bytes) -> bytes:
    """`git merge-file`: the changes from `base` to `theirs` made in `ours`. The person's
    git configuration is never read (no system or global file; run outside any repository),
    so no merge driver or setting of theirs runs here."""
    if b"\0" in ours + base + theirs:
        raise CannotMerge(say("merge.binary"))
    git = find_program("git")
    if git is None:
        raise CannotMerge(say("merge.no_git"))
    with tempfile.TemporaryDirectory(prefix="jetbox-merge-") as folder:
        paths = [Path(folder) / name for name in ("now", "run", "before")]
        for path, data in zip(paths, (ours, base, theirs), strict=True):
            path.write_bytes(data)
        env = {**scrubbed_env(), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
               "GIT_CEILING_DIRECTORIES": folder}
        # Without -p the result is written into the first file: bytes, never decoded text.
        done = run_process([git, "merge-file", "-q", *map(str, paths)], cwd=Path(folder),
                           timeout_s=MERGE_TIMEOUT_S, env=env)
        if done.returncode != 0:
            raise CannotMerge(say("merge.overlap") if done.returncode
                              and 0 < done.returncode < 128 else
                              say("merge.failed", output=done.output.strip()[:200]))
        return paths[0].read_bytes()
