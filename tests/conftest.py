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


@pytest.fixture(autouse=True, scope="session")
def _own_config_home(tmp_path_factory):
    """No test reads or writes the user's own profile (~/.config/chair, chair.profile): the
    whole session gets its own $XDG_CONFIG_HOME (a test that needs an empty one sets its
    own)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    yield
    patch.undo()
