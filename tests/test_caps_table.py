"""The host's caps are one table (`chair.limits.HOST_TABLE`) with one check (`over_cap`),
and each cap is checked once per channel: the program validator before anything moves, the
supervisor while the chair runs (issue 12 item 7). The guards read the source (as
tests/test_architecture.py does), so a second copy of a rule fails here."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from chair import limits
from chair.limits import DEVICE, HOST, HOST_TABLE, cap, over_cap

ROOT = Path(__file__).resolve().parents[1]
CHAIR = sorted((ROOT / "chair").rglob("*.py"))
#: The caps a rule compares against (the others are settings: defaults, lease, timeout).
CAP_NAMES = {limit.name for limit in HOST_TABLE if "_max" in limit.name}


# ----------------------------------------------------------------------- the table

def test_host_is_the_table_and_every_entry_says_its_unit_source_and_meaning() -> None:
    names = [limit.name for limit in HOST_TABLE]
    assert len(names) == len(set(names))
    assert {limit.name: limit.value for limit in HOST_TABLE} == HOST
    for limit in HOST_TABLE:
        assert limit.unit and limit.source and limit.meaning, limit.name


def test_the_values_are_the_ones_the_project_has_always_had() -> None:
    """A refactor of the table changes no cap (docs/safety.md, "The controller's caps")."""
    assert HOST["roller_depth_max"] == 4
    assert HOST["airbag_hold_s_max"] == 8.0
    assert HOST["airbag_held_s_max"] == 20.0
    assert HOST["airbag_duty_max"] == 0.65
    assert HOST["heat_target_c_max"] == 40.0
    assert HOST["heat_c_max"] == 43.0
    assert HOST["session_s_max"] == 1800.0
    assert HOST["roller_dwell_s_max"] == 90.0
    assert [HOST[f"airbag_kpa_max.{z}"] for z in limits.ZONES] == [24, 24, 28, 28, 32, 32]


# ----------------------------------------------------------------------- cap, over_cap

def test_cap_is_the_hosts_never_above_the_devices() -> None:
    assert cap("roller_depth_max") == 4
    assert cap("airbag_hold_s_max") == 8.0
    assert cap("roller_depth_max", {**DEVICE, "roller_depth_max": 3}) == 3
    assert cap("airbag_hold_s_max", {**DEVICE, "airbag_inflate_s_max": 6}) == 6
    assert cap("session_s_max", {**DEVICE, "session_s_max": 600}) == 600
    assert cap("roller_dwell_s_max", {}) == 90.0  # the controller's alone


def test_cap_of_an_absent_device_entry() -> None:
    assert cap("heat_target_c_max", {}, absent=0.0) == 0.0
    assert cap("heat_c_max", {}, absent=math.inf) == 43.0
    with pytest.raises(KeyError):
        cap("heat_c_max", {})
    with pytest.raises(KeyError):
        cap("no_such_cap")


def test_cap_of_a_zone_the_host_does_not_name_is_derived_from_the_devices() -> None:
    assert cap("airbag_kpa_max.neck", {"airbag_kpa_max.neck": 20}) == 16.0
    assert cap("airbag_kpa_max.lumbar", {"airbag_kpa_max.lumbar": 20}) == 20


def test_over_cap_is_empty_within_the_cap_and_says_why_above_it() -> None:
    assert over_cap("airbag_hold_s_max", 8.0) == ""
    assert over_cap("airbag_hold_s_max", 10) == \
        "10 s is over the 8 s an airbag may stay filled in one cycle"
    assert over_cap("roller_depth_max", 4) == ""
    assert over_cap("roller_depth_max", 5) == "5 is over the 4 steps deep the controller allows"
    assert over_cap("heat_c_max", 41.5, 40) == \
        "41.5 °C is over the 40 °C surface temperature cut-off"
    assert over_cap("airbag_kpa_max.neck", 30, 16) != ""
    with pytest.raises(KeyError):
        over_cap("no_such_cap", 1)


def test_over_cap_gives_every_cap_a_sentence() -> None:
    for name in CAP_NAMES:
        said = over_cap(name, cap(name) + 1)
        assert said.startswith(f"{cap(name) + 1:g}") and f"over the {cap(name):g}" in said


# ----------------------------------------------------------------------- the guards

def _trees() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in CHAIR]


def _host_cap_key(node: ast.AST) -> str | None:
    """The cap name of `HOST["name"]` / `limits.HOST["name"]` / `HOST.get("name", ...)`."""
    def is_host(value: ast.AST) -> bool:
        return (isinstance(value, ast.Name) and value.id == "HOST") or \
            (isinstance(value, ast.Attribute) and value.attr == "HOST")
    key = None
    if isinstance(node, ast.Subscript) and is_host(node.value):
        key = node.slice
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            node.func.attr == "get" and is_host(node.func.value) and node.args:
        key = node.args[0]
    if isinstance(key, ast.Constant) and key.value in CAP_NAMES:
        return key.value
    return None


def _functions(tree: ast.Module):
    """(qualified name, node) of every function, and ('<module>', tree) for the rest."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    found.append((name, child))
                visit(child, f"{name}.")
            else:
                visit(child, prefix)
    visit(tree, "")
    return found


def test_a_host_cap_is_read_only_through_cap_outside_the_table() -> None:
    """No `min(HOST[...], DEVICE[...])` or `x > HOST[...]` anywhere but chair/limits.py:
    the cap in force (never above the device's) is `limits.cap`, the check `over_cap`."""
    for path, tree in _trees():
        if path.name == "limits.py" and path.parent.name == "chair":
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare | ast.Call):
                continue
            if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name)
                                                   and node.func.id in ("min", "max")):
                continue
            for inner in ast.walk(node):
                name = _host_cap_key(inner)
                assert name is None, f"{path.relative_to(ROOT)}:{inner.lineno} compares " \
                                     f"HOST[{name!r}] itself: use limits.cap / over_cap"


def _is_filled_sum(node: ast.AST) -> bool:
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)):
        return False
    attrs = {side.attr for side in (node.left, node.right) if isinstance(side, ast.Attribute)}
    return attrs == {"inflate_s", "hold_s"}


def test_inflate_plus_hold_is_added_in_one_place() -> None:
    """`inflate_s + hold_s`, what airbag_hold_s_max caps, is `chair.airtime.filled_s`."""
    sites = [(path.relative_to(ROOT).as_posix(), name)
             for path, tree in _trees() for name, func in _functions(tree)
             for node in ast.walk(func) if _is_filled_sum(node)]
    assert sorted(set(sites)) == [("chair/airtime.py", "filled_s")], sites


def _over_cap_sites() -> dict[str, set[str]]:
    sites: dict[str, set[str]] = {}
    for path, tree in _trees():
        for name, func in _functions(tree):
            for node in ast.walk(func):
                if isinstance(node, ast.Call) and (
                        getattr(node.func, "id", None) == "over_cap"
                        or getattr(node.func, "attr", None) == "over_cap") and node.args \
                        and isinstance(node.args[0], ast.Constant):
                    sites.setdefault(node.args[0].value, set()).add(
                        f"{path.relative_to(ROOT).as_posix()}:{name}")
    return sites


def test_each_cap_is_checked_by_one_function_before_a_run() -> None:
    """The program validator's channel: each cap it checks with `over_cap` is checked in
    one function (the parser and chair.caps.check_program both call it)."""
    sites = _over_cap_sites()
    assert sites == {
        "roller_depth_max": {"chair/caps.py:check_program"},
        "airbag_hold_s_max": {"chair/airtime.py:over_filled"},
        "airbag_held_s_max": {"chair/caps.py:check_program"},
    }


#: The supervisor's channel: the run's caps (chair.caps.Caps) it compares, and the one
#: function that compares each.
SUPERVISOR = {"airbag_kpa": "chair/safety.py:Supervisor._air_fault",
              "heat_c_max": "chair/heatwatch.py:HeatWatch._check_heat",
              "heat_target_c": "chair/safety.py:Supervisor.heat_c",
              "dwell_s_max": "chair/safety.py:Supervisor._check_roller",
              "session_s": "chair/running.py:RunSteps._tick_running"}


def test_each_run_cap_is_compared_by_one_function_while_running() -> None:
    found: dict[str, set[str]] = {}
    for path, tree in _trees():
        if path.name not in ("safety.py", "heatwatch.py", "controller.py", "scanpark.py",
                             "running.py") \
                or path.parent.name != "chair":  # the supervisor and the controller
            continue
        for name, func in _functions(tree):
            for node in ast.walk(func):
                if not isinstance(node, ast.Compare):
                    continue
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Attribute) and inner.attr in SUPERVISOR and \
                            isinstance(inner.value, ast.Attribute) and inner.value.attr == "caps":
                        found.setdefault(inner.attr, set()).add(
                            f"{path.relative_to(ROOT).as_posix()}:{name}")
    assert found == {field: {site} for field, site in SUPERVISOR.items()}
