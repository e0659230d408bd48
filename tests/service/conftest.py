"""Fixtures shared by the tests of `chair serve`'s web side."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def static(tmp_path: Path) -> Path:
    """A page's static folder of two files, beside a file outside it (the traversal target)."""
    (tmp_path / "index.html").write_text("<!doctype html><title>chair</title>")
    (tmp_path / "app.js").write_text("console.log('chair')")
    (tmp_path / "secret.txt").write_text("outside")
    inner = tmp_path / "static"
    inner.mkdir()
    (inner / "index.html").write_text("<!doctype html><title>chair</title>")
    (inner / "app.js").write_text("console.log('chair')")
    return inner
