"""A shim for a checkout on sys.path: the handlers are the package `jetbox.states` (installed
under that name only; see pyproject.toml). `import states.act` here gives the very module
`jetbox.states.act`, never a second copy."""

from jetbox.engine.usercode import alias_builtin_states

alias_builtin_states()
