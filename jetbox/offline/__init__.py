"""An offline Ollama: a loopback server that speaks Ollama's API and replies from a script.

Tests drive the real `ollama` client against it; users can try a customised machine.yaml
with it on a machine without a GPU. Behaviour follows Ollama's routes.go as described in
shared/ollama-api.md: status codes, error bodies, NDJSON streams with no blank lines,
metrics on the final chunk, tool calls mid-stream or only in the final chunk (gpt-oss).

This module is the public entry point; the code lives in offline_script (the script types),
offline_wire (chunks and NDJSON lines), offline_routes (the HTTP handler) and
offline_server (OfflineOllama).
"""

from __future__ import annotations

from jetbox.offline.script import Call, ChatRequest, FakeModel, Responder, ScriptResponder, Turn
from jetbox.offline.server import OfflineOllama
from jetbox.offline.wire import plan_chunks

# Everything jetbox.offline offered before the split, so existing imports keep working.
__all__ = ["Call", "ChatRequest", "FakeModel", "OfflineOllama", "Responder",
           "ScriptResponder", "Turn", "plan_chunks"]
