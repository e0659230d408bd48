"""The architecture's rules that a grep can keep: one clock, dependencies pointing one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*ROOT.glob("chair/*.py"), *ROOT.glob("sim/*.py")])
#: What the simulator may take from the controller's package: the contract and the time base
#: (chair.linequeue: the bounded, fault-first line buffer of docs/protocol.md §11.1, a plain
#: data structure the device's transmit buffer and the pty/TCP servers share).
SIM_MAY_IMPORT = {"chair.protocol", "chair.clock", "chair.limits", "chair.faults",
                  "chair.errors", "chair.linequeue"}
TIME_READERS = {("time", "sleep"), ("time", "monotonic"), ("time", "time"),
                ("time", "perf_counter"), ("time", "monotonic_ns"), ("datetime", "now")}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if node.module in ("chair", "sim"))
            if node.module not in ("chair", "sim"):
                found.add(node.module)
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_dependencies_point_one_way(path: Path) -> None:
    imports = _imports(path)
    if path.parent.name == "chair":
        assert not any(name == "sim" or name.startswith("sim.") for name in imports), \
            "chair must never import sim: reach it through the sim:// URL handler"
    else:
        from_chair = {name for name in imports if name.startswith("chair")}
        assert from_chair <= SIM_MAY_IMPORT, from_chair - SIM_MAY_IMPORT


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_time_is_read_only_through_the_clock(path: Path) -> None:
    if path.name == "clock.py":
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in TIME_READERS, \
                f"{path.name}:{node.lineno} reads the time directly: use chair.clock"
