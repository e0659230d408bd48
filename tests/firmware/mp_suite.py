"""The firmware's own tests (tests/firmware/mp_test_*.py): found, loaded and listed here for
both harnesses, CPython (test_fw_mp_suite.py) and MicroPython (tests/test_micropython.py).

An mp_test file imports only `firmware.*` and modules MicroPython has; its tests are plain
`test_*` functions that use `assert` and nothing of pytest.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
FILES = sorted(HERE.glob("mp_test_*.py"))


def load(path: Path) -> ModuleType:
    """The mp_test module at `path`, imported under its own name."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tests(module: ModuleType) -> list[str]:
    """The names of `module`'s test functions, in file order."""
    return [name for name, value in vars(module).items()
            if name.startswith("test_") and callable(value)]


def collected() -> list[tuple[Path, str]]:
    """Every (file, test name) of the suite."""
    return [(path, name) for path in FILES for name in tests(load(path))]
