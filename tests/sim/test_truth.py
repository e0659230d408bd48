"""sim.truth.Peaks: the plant's true maxima over every step, including between reports."""

from __future__ import annotations

import numpy as np

from sim.body import Body
from sim.physics import Plant
from sim.truth import Peaks


def test_peaks_keep_the_worst_bag_between_two_looks() -> None:
    plant = Plant(Body())
    plant.peaks = peaks = Peaks(plant)
    plant.pump_on = True
    plant.fill_open = np.ones(len(plant.zones), dtype=bool)
    plant.step(3.0)
    high = plant.bag_kpa.copy()
    plant.fill_open = np.zeros(len(plant.zones), dtype=bool)
    plant.vent_open = np.ones(len(plant.zones), dtype=bool)
    plant.step(5.0)
    assert (plant.bag_kpa < high).all()
    assert np.allclose(peaks.bag_kpa, high)
    assert peaks.as_dict()["bag_kpa"] == {z: round(float(v), 3)
                                          for z, v in zip(plant.zones, high, strict=True)}


def test_force_is_kept_by_the_landmark_under_the_roller() -> None:
    plant = Plant(Body(175.0))
    plant.peaks = peaks = Peaks(plant)
    assert peaks.force_n == {}
    marks = plant.body.landmarks(plant.seat_mm)
    plant.carriage_mm = marks["l3"]
    plant.technique, plant.depth = "knead", 2
    plant.step(0.1)
    assert plant.roller_force_n > 0
    assert peaks.as_dict()["force_n"] == {"l3": round(plant.roller_force_n, 3)}


def test_a_plant_without_peaks_observes_nothing() -> None:
    plant = Plant(Body())
    assert plant.peaks is None
    plant.step(1.0)
