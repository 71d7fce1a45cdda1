"""engine/start.py holds everything from `jetbox run`'s command line to the first round, and
`status` and `graph` use its machine-file helpers: importing it must load no model client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("httpx", "ollama", "pydantic")


def test_the_start_module_loads_no_model_client() -> None:
    code = ("import sys; import jetbox.engine.start; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
