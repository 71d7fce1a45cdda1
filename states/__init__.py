"""A shim for a checkout on sys.path: the handlers are the package `jetbox.states` (installed
under that name only; see pyproject.toml). `import states.model` here gives the very module
`jetbox.states.model`, never a second copy."""

from jetbox.engine.usercode import alias_builtin_states

alias_builtin_states()
