"""Every git call Jetbox makes, built here: a repository Jetbox did not write (a clone, or a
folder the model filled) has a `.git/config` that may name commands, and git runs them for
the most innocent call: `core.fsmonitor` at every `git status` and `ls-files`, a filter's
`clean` when `git status` re-hashes a file, `core.pager`, hooks, `core.sshCommand`,
`diff.external`. Jetbox's calls run with all of that off; the person's own (global)
filters stay on, as in their own `git status`."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jetbox.exec.process import capture

CONFIG_TIMEOUT_S = 10.0
FILTER_KEYS = r"^filter\..*\.(clean|smudge|process)$"
TRUSTED_SCOPES = ("global",)  # the person's ~/.gitconfig; the system's is not read at all


@dataclass(frozen=True)
class GitCall:
    """What to run and with which environment."""

    argv: list[str]
    env: dict[str, str]


@cache
def _no_hooks() -> str:
    """A folder with no hooks: /dev/null is not a folder on Windows (NUL is not valid)."""
    return os.devnull if os.name != "nt" else tempfile.mkdtemp(prefix="jetbox-nohooks-")


def _base(git: str) -> list[str]:
    off = ("core.fsmonitor=false", f"core.hooksPath={_no_hooks()}", "core.sshCommand=",
           "diff.external=", "core.pager=cat", "core.untrackedCache=false",
           "submodule.recurse=false", "status.submoduleSummary=false")
    return [git, "--no-pager", "--no-optional-locks", *(arg for o in off for arg in ("-c", o))]


def git_env() -> dict[str, str]:
    """The person's environment, less what makes git read the system's config and
    attributes or run a pager, an external diff or a program asking for a password."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("GIT_EXTERNAL_DIFF", "GIT_PAGER", "GIT_ASKPASS", "GIT_SSH_COMMAND")}
    return {**env, "GIT_CONFIG_NOSYSTEM": "1", "GIT_ATTR_NOSYSTEM": "1",
            "GIT_OPTIONAL_LOCKS": "0", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"}


def _repository_filters(base: list[str], root: Path, env: dict[str, str]) -> list[str]:
    """The filter drivers defined anywhere but the person's own config (the repository's
    `.git/config` and what it includes), read by `git config`, which runs none of them."""
    scoped = _config_entries([*base, "config", "-z", "--show-scope"], root, env)
    if scoped is None:  # git before 2.26 has no scopes: every filter is emptied
        plain = _config_entries([*base, "config", "-z"], root, env) or []
        scoped = [field for entry in plain for field in ("local", entry)]
    names = set()
    for scope, entry in zip(scoped[0::2], scoped[1::2], strict=False):
        key = entry.split("\n", 1)[0]
        if scope not in TRUSTED_SCOPES and key.count(".") >= 2:
            names.add(key[len("filter."):key.rindex(".")])
    return sorted(names)


def _config_entries(argv: list[str], root: Path, env: dict[str, str]) -> list[str] | None:
    """The NUL-separated fields of `git config --get-regexp FILTER_KEYS`; [] when none
    matches, None when git refused the call."""
    try:
        done = capture([*argv, "--get-regexp", FILTER_KEYS], root, CONFIG_TIMEOUT_S, env=env)
    except OSError:
        return []
    if done is None:
        return []
    if done.returncode not in (0, 1):  # 1: nothing matches
        return None
    return [field for field in done.stdout.decode("utf-8", "surrogateescape").split("\0")
            if field]


def safe_git(git: str, root: Path, *args: str) -> GitCall:
    """`git ARGS` in `root` with every command-running setting off; a filter the repository
    defines is emptied by name (an empty `clean` means none runs), and `required=false`
    keeps git from failing for want of it."""
    base, env = _base(git), git_env()
    pairs = [(f"filter.{name}.{kind}", value) for name in _repository_filters(base, root, env)
             for kind, value in (("clean", ""), ("smudge", ""), ("process", ""),
                                 ("required", "false"))]
    # `-c` splits at the first `=`: a filter named `x=y` would set `filter.x` instead. Those
    # go through GIT_CONFIG_COUNT (git 2.31+), which takes the key whole.
    plain = [arg for key, value in pairs if "=" not in key for arg in ("-c", f"{key}={value}")]
    return GitCall([*base, *plain, *args], _with_config(env, [p for p in pairs if "=" in p[0]]))


def _with_config(env: dict[str, str], pairs: list[tuple[str, str]]) -> dict[str, str]:
    """`env` with `pairs` added after any GIT_CONFIG_KEY_<n> the person's environment has."""
    if not pairs:
        return env
    try:
        count = int(env.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        count = 0
    extra: dict[str, str] = {}
    for index, (key, value) in enumerate(pairs, start=count):
        extra |= {f"GIT_CONFIG_KEY_{index}": key, f"GIT_CONFIG_VALUE_{index}": value}
    return {**env, **extra, "GIT_CONFIG_COUNT": str(count + len(pairs))}
