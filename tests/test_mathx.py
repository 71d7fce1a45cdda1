"""The demo package's own tests (the seed's example goal)."""

from mathx import add


def test_add_integers() -> None:
    assert add(2, 3) == 5


def test_add_negative_and_float() -> None:
    assert add(-1, 0.5) == -0.5
