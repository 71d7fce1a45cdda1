"""Shared by the benchmarks: percentiles, result files, and in-process scripted runs."""

from __future__ import annotations

import io
import json
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def machine_info() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}", "machine": platform.machine()}


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def stats_ms(values: Sequence[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(values) * 1000, 3),
            "p95_ms": round(percentile(values, 0.95) * 1000, 3), "n": len(values)}


def save(name: str, payload: dict[str, Any]) -> None:
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps({**payload, "machine": machine_info()},
                                                 indent=2))


def machine_without_probes(folder: Path) -> Path:
    """The default machine.yaml with `probes: []`: Done needs only a finish."""
    text = (ROOT / "jetbox/machine.yaml").read_text(encoding="utf-8")
    start = text.index("probes:")
    path = folder / "machine.yaml"
    path.write_text(text[:start] + "probes: []\n", encoding="utf-8")
    return path


def scripted_run(workspace: Path, steps: list[Any], machine: Path | None = None,
                 **settings: Any) -> list[dict[str, Any]]:
    """Run the real engine in-process with a ScriptedModel; return the ledger records."""
    from jetbox.engine.drive import execute
    from jetbox.engine.start import RunRequest, open_run
    from jetbox.model.base import ScriptedModel

    model = ScriptedModel(steps)
    request = RunRequest("benchmark goal", workspace, machine, cli_settings={
        "sandbox": "none", "loop_limit": 10_000, "stall_limit": 10_000, **settings},
        quiet=True)
    engine = open_run(request, {}, ROOT, io.StringIO(),
                    model_factory=lambda s, d: lambda: model)
    execute(engine)
    lines = (workspace / "agent_ledger.log").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]
