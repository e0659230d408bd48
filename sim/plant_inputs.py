"""The plant's array inputs (fill and vent valves, heater relays), a part of
`sim.physics.Plant`: assigning one copies into the plant's own array (checked), item writes
go through to it."""

from __future__ import annotations

import numpy as np


def _bool_array(value: object, n: int, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=bool)
    if array.shape != (n,):
        raise ValueError(f"Plant.{name}: expected {n} booleans, got shape {array.shape}")
    return array


class PlantInputs:
    """Mixed into `sim.physics.Plant` (whose `_fill`, `_vent`, `_heat` they are)."""

    @property
    def fill_open(self) -> np.ndarray:
        """Fill valves, bool (zones,) in the description's zone order."""
        return self._fill

    @fill_open.setter
    def fill_open(self, value: object) -> None:
        self._fill[:] = _bool_array(value, self._n_zones, "fill_open")

    @property
    def vent_open(self) -> np.ndarray:
        """Vent valves, bool (zones,) in the description's zone order."""
        return self._vent

    @vent_open.setter
    def vent_open(self, value: object) -> None:
        self._vent[:] = _bool_array(value, self._n_zones, "vent_open")

    @property
    def heater_on(self) -> np.ndarray:
        """Heater relays, bool (heaters,) in the description's heater order."""
        return self._heat

    @heater_on.setter
    def heater_on(self, value: object) -> None:
        self._heat[:] = _bool_array(value, self._n_heaters, "heater_on")
