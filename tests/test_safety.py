"""The host's caps and the supervisor's plausibility checks."""

from __future__ import annotations

import dataclasses

import pytest

from chair import protocol as p
from chair.caps import CAUTIONS, check_program, make_caps
from chair.errors import ProgramError, UsageError
from chair.limits import DEVICE, DEVICE_TABLE, DEVICE_TABLE_CRC, HOST, ZONES, table_crc
from chair.safety import Supervisor


def status(**changes) -> p.StatusReport:
    base = p.StatusReport("Run", 0.0, 300.0, "knead", 2, 2, 3, 40.0, (0.0,) * 6, (30.0, 30.0),
                          0, 0.0, 0.0, True, False, ())
    return dataclasses.replace(base, **changes)


def test_limits_table_crc_matches_what_the_firmware_was_built_with() -> None:
    assert table_crc(DEVICE_TABLE) == DEVICE_TABLE_CRC


def test_host_caps_never_above_device_caps() -> None:
    shared = [name for name in HOST if name in DEVICE]
    assert shared, "host and device tables share no names"
    for name in shared:
        assert HOST[name] <= DEVICE[name], name
    caps = make_caps(DEVICE)
    for zone in ZONES:
        assert caps.airbag_kpa[zone] <= DEVICE[f"airbag_kpa_max.{zone}"]
    assert caps.heat_c_max <= DEVICE["heat_c_max"]
    assert caps.heat_target_c <= DEVICE["heat_target_c_max"]
    assert caps.session_s <= DEVICE["session_s_max"]


def test_device_with_lower_caps_lowers_the_host_caps() -> None:
    device = {**DEVICE, "airbag_kpa_max.lumbar": 10.0, "roller_depth_max": 2}
    caps = make_caps(device)
    assert caps.airbag_kpa["lumbar"] == 10.0
    assert max(caps.depth_max.values()) == 2


def test_herniated_disc_lowers_lumbar_and_gluteal_caps() -> None:
    plain, careful = make_caps(DEVICE), make_caps(DEVICE, cautions=("herniated-disc",))
    assert careful.airbag_kpa["lumbar"] < plain.airbag_kpa["lumbar"]
    assert careful.airbag_kpa["seat"] < plain.airbag_kpa["seat"]
    assert careful.airbag_kpa["calves"] == plain.airbag_kpa["calves"]
    for zone in ("lumbar", "gluteal", "piriformis"):
        assert careful.depth_max[zone] < plain.depth_max[zone]
    assert "tap" in careful.banned_techniques
    assert careful.header()["airbag_kpa_max"]["lumbar"] == careful.airbag_kpa["lumbar"]


def test_neuropathy_turns_heat_off() -> None:
    sup = Supervisor(make_caps(DEVICE, cautions=("neuropathy",)))
    assert sup.heat_c(3) == 0.0


@pytest.mark.parametrize("kwargs", [{"intensity": 0}, {"intensity": 6}, {"minutes": 31},
                                    {"minutes": 0}, {"cautions": ("pregnant-ish",)}])
def test_bad_user_choices_are_usage_errors(kwargs) -> None:
    with pytest.raises(UsageError):
        make_caps(DEVICE, **kwargs)


def test_intensity_caps_levels_and_depth() -> None:
    sup = Supervisor(make_caps(DEVICE, intensity=2))
    assert sup.air_kpa("lumbar", 5) == sup.air_kpa("lumbar", 2)
    assert sup.depth("gluteal", 4) == 2
    assert sup.air_kpa("lumbar", 5) <= make_caps(DEVICE).airbag_kpa["lumbar"]


def test_every_caution_names_its_reason() -> None:
    for name, caution in CAUTIONS.items():
        assert len(caution.text) > 20, name


class _Step:
    def __init__(self, depth=2, inflate=3.0, hold=3.0) -> None:
        self.number, self.zone, self.seconds = 1, "lumbar", 30.0
        self.roller = type("R", (), {"depth": depth})()
        self.airbags = type("A", (), {"inflate_s": inflate, "hold_s": hold, "vent_s": 2.0,
                                      "levels": {"lumbar": 2}})()


def _program(step):
    return type("P", (), {"steps": (step,), "source": "x.toml"})()


def test_program_above_a_cap_is_rejected_naming_step_and_field() -> None:
    with pytest.raises(ProgramError, match=r"x\.toml step 1 field 'roller\.depth'"):
        check_program(_program(_Step(depth=5)))
    with pytest.raises(ProgramError, match=r"airbags\.hold_s"):
        check_program(_program(_Step(inflate=6, hold=6)))
    check_program(_program(_Step()))


# ----------------------------------------------------------------------------- supervisor


def test_overpressure_is_a_fault() -> None:
    sup = Supervisor(make_caps(DEVICE))
    cap = sup.caps.airbag_kpa["lumbar"]
    air = [0.0] * 6
    air[ZONES.index("lumbar")] = cap + 1.5
    assert "above the cap" in sup.check(status(air_kpa=tuple(air)), 1.0)
    air[ZONES.index("lumbar")] = cap
    assert Supervisor(make_caps(DEVICE)).check(status(air_kpa=tuple(air)), 1.0) is None


def test_a_lower_intensity_lowers_the_pressure_the_supervisor_allows() -> None:
    """The user's intensity is enforced on the readings too, not only on the targets: a
    bag regulated past the targets of intensity 2 (the firmware defect air-over-cap filled
    a level-2 bag to 29.5 kPa under a cap of 28) is a fault at 0.4 x cap + the margin."""
    gentle = Supervisor(make_caps(DEVICE, intensity=2))
    ceiling = gentle.air_kpa("lumbar", 5)
    assert ceiling == round(gentle.caps.airbag_kpa["lumbar"] * 2 / 5, 1)
    air = [0.0] * 6
    air[ZONES.index("lumbar")] = ceiling + 1.5
    why = gentle.check(status(air_kpa=tuple(air)), 1.0)
    assert why is not None and "above the cap" in why and "intensity 2" in why, why
    assert Supervisor(make_caps(DEVICE)).check(status(air_kpa=tuple(air)), 1.0) is None
    air[ZONES.index("lumbar")] = ceiling + 0.5
    assert Supervisor(make_caps(DEVICE, intensity=2)).check(
        status(air_kpa=tuple(air)), 1.0) is None


def test_airbag_that_does_not_inflate_is_a_fault() -> None:
    sup = Supervisor(make_caps(DEVICE))
    sup.commanded(p.SetAir("seat", 20.0, 1500), 0.0)
    assert sup.check(status(), 0.1) is None
    assert sup.check(status(), 3.0) is None
    assert "does not inflate" in sup.check(status(), 4.5)


def test_airbag_that_does_not_vent_is_a_fault() -> None:
    sup = Supervisor(make_caps(DEVICE))
    air = [0.0] * 6
    air[ZONES.index("calves")] = 6.0  # (under the gentle default cap of 8 kPa)
    sup.commanded(p.SetAir("calves", 0.0, 1500), 0.0)
    assert sup.check(status(air_kpa=tuple(air)), 0.1) is None
    assert "does not vent" in sup.check(status(air_kpa=tuple(air)), 3.5)


def test_heater_that_does_not_warm_is_a_fault() -> None:
    sup = Supervisor(make_caps(DEVICE))
    sup.commanded(p.SetHeat("lumbar", 38.0, 1500), 0.0)
    assert sup.check(status(heat_c=(25.0, 25.0)), 0.1) is None
    assert "does not warm" in sup.check(status(heat_c=(26.0, 25.0)), 31.0)
    warming = Supervisor(make_caps(DEVICE))
    warming.commanded(p.SetHeat("lumbar", 38.0, 1500), 0.0)
    warming.check(status(heat_c=(25.0, 25.0)), 0.1)
    assert warming.check(status(heat_c=(30.0, 25.0)), 31.0) is None


def test_heat_above_cap_is_a_fault() -> None:
    sup = Supervisor(make_caps(DEVICE))
    assert "above" in sup.check(status(heat_c=(sup.caps.heat_c_max + 0.5, 30.0)), 0.0)


def test_stalled_roller_is_a_fault() -> None:
    sup = Supervisor(make_caps(DEVICE))
    sup.commanded(p.SetRoller(600.0, "knead", 2, 2, 3, 1500), 0.0)
    assert sup.check(status(pos_mm=300.0), 0.0) is None
    assert sup.check(status(pos_mm=300.2), 1.0) is None
    assert "does not move" in sup.check(status(pos_mm=300.3), 2.5)
    moving = Supervisor(make_caps(DEVICE))
    moving.commanded(p.SetRoller(600.0, "knead", 2, 2, 3, 1500), 0.0)
    for i in range(30):
        assert moving.check(status(pos_mm=300.0 + 8 * i), i * 0.1) is None


def test_roller_dwelling_on_one_spot_is_a_fault() -> None:
    sup = Supervisor(make_caps(DEVICE))
    sup.commanded(p.SetRoller(300.0, "press", 2, 2, 3, 1500), 0.0)
    assert sup.check(status(pos_mm=300.0), 0.0) is None
    assert sup.check(status(pos_mm=301.0), HOST["roller_dwell_s_max"] - 1) is None
    assert "one spot" in sup.check(status(pos_mm=301.0), HOST["roller_dwell_s_max"] + 1)


def test_device_fault_in_status_is_a_fault() -> None:
    sup = Supervisor(make_caps(DEVICE))
    assert "F05" in sup.check(status(faults=(p.FaultCode.OVERPRESSURE,)), 0.0)


def test_pinch_sensor_is_a_fault_in_any_motion_state() -> None:
    sup = Supervisor(make_caps(DEVICE))
    assert "pinch" in sup.check(status(pinch=True), 0.0)
