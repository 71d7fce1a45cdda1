"""Jetbox's state handlers, grouped by what they work on: `workspace` (Probe, Done), `model`
(Compact, Plan, Ask), `calls` (Calls, Approve, Wait) and `close` (Reflect, Persist, Pause).
Machine files name them `states.workspace:Probe`; jetbox/engine/usercode.py resolves
`states.` to this package. docs/round.md reads one round through them."""

import sys

from jetbox.states import calls, close, model, workspace

# The one-handler modules the handlers lived in before they were grouped: a person's
# machine.yaml may name `states.probe:Probe`, their handler `from states.done import Done`.
# Each maps to the module that holds that handler now.
FORMER_MODULES = {"probe": "workspace", "done": "workspace", "compact": "model",
                  "plan": "model", "approve": "calls", "reflect": "close", "persist": "close",
                  "pause": "close"}
for _former, _now in FORMER_MODULES.items():  # `import states.done` then `states.done.Done`
    globals()[_former] = sys.modules.setdefault(f"{__name__}.{_former}",
                                                sys.modules[f"{__name__}.{_now}"])
__all__ = ["calls", "close", "model", "workspace"]
