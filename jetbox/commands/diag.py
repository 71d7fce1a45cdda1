"""`jetbox diag`: is the server up, is the model there, and how fast is it here."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any, TextIO

from jetbox.core.errors import JetboxError
from jetbox.core.text import counted
from jetbox.model.host import JETBOX_SERVER, check_model, parse_host, server_version
from jetbox.spec.runtime import settings_here

HELP = "check the Ollama server and model, and time a few short chats"
DESCRIPTION = """\
Checks that the Ollama server answers (and its version), that the model is present (listing
what is, if not), its capabilities and context length, then times N short chats: load time,
time to first token, prompt and generation tokens per second, total; then N short chats with
Jetbox's tools, saying how the model delivered its calls (native tool calls, leaked into its
text in a dialect Jetbox reads, the JSON protocol, or not at all, and why). Exit 4 when the
server or the model is missing."""
PROMPT = "Reply with the single word: ready"
CALL_PROMPT = 'Call the list_dir tool with {"path": "."} to see the project.'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--model", help="model (default: as `jetbox run` here: "
                                              "$JETBOX_MODEL, [tool.jetbox], gpt-oss:20b)")
    parser.add_argument("--host", help="server (default: as `jetbox run` here: $JETBOX_HOST, "
                                       "$OLLAMA_HOST, [tool.jetbox], 127.0.0.1:11434)")
    parser.add_argument("-n", "--count", type=int, default=3, help="chats to time (default 3)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import ollama

    # The model and server `run` would use here: flags, JETBOX_*, [tool.jetbox], machine.yaml.
    settings = settings_here(Path.cwd(), os.environ, {"model": args.model, "host": args.host})
    model, address = settings.model, parse_host(settings.host)
    host = address.url
    client = ollama.Client(host=host, timeout=args.timeout)
    version, server = server_version(address)
    report: dict[str, Any] = {"host": host, "model": model, "version": version,
                              "server": server}
    check_model(address, model, args.timeout)
    shown = client.show(model)
    info = dict(shown.modelinfo or {})
    report["capabilities"] = list(shown.capabilities or [])
    report["context_length"] = next((v for k, v in info.items()
                                     if k.endswith(".context_length")), None)
    report["runs"] = [time_chat(client, model) for _ in range(max(args.count, 1))]
    report["summary"] = summarize(report["runs"])
    report["calls"] = [call_chat(model, host, args.timeout) for _ in range(max(args.count, 1))]
    out.write(json.dumps(report, indent=2) + "\n" if args.json else render(report))
    return 0


def time_chat(client: Any, model: str) -> dict[str, float]:
    """One short streamed chat: wall times measured here, the rest from Ollama's metrics."""
    started = time.monotonic()
    first = 0.0
    final: Any = None
    for chunk in client.chat(model=model, messages=[{"role": "user", "content": PROMPT}],
                             stream=True, options={"num_predict": 32}):
        if not first and (chunk.message.content or chunk.message.thinking):
            first = time.monotonic() - started
        if chunk.done:
            final = chunk
    seconds = lambda ns: (ns or 0) / 1e9  # noqa: E731 - Ollama reports nanoseconds
    prompt_s, eval_s = seconds(final.prompt_eval_duration), seconds(final.eval_duration)
    return {
        "load_s": seconds(final.load_duration),
        "first_token_s": first or time.monotonic() - started,
        "prompt_tokens_per_s": (final.prompt_eval_count or 0) / prompt_s if prompt_s else 0.0,
        "generation_tokens_per_s": (final.eval_count or 0) / eval_s if eval_s else 0.0,
        "total_s": time.monotonic() - started,
    }


def call_chat(model: str, host: str, timeout_s: float) -> dict[str, Any]:
    """One short chat with Jetbox's tools, through the same path a run uses: how the calls
    arrived (ModelReply.delivery) and, if none could run, why."""
    from jetbox.model.ollama import ModelOptions, OllamaModel
    from jetbox.tools.schemas import tool_specs

    chat = OllamaModel(ModelOptions(model, host, timeout_s, {"num_predict": 256}, retries=0))
    try:
        reply = chat.chat([{"role": "user", "content": CALL_PROMPT}], tool_specs())
    except JetboxError as exc:
        return {"delivery": "failed", "calls": [], "problem": str(exc)}
    return {"delivery": reply.delivery or "none", "calls": [c.name for c in reply.calls],
            "problem": reply.problem}


def delivery_lines(calls: list[dict[str, Any]]) -> list[str]:
    """`calls    native 3/3`, one line per way the calls came, and the first problem."""
    counts: dict[str, int] = {}
    for item in calls:
        counts[item["delivery"]] = counts.get(item["delivery"], 0) + 1
    lines = [f"{'calls' if i == 0 else '':8} {way} {n}/{len(calls)}"
             for i, (way, n) in enumerate(counts.items())]
    problem = next((c["problem"] for c in calls if c["problem"]), "")
    return lines + ([f"{'':8} told the model: {problem}"] if problem else [])


def summarize(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {key: {"min": min(r[key] for r in runs), "median": statistics.median(
        r[key] for r in runs), "max": max(r[key] for r in runs)} for key in runs[0]}


def render(report: dict[str, Any]) -> str:
    what = (f"{JETBOX_SERVER}, not a real Ollama; it speaks Ollama {report['version']}'s API"
            if report.get("server") == JETBOX_SERVER else f"Ollama {report['version']}")
    lines = [f"server   {report['host']} ({what})",
             f"model    {report['model']}: capabilities {', '.join(report['capabilities'])}; "
             f"context length {report['context_length']}",
             f"timings  {counted(len(report['runs']), 'chat')} of one short prompt", "",
             f"{'':24} {'min':>9} {'median':>9} {'max':>9}"]
    for key, stats in report["summary"].items():
        lines.append(f"{key:24} {stats['min']:>9.3f} {stats['median']:>9.3f} "
                     f"{stats['max']:>9.3f}")
    if report.get("calls"):
        lines += ["", *delivery_lines(report["calls"])]
    return "\n".join(lines) + "\n"
