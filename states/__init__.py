"""Jetbox's state handlers: one class per state of machine.yaml."""
