"""`python -m jetbox`."""

import os
import sys


def _keep_workspace_off_sys_path() -> None:
    """`python -m` puts the cwd first on sys.path, so a model-written `yaml.py` in the
    workspace would run inside Jetbox at its first `import yaml`. Drop that entry; a
    source checkout run from its own folder still needs it for `states`, so it moves to
    the end, where the standard library and site-packages win."""
    if not sys.path or sys.path[0] not in ("", os.getcwd()):
        return
    entry = sys.path.pop(0)
    own_root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    if os.path.realpath(entry or os.curdir) == own_root:
        sys.path.append(entry)


_keep_workspace_off_sys_path()

from jetbox.cli import entry  # noqa: E402 - only after sys.path is safe

if __name__ == "__main__":
    entry()
