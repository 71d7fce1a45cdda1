"""Which tests one xdist worker runs together (`pytest -n auto --dist loadgroup`).

The modules below build per-worker (session-scoped) fixtures too costly to build twice: a
30-round measured run, a wheel and a fresh environment, the clients' imports (litellm's,
langchain's, openai's). pytest 9.2
gives nodes structured ids, and pytest-xdist 3.8's `xdist_group` marks no longer reach its
scheduler (pytest-dev/pytest-xdist#1386): the tests spread over both workers with no error,
each built the fixtures, and two wheel builds in this tree at once failed. So the groups are
declared here, by module, and the scheduler reads them from the node ids it is given."""

from __future__ import annotations

from typing import Any

import pytest

ONE_WORKER = ("tests/test_round.py", "tests/test_packaging.py", "tests/test_clients.py",
              "tests/test_openai_routes.py")


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ByModule(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER else super()._split_scope(nodeid)

    return ByModule(config, log)
