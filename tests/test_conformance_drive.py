"""The drive stage of `chair conformance`: a short real session on the device's own zones,
as `chair run` drives it. It passes on every simulated chair description, and fails, naming
the step, on a device `chair run` could not drive (home-made bridges with one mistake each,
tests/bridges.py, and plant faults)."""

from __future__ import annotations

import json
import time

import pytest

import chair.conformance
from chair import protocol as p
from chair.cli import main
from chair.ports import open_port
from tests.bridges import Bridge, status_with

VIRTUAL = "sim://?clock=virtual"
COMPACT = "sim://?clock=virtual&chair=compact"
RULE_CHECKS = [c.name for c in chair.conformance.CHECKS if c.name != "drive"]


def drive(capsys, url: str, *args: str) -> tuple[int, dict]:
    code = main(["conformance", url, "--json", "--only", "drive", *args])
    report = json.loads(capsys.readouterr().out)
    assert [r["check"] for r in report["checks"]] == ["drive"]
    return code, report["checks"][0]


def through(monkeypatch: pytest.MonkeyPatch, **mistakes) -> list[Bridge]:
    """Every port conformance opens goes through a `Bridge` with `mistakes`."""
    opened: list[Bridge] = []

    def bridged(url: str, **kwargs) -> Bridge:
        opened.append(Bridge(open_port(url, **kwargs), **mistakes))
        return opened[-1]

    monkeypatch.setattr(chair.conformance, "open_port", bridged)
    return opened


def test_the_drive_is_the_last_check() -> None:
    assert [c.name for c in chair.conformance.CHECKS][-1] == "drive"


@pytest.mark.parametrize("url", [VIRTUAL, COMPACT, f"{VIRTUAL}&proto=1"],
                         ids=["reference", "compact", "protocol-1"])
def test_every_check_passes_on_every_simulated_chair(capsys, url: str) -> None:
    code = main(["conformance", url, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, [r["detail"] for r in report["checks"] if r["result"] != "PASS"]
    assert report["summary"]["passed"] == len(chair.conformance.CHECKS)


def test_the_drive_on_the_reference_chair(capsys) -> None:
    start = time.monotonic()
    code, row = drive(capsys, VIRTUAL)
    assert code == 0 and row["result"] == "PASS", row
    assert time.monotonic() - start < 5.0  # a ~45 s session on the virtual clock
    detail = row["detail"]
    assert detail.startswith("scan: shoulders at ") and "sweep " in detail
    for zone in ("shoulders", "arms", "lumbar", "seat", "calves", "feet"):
        assert f"; {zone} " in detail
    assert "lumbar +1 °C" in detail and "seat +1 °C" in detail
    assert detail.endswith("s") and "parked and safe" in detail
    # each hold outlasts its fill (a hold is not part of the inflation), within what
    # `chair run` allows a seated person: test_the_drive_stays_within_what_chair_run_allows
    first = detail.split("; shoulders ", 1)[1]
    filled, held = (float(x.split(" s")[0]) for x in
                    (first.split(" in ", 1)[1], first.split("held ", 1)[1]))
    assert held > filled


def test_the_drive_on_the_compact_chair_skips_the_scan_saying_so(capsys) -> None:
    code, row = drive(capsys, COMPACT)
    assert code == 0 and row["result"] == "PASS", row
    assert row["detail"].startswith("scan skipped: the banner names no force sensor")
    for zone in ("lumbar", "seat", "calves"):
        assert f"; {zone} " in row["detail"]
    assert "shoulders" not in row["detail"] and "; seat +1" not in row["detail"]


def test_the_drive_leaves_the_device_idle_and_safe(monkeypatch, capsys) -> None:
    opened = through(monkeypatch)
    code, _ = drive(capsys, COMPACT)
    device = opened[0].device
    assert code == 0
    assert device.state == "Idle" and not device.setpoints() and device.report_ms == 0


def test_a_chair_without_heaters_is_driven_without_heat(monkeypatch, capsys) -> None:
    """Issue 12's third bridge (`heaters=` empty): nothing to ramp, and the drive says so."""
    through(monkeypatch, banner=lambda b: status_with(b, heaters=()),
            status=lambda s: status_with(s, heat_c=()))
    code, row = drive(capsys, COMPACT)
    assert code == 0, row
    assert "no heaters (heaters= empty): no heat ramp" in row["detail"]


def _drop(name: str):
    return lambda table: [(n, v) for n, v in table if n != name]


def _extra_zones(table):
    return [("airbag_kpa_max.shoulders", 30.0), ("airbag_kpa_max.arms", 30.0), *table,
            ("airbag_kpa_max.feet", 40.0)]


def _claims_feet(table):
    return [*table, ("airbag_kpa_max.feet", 40.0)]


def _no_feet_bag(command: p.Command) -> p.Command:
    """The bridge answers `AIR feet` ok but has no bag there (a RENEW keeps the line's seq)."""
    if isinstance(command, p.SetAir) and command.zone == "feet":
        return p.Renew(command.lease_ms)
    return command


def _refuse_heat(command: p.Command) -> p.Command:
    if isinstance(command, p.SetHeat) and command.target_c > 0:
        return p.SetHeat("pad", command.target_c, command.lease_ms)  # E03: no such heater
    return command


def _swap(s: p.StatusReport) -> p.StatusReport:
    air = list(s.air_kpa)
    air[0], air[1] = air[1], air[0]
    return status_with(s, air_kpa=tuple(air))


#: mistake -> (URL, the bridge's mistakes, the step that fails, words of the failure)
MISTAKES = {
    "a table lacking a banner zone's cap": (
        COMPACT, {"table": _drop("airbag_kpa_max.calves")}, "connect",
        "no airbag_kpa_max.calves"),
    "a zone the banner names that does not fill": (
        COMPACT, {"banner": lambda b: status_with(b, zones=(*b.zones, "feet")),
                  "table": _claims_feet, "status": lambda s: status_with(
                      s, air_kpa=(*s.air_kpa, 0.0)), "command": _no_feet_bag},
        "airbag feet", "0.0 kPa"),
    "heaters the banner names that refuse HEAT": (
        COMPACT, {"command": _refuse_heat}, "heat lumbar", "E03"),
    "air listed in another order than the banner's zones": (
        COMPACT, {"status": _swap}, "airbag lumbar", "airbag seat at rest"),
    "fewer pressures in the status line than banner zones": (
        COMPACT, {"status": lambda s: status_with(s, air_kpa=s.air_kpa[:2])}, "connect",
        "2 airbag pressures"),
    "a force sensor named that always reads 0": (
        VIRTUAL, {"status": lambda s: status_with(s, force_n=0.0)}, "scan",
        "no force down to"),
    "a seat switch that reads empty once driving": (
        COMPACT, {"status": lambda s: status_with(s, occupied=s.technique == "off")},
        "roller sweep", "occ=0"),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_bridge_chair_run_could_not_drive_fails_the_drive_naming_the_step(
        monkeypatch, capsys, mistake: str) -> None:
    url, mistakes, step, seen = MISTAKES[mistake]
    through(monkeypatch, **mistakes)
    code, row = drive(capsys, url)
    assert code == 3 and row["result"] == "FAIL", row
    assert row["figure"] == f"failed at {step}", row
    assert row["expected"].startswith(f"{step}: ") and seen in row["detail"], row
    assert row["hint"] and row["detail"].startswith(f"expected {step}: ")


@pytest.mark.parametrize(("fault", "step", "seen"), [
    ("thermistor-loose@0", "heat lumbar", "!F09 heat-runaway"),
    ("vent-stuck-closed@0", "airbag shoulders", "kPa"),  # our vent curve, before F19
    ("pressure-sensor-stuck@0", "airbag shoulders", "!F06 inflate-timeout"),
    ("roller-stall@0", "scan", "!F12 overcurrent"),
    ("occupant-leaves@20", "airbag seat", "!F16 vacant"),
])
def test_a_plant_fault_fails_the_drive_at_its_step(capsys, fault: str, step: str,
                                                   seen: str) -> None:
    code, row = drive(capsys, f"{VIRTUAL}&fault={fault}")
    assert code == 3 and row["figure"] == f"failed at {step}", row
    assert seen in row["seen"]


def test_nobody_seated_skips_the_drive(capsys) -> None:
    code, row = drive(capsys, f"{COMPACT}&seated=0")
    assert code == 3 and row["result"] == "SKIP" and "nobody seated" in row["detail"]


def test_the_rules_checks_pass_on_the_compact_chair_with_its_own_probes(capsys) -> None:
    """Without foot rollers the probes knead with the roller heads, and the limits check
    does not ask for foot_speed_max."""
    code = main(["conformance", COMPACT, "--json", *(a for n in RULE_CHECKS
                                                      for a in ("--only", n))])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, [r["detail"] for r in report["checks"] if r["result"] != "PASS"]
    rows = {r["check"]: r for r in report["checks"]}
    assert "foot" not in rows["lease"]["detail"]
    assert rows["range"]["figure"] == "10 refused"  # 3 zones, 1 heater, 3 roller, 2 lease, track


def test_no_module_of_the_package_is_over_400_lines() -> None:
    from pathlib import Path

    package = Path(chair.conformance.__file__).parent
    sizes = {f.name: len(f.read_text(encoding="utf-8").splitlines())
             for f in package.glob("*.py")}
    assert len(sizes) >= 6 and max(sizes.values()) <= 400, sizes


def test_chair_run_agrees_with_the_drive_on_the_compact_chair(capsys) -> None:
    """The drive passes on the compact chair; so must `chair run` (issue 12: both pass, or
    both fail naming the reason), given the person's height (no force sensor)."""
    assert drive(capsys, COMPACT)[0] == 0
    assert main(["run", "lumbar", "--fast", "--port", "sim://?chair=compact", "--height",
                 "175", "--no-profile"]) == 0


def test_a_table_whose_airbag_cap_breaks_the_rule_fails_the_limits_check(monkeypatch,
                                                                           capsys) -> None:
    """A bridge that reports a 90 kPa lumbar cap with a valid CRC: the limits check names
    the zone's cap and the rule (found by the tester: only eight figures were checked)."""
    def ninety(table):
        return [(n, 90.0 if n == "airbag_kpa_max.lumbar" else v) for n, v in table]

    through(monkeypatch, table=ninety)
    main(["conformance", "sim://?clock=virtual", "--json", "--only", "limits"])
    report = json.loads(capsys.readouterr().out)
    row = report["checks"][0]
    assert row["result"] == "FAIL", row
    assert "airbag_kpa_max.lumbar=90 breaks the rule (max 40)" in row["detail"], row


def test_a_full_table_on_a_smaller_chair_is_driven_by_both(monkeypatch, capsys) -> None:
    """Issue 12's second bridge: three zones in the banner, the reference chair's whole
    table: harmless now that the host keys zones by the banner's names, so the drive and
    `chair run` both pass."""
    import chair.runner

    through(monkeypatch, table=_extra_zones)
    assert drive(capsys, COMPACT)[0] == 0
    monkeypatch.setattr(chair.runner, "open_port",
                        lambda url, **kw: Bridge(open_port(url, **kw), table=_extra_zones))
    assert main(["run", "lumbar", "--fast", "--port", COMPACT, "--height", "175",
                 "--no-profile"]) == 0


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_chair_run_fails_on_each_bridge_the_drive_fails(monkeypatch, capsys,
                                                         mistake: str) -> None:
    """Issue 12: on a bridge written from the docs alone, conformance and `chair run` agree:
    where the drive fails, `chair run lumbar --fast` fails too, with a fault or a refusal,
    never a completed session or a crash."""
    import chair.runner

    url, mistakes, step, _ = MISTAKES[mistake]

    def bridged(port_url: str, **kwargs) -> Bridge:
        return Bridge(open_port(port_url, **kwargs), **mistakes)

    monkeypatch.setattr(chair.runner, "open_port", bridged)
    height = ["--height", "175", "--no-profile"] if url == COMPACT else []
    program = "sciatica" if step == "airbag feet" else "lumbar"  # one that uses the part
    code = main(["run", program, "--fast", "--port", url, *height])
    out = capsys.readouterr()
    assert code in (2, 3, 4), f"{mistake}: chair run exited {code}\n{out.out[-800:]}{out.err}"


@pytest.mark.parametrize("url", [VIRTUAL, COMPACT])
def test_the_drive_stays_within_what_chair_run_allows(capsys, url: str) -> None:
    """On a seated person the drive fills no bag above `chair run`'s default cap for it
    (8 kPa on calves and feet) and fills plus holds none longer than airbag_hold_s_max
    (found by the tester: 12 kPa calves and an 11 s fill and hold)."""
    import re

    from chair.caps import make_caps
    from chair.limits import HOST

    code, row = drive(capsys, url)
    assert code == 0, row
    cycles = re.findall(r"(\w+) ([\d.]+) kPa in ([\d.]+) s, held ([\d.]+) s", row["detail"])
    assert cycles, row["detail"]
    caps = make_caps(chair.limits.DEVICE).airbag_kpa
    for zone, kpa, fill_s, hold_s in cycles:
        assert float(kpa) <= caps.get(zone, 28.0), (zone, kpa)
        assert float(fill_s) + float(hold_s) <= HOST["airbag_hold_s_max"] + 0.05, zone
