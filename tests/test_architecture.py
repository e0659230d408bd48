"""The architecture's rules that a grep can keep: one clock, dependencies pointing one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*ROOT.glob("chair/**/*.py"), *ROOT.glob("sim/*.py")])
#: What the simulator may take from the controller's package: the contract (to read the
#: device's lines for the views tests use), the time base, the fault catalogue, the errors.
SIM_MAY_IMPORT = {"chair.protocol", "chair.clock", "chair.limits", "chair.faults",
                  "chair.errors"}
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


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", SOURCES, ids=_name)
def test_dependencies_point_one_way(path: Path) -> None:
    imports = _imports(path)
    if _name(path).startswith("chair/"):
        assert not any(name == "sim" or name.startswith("sim.") for name in imports), \
            "chair must never import sim: reach it through the sim:// URL handler"
    else:
        from_chair = {name for name in imports if name.startswith("chair")}
        assert from_chair <= SIM_MAY_IMPORT, from_chair - SIM_MAY_IMPORT


@pytest.mark.parametrize("path", SOURCES, ids=_name)
def test_time_is_read_only_through_the_clock(path: Path) -> None:
    if _name(path) == "chair/clock.py":
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in TIME_READERS, \
                f"{_name(path)}:{node.lineno} reads the time directly: use chair.clock"


# ----------------------------------------------------------------------- the firmware

FIRMWARE = sorted((ROOT / "firmware").rglob("*.py"))
#: What MicroPython has (and a board's build): the firmware imports these and itself only.
MICROPYTHON_MODULES = {"sys", "time", "math", "json", "micropython", "machine", "select", "gc",
                       "struct", "collections", "io", "os", "errno", "array", "binascii",
                       # a port's own module, imported by the board layer on that port only
                       "rp2", "esp32"}


def _firmware_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in `path`, relative imports made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            found.append((node.lineno, module))
    return found


def test_the_firmware_has_modules() -> None:
    assert len(FIRMWARE) >= 5


@pytest.mark.parametrize("path", FIRMWARE, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_firmware_imports_only_what_micropython_has(path: Path) -> None:
    """No chair, no sim, nothing MicroPython lacks (numpy, dataclasses, enum, typing, re...)."""
    for line, module in _firmware_imports(path):
        top = module.split(".")[0]
        where = f"{path.relative_to(ROOT)}:{line} imports {module}"
        assert top not in ("chair", "sim"), f"{where}: the firmware never imports chair or sim"
        assert top == "firmware" or module in MICROPYTHON_MODULES, \
            f"{where}: not a module MicroPython has ({', '.join(sorted(MICROPYTHON_MODULES))})"


# ----------------------------------------------------------------------- the layout

#: The firmware's parts: their logic lives in firmware/ only.
FIRMWARE_PARTS = ("Wire", "Leases", "Air", "AirWatch", "Heat", "Axes", "Latch", "Limits",
                  "Firmware", "HostDecoder", "OutQueue")
#: The simulator's modules that may build on the firmware: its hardware layer on the plant,
#: the driver that runs it, the test doubles (subclasses of one part each), the relay.
SIM_FIRMWARE_USERS = {"device.py", "hardware.py", "defects.py", "remote.py", "mp_relay.py"}


@pytest.mark.parametrize("path", sorted([*FIRMWARE, *ROOT.glob("sim/*.py")]),
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_module_of_the_firmware_or_the_simulator_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 400, f"{path.relative_to(ROOT)} has {lines} lines: split it by job"


@pytest.mark.parametrize("path", sorted(ROOT.glob("sim/*.py")), ids=lambda p: p.name)
def test_the_simulator_holds_no_device_logic(path: Path) -> None:
    """sim/ is the plant and what runs the firmware on it: no class of its own named like a
    firmware part, no error or fault code decided there, and only the modules listed above
    build on the firmware (the test doubles as subclasses of a part, nothing else)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            assert node.name not in FIRMWARE_PARTS, \
                f"sim/{path.name}:{node.lineno} defines {node.name}: a firmware part"
        if isinstance(node, ast.Attribute) and node.attr.startswith(("E_", "F_")):
            assert path.name == "defects.py", \
                f"sim/{path.name}:{node.lineno} uses the code {node.attr}: device logic"
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    uses_firmware = any(name.split(".")[0] == "firmware" and name != "firmware.chairs"
                        for name in names)  # the chair descriptions are data, for all
    assert not uses_firmware or path.name in SIM_FIRMWARE_USERS, \
        f"sim/{path.name} imports the firmware: only {sorted(SIM_FIRMWARE_USERS)} may"
