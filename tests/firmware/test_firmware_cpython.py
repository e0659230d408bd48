"""Runs the firmware's own tests (mp_test_*.py) under CPython; tests/test_micropython.py
runs the same functions under MicroPython."""

from __future__ import annotations

import mp_test_firmware as _tests  # noqa: E402 (tests/firmware is on sys.path under pytest)
import pytest

NAMES = sorted(name for name in dir(_tests) if name.startswith("test_"))


@pytest.mark.parametrize("name", NAMES)
def test_firmware(name: str) -> None:
    getattr(_tests, name)()
