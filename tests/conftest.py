"""Fixtures shared by the test files."""

from __future__ import annotations

import pytest

from chair import runner


@pytest.fixture
def ports(monkeypatch) -> list:
    """Every port the runner opens (none when an error comes first), kept for inspection."""
    opened: list = []
    real = runner.open_port

    def keep(url: str, **kwargs):
        port = real(url, **kwargs)
        opened.append(port)
        return port

    monkeypatch.setattr(runner, "open_port", keep)
    return opened
