"""Jetbox's state handlers, grouped by what they work on: `workspace` (Probe, Done), `model`
(Compact, Plan, Ask), `calls` (Calls, Approve, Wait) and `close` (Reflect, Persist, Pause).
Machine files name them `states.workspace:Probe`; jetbox/engine/usercode.py resolves
`states.` to this package. docs/round.md reads one round through them."""

from jetbox.states import calls, close, model, workspace

__all__ = ["calls", "close", "model", "workspace"]
