"""Fault catalogue, NAME@SECONDS specs, and the effect of each plant fault."""

from __future__ import annotations

import numpy as np
import pytest

from chair.faults import FAULTS, PLANT_FAULTS, Fault, parse_fault
from chair.limits import SEAT_BEND_MM
from sim.body import Body
from sim.physics import CURRENT_STALL_A, THERMISTOR_OPEN_C, THERMISTOR_SHORT_C, Plant

REQUIRED_PLANT = {
    "pump-stuck-on", "vent-stuck-closed", "pressure-sensor-stuck", "thermistor-open",
    "thermistor-short", "thermistor-loose", "heater-welded", "roller-stall", "encoder-stuck",
    "pinch", "occupant-leaves",
}


def run(plant: Plant, seconds: float, dt: float = 0.01) -> None:
    for _ in range(round(seconds / dt)):
        plant.step(dt)


# --------------------------------------------------------------------------- catalogue


def test_catalogue_holds_required_faults() -> None:
    assert REQUIRED_PLANT <= PLANT_FAULTS
    assert FAULTS["power-cycle"].where == "device"
    assert "power-cycle" not in PLANT_FAULTS
    for name, fault in FAULTS.items():
        assert fault.name == name and fault.description


def test_fault_rejects_unknown_where() -> None:
    with pytest.raises(ValueError, match="where"):
        Fault("x", "y", "elsewhere")  # type: ignore[arg-type]


@pytest.mark.parametrize(("spec", "expected"), [
    ("pump-stuck-on@12.5", ("pump-stuck-on", 12.5)),
    (" pinch@0 ", ("pinch", 0.0)),
    ("power-cycle@30", ("power-cycle", 30.0)),
])
def test_parse_fault(spec: str, expected: tuple[str, float]) -> None:
    assert parse_fault(spec) == expected


@pytest.mark.parametrize(("spec", "part"), [
    ("pump-stuck-on", "NAME@SECONDS"),
    ("pump-stuk-on@3", "'pump-stuk-on'"),
    ("pinch@soon", "'soon'"),
    ("pinch@-1", "'-1'"),
    ("pinch@nan", "'nan'"),
    ("pinch@", "''"),
])
def test_parse_fault_errors_name_the_bad_part_and_list_names(spec: str, part: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_fault(spec)
    message = str(info.value)
    assert part in message
    if "@" not in spec or spec.startswith("pump-stuk"):
        assert "valid names" in message and "thermistor-open" in message


def test_inject_rejects_unknown_and_device_faults() -> None:
    plant = Plant(Body())
    with pytest.raises(ValueError, match="valid names"):
        plant.inject("gremlins")
    with pytest.raises(ValueError, match="device fault"):
        plant.inject("power-cycle")
    with pytest.raises(ValueError):
        plant.clear("gremlins")
    assert plant.active_faults == frozenset()


def test_inject_and_clear_track_active_faults() -> None:
    plant = Plant(Body())
    plant.inject("pinch")
    plant.inject("pinch")
    plant.inject("encoder-stuck")
    assert plant.active_faults == {"pinch", "encoder-stuck"}
    plant.clear("pinch")
    plant.clear("pinch")
    assert plant.active_faults == {"encoder-stuck"}


# --------------------------------------------------------------------------- effects


def test_pump_stuck_on_inflates_with_pump_off() -> None:
    plant = Plant(Body())
    plant.fill_open[2] = True
    run(plant, 3.0)
    assert plant.bag_kpa[2] == 0.0
    plant.inject("pump-stuck-on")
    assert plant.pump_running
    run(plant, 3.0)
    assert plant.bag_kpa[2] > 15.0
    plant.clear("pump-stuck-on")
    before = plant.bag_kpa[2]
    run(plant, 3.0)
    assert plant.bag_kpa[2] <= before


def test_vent_stuck_closed_holds_the_air() -> None:
    plant = Plant(Body())
    plant.pump_on = True
    plant.fill_open[:] = True
    run(plant, 4.0)
    plant.pump_on = False
    plant.fill_open[:] = False
    full = plant.bag_kpa.copy()
    plant.inject("vent-stuck-closed")
    plant.vent_open[:] = True
    run(plant, 5.0)
    np.testing.assert_allclose(plant.bag_kpa, full * np.exp(-5.0 / 600.0), rtol=1e-9)
    plant.clear("vent-stuck-closed")
    run(plant, 3.0)
    assert plant.bag_kpa.max() < 1.0


def test_pressure_sensor_stuck_freezes_readings() -> None:
    plant = Plant(Body())
    plant.pump_on = True
    plant.fill_open[0] = True
    run(plant, 1.0)
    plant.inject("pressure-sensor-stuck")
    frozen = plant.pressure_kpa.copy()
    run(plant, 3.0)
    np.testing.assert_array_equal(plant.pressure_kpa, frozen)
    assert plant.bag_kpa[0] > frozen[0] + 10.0
    plant.clear("pressure-sensor-stuck")
    assert abs(plant.pressure_kpa[0] - plant.bag_kpa[0]) <= 0.05


def heated(plant: Plant, seconds: float = 120.0) -> Plant:
    plant.heater_on[:] = True
    run(plant, seconds, dt=0.1)
    return plant


@pytest.mark.parametrize(("fault", "reading"), [
    ("thermistor-open", THERMISTOR_OPEN_C), ("thermistor-short", THERMISTOR_SHORT_C),
])
def test_thermistor_open_and_short(fault: str, reading: float) -> None:
    plant = heated(Plant(Body()))
    plant.inject(fault)
    assert np.all(plant.thermistor_c == reading)
    run(plant, 1.0)
    assert np.all(plant.thermistor_c == reading)
    plant.clear(fault)
    np.testing.assert_allclose(plant.thermistor_c, plant.surface_c, atol=0.05)


def test_thermistor_loose_reads_ambient_while_surface_is_hot() -> None:
    plant = heated(Plant(Body(), ambient_c=22.0))
    plant.inject("thermistor-loose")
    run(plant, 10.0)
    assert np.all(plant.surface_c > 40.0)
    np.testing.assert_allclose(plant.thermistor_c, 22.0, atol=0.05)


def test_heater_welded_heats_with_heater_off() -> None:
    plant = Plant(Body())
    plant.inject("heater-welded")
    run(plant, 60.0, dt=0.1)
    assert np.all(plant.heaters_powered)
    assert np.all(plant.surface_c > 24.0 + 15.0)
    plant.clear("heater-welded")
    hot = plant.surface_c.copy()
    run(plant, 60.0, dt=0.1)
    assert np.all(plant.surface_c < hot)


def test_roller_stall_holds_carriage_and_draws_stall_current() -> None:
    plant = Plant(Body())
    plant.carriage_drive = 1
    run(plant, 1.0)
    pos = plant.carriage_mm
    plant.inject("roller-stall")
    run(plant, 2.0)
    assert plant.carriage_mm == pos and plant.encoder_mm == pos
    assert plant.roller_current_a == CURRENT_STALL_A
    plant.carriage_drive = 0
    plant.step(0.01)
    assert plant.roller_current_a < 0.5
    plant.clear("roller-stall")
    plant.carriage_drive = 1
    run(plant, 1.0)
    assert plant.carriage_mm > pos + 50.0 and plant.roller_current_a < 1.0


def test_encoder_stuck_carriage_moves_encoder_does_not() -> None:
    plant = Plant(Body())
    plant.carriage_drive = 1
    run(plant, 1.0)
    plant.inject("encoder-stuck")
    stuck = plant.encoder_mm
    run(plant, 2.0)
    assert plant.encoder_mm == stuck
    assert plant.carriage_mm > stuck + 100.0
    plant.clear("encoder-stuck")
    assert plant.encoder_mm == plant.carriage_mm


def test_pinch_sensor_reads_while_obstacle_is_there() -> None:
    plant = Plant(Body())
    plant.leg_drive = 1
    run(plant, 1.0)
    assert not plant.pinch
    plant.inject("pinch")
    assert plant.pinch
    run(plant, 1.0)
    assert plant.pinch
    plant.clear("pinch")
    assert not plant.pinch


def test_occupant_leaves_removes_contact_and_body_pressure() -> None:
    plant = Plant(Body())
    plant.technique, plant.depth = "knead", 3
    plant.carriage_mm = SEAT_BEND_MM
    plant.pump_on = True
    plant.fill_open[3] = True
    run(plant, 2.0)
    assert plant.occupied and plant.roller_force_n > 0 and plant.body_kpa[3] > 0
    plant.inject("occupant-leaves")
    assert not plant.occupied
    assert plant.roller_force_n == 0.0
    np.testing.assert_array_equal(plant.body_kpa, 0.0)
    run(plant, 1.0)
    assert not plant.occupied and plant.roller_force_n == 0.0 and plant.bag_kpa[3] > 0
    np.testing.assert_array_equal(plant.body_kpa, 0.0)
    plant.clear("occupant-leaves")
    assert plant.occupied and plant.roller_force_n > 0


def test_empty_chair_is_never_occupied() -> None:
    plant = Plant(Body(seated=False))
    plant.technique, plant.depth = "press", 5
    plant.carriage_mm = SEAT_BEND_MM
    plant.step(0.01)
    assert not plant.occupied and plant.roller_force_n == 0.0
