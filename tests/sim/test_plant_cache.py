"""The plant's per-input caches (issue 14 item 3) never go stale: bit for bit the plant
steps as one that recomputes its airbag and heater coefficients and looks at every
surface at every step, whatever the inputs, faults and step lengths do in between."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.body import Body
from sim.physics import Plant

N_ZONES, N_HEATERS = 6, 2
FAULTS = ("heater-welded", "vent-stuck-closed", "pump-stuck-on", "thermistor-loose",
          "pressure-sensor-stuck")


class Uncached(Plant):
    """The plant with every cache dropped before each step (the reference)."""

    def step(self, dt: float) -> None:
        self._dt = math.nan
        self._decays.clear()
        self._air_pairs.clear()
        self._heat_cache.clear()
        self._surface_bound = math.inf
        super().step(dt)


CHANGES = st.one_of(
    st.tuples(st.just("fill"), st.integers(0, N_ZONES - 1), st.booleans()),
    st.tuples(st.just("vent"), st.integers(0, N_ZONES - 1), st.booleans()),
    st.tuples(st.just("heat"), st.integers(0, N_HEATERS - 1), st.booleans()),
    st.tuples(st.sampled_from(["pump_on", "dump_open", "heater_supply"]), st.just(0),
              st.booleans()),
    st.tuples(st.sampled_from(["inject", "clear"]), st.sampled_from(FAULTS), st.just(0)),
)
#: Input changes, then one step: mostly of one length (the caches live while dt stays).
ROUNDS = st.tuples(st.lists(CHANGES, max_size=3),
                   st.sampled_from([0.1, 0.1, 0.1, 0.1, 0.37, 5.0, 60.0, 400.0]))


def _apply(plant: Plant, action: tuple) -> None:
    what, arg, value = action
    if what == "fill":
        plant.fill_open[arg] = value
    elif what == "vent":
        plant.vent_open[arg] = value
    elif what == "heat":
        plant.heater_on[arg] = value
    elif what in ("pump_on", "dump_open", "heater_supply"):
        setattr(plant, what, value)
    elif what == "inject":
        plant.inject(arg)
    else:
        plant.clear(arg)


TRUTH = ("bag_kpa", "surface_c", "pressure_kpa", "thermistor_c", "heater_current_a",
         "heaters_powered", "cutoff_open", "body_kpa")


@settings(max_examples=150, deadline=None)
@given(st.lists(ROUNDS, min_size=1, max_size=40))
def test_the_cached_plant_steps_bit_for_bit_as_the_uncached_one(rounds: list) -> None:
    plant, reference = Plant(Body(), seed=5), Uncached(Body(), seed=5)
    plant.pump_on = reference.pump_on = True  # (a start that inflates: more to go stale)
    for changes, dt in rounds:
        for change in changes:
            _apply(plant, change)
            _apply(reference, change)
        plant.step(dt)
        reference.step(dt)
        for name in TRUTH:
            assert np.array_equal(getattr(plant, name), getattr(reference, name)), name


EVERY_INPUT = [("fill", 1, True), ("fill", 0, False), ("vent", 0, True), ("vent", 2, True),
               ("heat", 1, True), ("heat", 0, False), ("pump_on", 0, False),
               ("dump_open", 0, True), ("heater_supply", 0, False),
               *(("inject", fault, 0) for fault in FAULTS)]


def test_every_input_changed_alone_between_two_equal_steps_is_followed() -> None:
    """From a plant inflating and heating, each input (and each fault that acts on the
    air or the heat) changed alone between two steps of the same length."""
    for change in EVERY_INPUT:
        plant, reference = Plant(Body(), seed=5), Uncached(Body(), seed=5)
        for each in (plant, reference):
            each.pump_on = each.heater_supply = True
            each.fill_open[0] = each.heater_on[0] = each.vent_open[3] = True
            each.step(60.0)
            each.step(0.1)
            _apply(each, change)
            each.step(0.1)
        for name in TRUTH:
            assert np.array_equal(getattr(plant, name), getattr(reference, name)), \
                (change, name)


def test_a_pad_past_its_cut_off_is_seen_after_its_surface_is_set_from_outside() -> None:
    """Setting `surface_c` (a test heating a pad from outside) drops the bound that spares
    the plant looking at every surface: the next step opens the cut-off."""
    plant = Plant(Body())
    plant.step(0.1)
    assert not plant.cutoff_open.any()
    plant.surface_c = plant.surface_c + 30.0  # 54 °C: past the cut-off
    plant.step(0.1)
    assert plant.cutoff_open.all()


def test_the_published_heater_arrays_are_read_only() -> None:
    """They are shared between steps with the same relays: nobody may write through them."""
    plant = Plant(Body())
    plant.heater_on[0] = True
    plant.step(0.1)
    for array in (plant.heaters_powered, plant.heater_current_a):
        assert not array.flags.writeable


def test_a_new_ambient_temperature_is_followed_after_the_first_step() -> None:
    """The review's find: the heater targets were cached without the ambient temperature,
    so a plant stepped once and then given 38 °C cooled its pads toward the old 24 °C
    (tests/sim/test_guards.py sets ambient_c after building its bench)."""
    plant, fresh = Plant(Body()), Plant(Body(), ambient_c=38.0)
    plant.step(0.1)
    plant.ambient_c = 38.0
    plant.surface_c = np.full(len(plant.heaters), 38.0)
    for each in (plant, fresh):
        each.step(100.0)
    assert np.allclose(plant.surface_c, fresh.surface_c)
    assert np.allclose(plant.surface_c, 38.0)
