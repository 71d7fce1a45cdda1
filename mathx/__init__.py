"""mathx: the demo package Jetbox's example goal works on."""


def add(a: float, b: float) -> float:
    """Return the sum of a and b."""
    return a + b
