"""Jetbox's state handlers: one class per state of machine.yaml. Machine files name them
`states.probe:Probe`; jetbox/engine/usercode.py resolves `states.` to this package."""
