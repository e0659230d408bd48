"""The plant built for a chair description: its shape comes from the description, its
figures stay the plant's, and the closed forms hold for every description."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import chairs
from sim import plant_figures
from sim.body import Body
from sim.physics import Plant

DT = 0.01
NAMES = ("reference", "compact")
DESCRIPTIONS = {name: chairs.load(name) for name in NAMES}
TECHNIQUES = DESCRIPTIONS["reference"]["techniques"]
TRUTH = ("carriage_mm", "encoder_mm", "bag_kpa", "body_kpa", "surface_c", "back_pct",
         "leg_pct", "roller_force_n", "roller_current_a", "end_top", "end_bottom",
         "heaters_powered", "cutoff_open", "pressure_kpa", "thermistor_c")


def inputs(chair: dict) -> st.SearchStrategy[dict]:
    """Random inputs for a plant of this description (arrays of its lengths)."""
    zones = st.lists(st.booleans(), min_size=len(chair["zones"]), max_size=len(chair["zones"]))
    heaters = st.lists(st.booleans(), min_size=len(chair["heaters"]),
                       max_size=len(chair["heaters"]))
    return st.fixed_dictionaries({
        "carriage_drive": st.sampled_from([-1, 0, 1]),
        "technique": st.sampled_from(TECHNIQUES),
        "depth": st.integers(0, 5),
        "pump_on": st.booleans(),
        "dump_open": st.booleans(),
        "fill_open": zones,
        "vent_open": zones,
        "heater_on": heaters,
        "heater_supply": st.booleans(),
        "back_drive": st.sampled_from([-1, 0, 1]),
        "leg_drive": st.sampled_from([-1, 0, 1]),
    })


def apply(plant: Plant, values: dict) -> None:
    for name, value in values.items():
        setattr(plant, name, value)


def assert_same_truth(a: Plant, b: Plant, names=TRUTH[:-2]) -> None:
    for name in names:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-9, atol=1e-6,
                                   err_msg=name)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), name=st.sampled_from(NAMES), stiffness=st.floats(0.5, 2.0),
       height=st.floats(150.0, 210.0))
def test_inputs_held_for_random_steps_one_step_equals_many(data, name, stiffness,
                                                          height) -> None:
    """Random inputs held for random stretches: one step of n x 10 ms per stretch lands
    where n steps of 10 ms do, for every description (clamps, relief and cut-offs included)."""
    chair = DESCRIPTIONS[name]
    body = Body(height_cm=height, stiffness=stiffness)
    big, small = (Plant(body, chair=chair) for _ in range(2))
    segments = data.draw(st.lists(st.tuples(inputs(chair), st.integers(1, 800)),
                                  min_size=1, max_size=4))
    for values, steps in segments:
        apply(big, values)
        apply(small, values)
        big.step(steps * DT)
        for _ in range(steps):
            small.step(DT)
        assert_same_truth(big, small)
        assert 0.0 <= big.carriage_mm <= chair["track_mm"]
        assert big.bag_kpa.shape == (len(chair["zones"]),)
        assert big.surface_c.shape == (len(chair["heaters"]),)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), name=st.sampled_from(NAMES), seed=st.integers(0, 2**16),
       steps=st.integers(1, 300))
def test_a_seed_and_description_give_the_same_readings(data, name, seed, steps) -> None:
    chair = DESCRIPTIONS[name]
    values = data.draw(inputs(chair))
    plants = [Plant(Body(), seed=seed, chair=chair) for _ in range(2)]
    for plant in plants:
        apply(plant, values)
        for _ in range(steps):
            plant.step(DT)
    assert_same_truth(*plants, names=TRUTH)
    np.testing.assert_array_equal(plants[0].pressure_kpa, plants[1].pressure_kpa)


def test_no_description_is_the_reference_chair_exactly() -> None:
    default, reference = Plant(Body(), seed=5), Plant(Body(), seed=5,
                                                     chair=DESCRIPTIONS["reference"])
    for plant in (default, reference):
        apply(plant, {"pump_on": True, "fill_open": [1, 0, 1, 1, 0, 1], "heater_on": [1, 1],
                      "carriage_drive": 1, "technique": "knead", "depth": 2})
        for _ in range(300):
            plant.step(DT)
    for name in TRUTH:
        np.testing.assert_array_equal(getattr(default, name), getattr(reference, name))
    assert default.zones == ("shoulders", "arms", "lumbar", "seat", "calves", "feet")
    assert default.heaters == ("lumbar", "seat")
    assert (default.track_mm, default.seat_mm) == (1250.0, 850.0)


def test_compact_shape_and_track() -> None:
    plant = Plant(Body(), chair=DESCRIPTIONS["compact"])
    assert plant.zones == ("lumbar", "seat", "calves") and plant.heaters == ("lumbar",)
    for array, n in ((plant.fill_open, 3), (plant.vent_open, 3), (plant.heater_on, 1),
                     (plant.pressure_kpa, 3), (plant.thermistor_c, 1),
                     (plant.heater_current_a, 1)):
        assert array.shape == (n,)
    with pytest.raises(ValueError, match="fill_open"):
        plant.fill_open = [True] * 6
    with pytest.raises(ValueError, match="heater_on"):
        plant.heater_on = [True, True]
    plant.carriage_drive = 1
    plant.step(1100.0 / plant_figures.CARRIAGE_DOWN_MM_S - 0.05)
    assert not plant.end_bottom  # the motor's speed: 1100 mm in ~13 s, not 14.8 s
    plant.step(0.1)
    assert plant.carriage_mm == plant.encoder_mm == 1100.0 and plant.end_bottom
    assert plant.roller_current_a == plant_figures.CURRENT_STALL_A


def test_a_zone_fills_as_it_does_on_the_reference_chair() -> None:
    """Per-zone figures are keyed by zone name: the compact chair's seat bag is the
    reference chair's seat bag."""
    plants = {name: Plant(Body(), chair=DESCRIPTIONS[name]) for name in NAMES}
    for plant in plants.values():
        plant.pump_on = True
        plant.fill_open[:] = True
        plant.step(2.5)
    for i, zone in enumerate(plants["compact"].zones):
        j = plants["reference"].zones.index(zone)
        assert plants["compact"].bag_kpa[i] == plants["reference"].bag_kpa[j]


def test_a_zone_without_a_figure_fills_at_the_default_rate() -> None:
    chair = {**DESCRIPTIONS["compact"], "zones": ["lumbar", "neck"],
             "limits": [*DESCRIPTIONS["compact"]["limits"], ["airbag_kpa_max.neck", 20]]}
    plant = Plant(Body(), chair=chair)
    plant.pump_on = True
    plant.fill_open[:] = True
    plant.step(3.0)
    assert plant_figures.FILL_TAU_S["lumbar"] == plant_figures.FILL_TAU_DEFAULT_S
    assert plant.bag_kpa[1] == plant.bag_kpa[0]


def test_a_malformed_description_is_refused() -> None:
    chair = {k: v for k, v in DESCRIPTIONS["compact"].items() if k != "track_mm"}
    with pytest.raises(ValueError, match="track_mm"):
        Plant(Body(), chair=chair)


def test_many_short_steps_reach_the_end_stop_as_one_long_one_does() -> None:
    """Hypothesis's find: 1,480 steps of 10 ms summed to 1249.99999999998 of a 1250 mm
    track, one step of 14.8 s to 1250 exactly; the first read no end stop (moving, 0.8 A),
    the second stalled against it (3.0 A)."""
    body = Body(height_cm=150.0)
    big, small = Plant(body), Plant(body)
    for plant in (big, small):
        plant.carriage_drive = 1
    for _ in range(2):
        big.step(740 * DT)
        for _ in range(740):
            small.step(DT)
    assert small.carriage_mm == big.carriage_mm == big.track_mm
    assert small.end_bottom and small.roller_current_a == big.roller_current_a
