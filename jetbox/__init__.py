"""Jetbox: a tiny local-first coding agent for Ollama, driven by an explicit state machine."""

__version__ = "0.1.0"
