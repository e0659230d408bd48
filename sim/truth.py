"""The plant's true worst values over a run: what a sweep judges a session by.

`Peaks` is attached to a `sim.physics.Plant` (`plant.peaks = Peaks(plant)`); the plant calls
`observe(plant)` at the end of every step, so a peak between two status reports (which the
trace never samples) is still seen. Off by default: a plant without peaks pays nothing.

`as_dict()` gives a plain dict, the shape a sweep's row and the `truth=PATH` file hold:
``{"bag_kpa": {zone: kPa}, "surface_c": {heater: °C}, "force_n": {landmark: N}}``, the
worst true airbag pressure per zone, the worst true heater surface per heater, and the
worst true roller force on the body by the landmark nearest the carriage (sim.body's
landmarks; a landmark the roller never pressed is absent).
"""

from __future__ import annotations

import numpy as np


class Peaks:
    """Running maxima of a plant's truth (see the module docstring)."""

    def __init__(self, plant) -> None:
        self.zones, self.heaters = plant.zones, plant.heaters
        marks = plant.body.landmarks(plant.seat_mm)
        self._names = list(marks)
        self._marks_mm = np.array([marks[name] for name in self._names])
        self.bag_kpa = plant.bag_kpa.copy()
        self.surface_c = plant.surface_c.copy()
        self.force_n: dict[str, float] = {}
        self.observe(plant)

    def observe(self, plant) -> None:
        """Fold the plant's present truth into the maxima."""
        np.maximum(self.bag_kpa, plant.bag_kpa, out=self.bag_kpa)
        np.maximum(self.surface_c, plant.surface_c, out=self.surface_c)
        force = plant.roller_force_n
        if force > 0.0:
            name = self.landmark_at(plant.carriage_mm)
            if force > self.force_n.get(name, 0.0):
                self.force_n[name] = force

    def landmark_at(self, pos_mm: float) -> str:
        """The landmark nearest the track position `pos_mm` (mm)."""
        return self._names[int(np.abs(self._marks_mm - pos_mm).argmin())]

    def as_dict(self) -> dict[str, dict[str, float]]:
        """The maxima as plain floats, rounded to 0.001 (see the module docstring)."""
        bags = zip(self.zones, self.bag_kpa, strict=True)
        surfaces = zip(self.heaters, self.surface_c, strict=True)
        return {"bag_kpa": {z: round(float(v), 3) for z, v in bags},
                "surface_c": {h: round(float(v), 3) for h, v in surfaces},
                "force_n": {name: round(v, 3) for name, v in self.force_n.items()}}
