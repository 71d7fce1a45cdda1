"""The small common base of every state handler."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from jetbox.run import Run


class Handler:
    """One state's work.

    `run()` does the state's job and returns an outcome: the trigger that machine.yaml
    maps to the next state. Every value in `outcomes` must have a transition (checked
    before anything runs). A final state's handler returns None. The docstring of each
    handler says what it reads and what it writes.
    """

    outcomes: ClassVar[tuple[str, ...]] = ("next",)

    def run(self, run: Run) -> str | None:
        raise NotImplementedError
