"""Issue 23: probes between edits run what a change can affect (jetbox/probes/select.py and
focused.py); the whole suite at the start and to verify a finish."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetbox.probes.focused import FocusedProber
from jetbox.probes.runner import ProbeSpec
from jetbox.probes.select import affected_tests, focus, import_graph, imports_of, merged

PYTEST = (ProbeSpec("pytest", ("pytest", "-q"), "pytest"),)


def project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text('"""pkg."""\n')
    (root / "pkg" / "core.py").write_text("def one():\n    return 1\n")
    (root / "pkg" / "api.py").write_text("from .core import one\n\n\ndef two():\n"
                                         "    return one() + 1\n")
    (root / "pkg" / "other.py").write_text("def three():\n    return 3\n")
    (root / "tests" / "test_api.py").write_text("from pkg.api import two\n\n\n"
                                                "def test_two():\n    assert two() == 2\n")
    (root / "tests" / "test_other.py").write_text("from pkg import other\n\n\n"
                                                  "def test_three():\n"
                                                  "    assert other.three() == 3\n")
    return root


FILES = ["pkg/__init__.py", "pkg/api.py", "pkg/core.py", "pkg/other.py", "tests/test_api.py",
         "tests/test_other.py"]


def test_imports_are_read_relative_and_absolute() -> None:
    assert imports_of("pkg/api.py", "from .core import one\nimport os, json as j\n") >= \
        {"pkg.core", "pkg.core.one", "os", "json"}
    assert "pkg.other" in imports_of("tests/t.py", "from pkg import other\n")


def test_a_change_selects_the_tests_that_import_it_through_other_modules(
        tmp_path: Path) -> None:
    graph = import_graph(project(tmp_path), FILES)
    assert affected_tests(graph, {"pkg/core.py"}) == {"tests/test_api.py"}
    assert affected_tests(graph, {"pkg/other.py"}) == {"tests/test_other.py"}
    assert affected_tests(graph, {"tests/test_api.py"}) == {"tests/test_api.py"}
    chosen = focus(tmp_path, FILES, {"pkg/core.py"}, ["tests/test_other.py::test_three"])
    assert chosen is not None and chosen.failing == ("tests/test_other.py::test_three",)
    assert focus(tmp_path, [*FILES, "conftest.py"], {"conftest.py"}, ()) is None


def test_outcomes_not_run_are_carried_and_a_vanished_test_is_gone() -> None:
    before = {"a.py::x": "passed", "a.py::y": "passed", "b.py::z": "failed"}
    assert merged(before, {"a.py::x": "failed"}, ["a.py"]) == \
        {"b.py::z": "failed", "a.py::x": "failed"}
    assert merged(before, {"b.py::z": "passed"}, ["b.py::z"]) == {**before, "b.py::z": "passed"}


@pytest.mark.slow
def test_after_an_edit_only_the_affected_tests_run_and_the_rest_is_carried(
        tmp_path: Path) -> None:
    root = project(tmp_path)
    prober = FocusedProber(root, PYTEST, sandbox="none")
    first = prober.run(None)
    assert set(first.checks[0].outcomes) == {"tests/test_api.py::test_two",
                                             "tests/test_other.py::test_three"}
    (root / "pkg" / "core.py").write_text("def one():\n    return 5\n")
    second = prober.run(first, reuse=True, full=False)
    check = second.checks[0]
    assert check.outcomes == {"tests/test_api.py::test_two": "failed",
                              "tests/test_other.py::test_three": "passed"}
    assert not check.ok and "1 run now" in check.summary
    (root / "pkg" / "other.py").write_text("def three():\n    return 4\n")
    # The failing test first; it still fails, so the verdict is red: the rest waits.
    third = prober.run(second, reuse=True, full=False,
                       failing=["tests/test_api.py::test_two"])
    assert third.checks[0].outcomes["tests/test_other.py::test_three"] == "passed"
    assert "1 run now" in third.checks[0].summary
    full = prober.run(third, reuse=False)  # a finish is verified on the whole suite
    assert full.checks[0].outcomes["tests/test_other.py::test_three"] == "failed"
    assert "run now" not in full.checks[0].summary


def test_a_probe_that_names_its_own_paths_never_runs_tests_outside_them(tmp_path: Path) -> None:
    root = project(tmp_path)
    spec = (ProbeSpec("pytest", ("pytest", "-q", "tests/test_api.py"), "pytest"),)
    prober = FocusedProber(root, spec, sandbox="none")
    first = prober.run(None)
    assert set(first.checks[0].outcomes) == {"tests/test_api.py::test_two"}
    (root / "pkg" / "other.py").write_text("def three():\n    return 4\n")
    (root / "tests" / "test_new.py").write_text("def test_new():\n    assert True\n")
    second = prober.run(first, reuse=True, full=False)
    assert set(second.checks[0].outcomes) == {"tests/test_api.py::test_two"}
