"""The firmware's own tests (mp_test_*.py) under CPython; tests/test_micropython.py runs the
same functions under MicroPython."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.firmware import mp_suite, vectors_json

CASES = mp_suite.collected()


@pytest.fixture(scope="module")
def vectors(tmp_path_factory) -> Path:
    return vectors_json.write(tmp_path_factory.mktemp("vectors"))


def test_the_suite_covers_crc_codec_vectors_and_queue() -> None:
    assert {path.stem for path, _ in CASES} >= {
        "mp_test_crc", "mp_test_codec", "mp_test_vectors", "mp_test_outq"}
    assert len(CASES) >= 25


@pytest.mark.parametrize(("path", "name"), CASES, ids=[f"{p.stem}::{n}" for p, n in CASES])
def test_under_cpython(path: Path, name: str, vectors: Path) -> None:
    module = mp_suite.load(path)
    if hasattr(module, "VECTORS_PATH"):
        module.VECTORS_PATH = str(vectors_json.DOC_VECTORS)
        module.ENCODINGS_PATH = str(vectors)
    getattr(module, name)()
