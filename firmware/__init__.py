"""The chair's firmware: MicroPython-compatible code that runs on a bridge board and in the
simulator alike (docs/protocol.md is its contract). It imports nothing from `chair` or `sim`
and nothing MicroPython lacks; see tests/test_architecture.py.
"""
