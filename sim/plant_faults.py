"""The plant's faults (chair.faults.PLANT_FAULTS): `inject` and `clear`, a part of
`sim.physics.Plant` (its state and `_refresh` are the plant's)."""

from __future__ import annotations

from chair.faults import FAULTS, PLANT_FAULTS, valid_names


class PlantFaults:
    """Mixed into `sim.physics.Plant`: the faults it takes, acting at once."""

    def inject(self, name: str) -> None:
        """Start the plant fault `name` (see chair.faults.FAULTS); it acts at once."""
        self._check_fault(name)
        if name in self.active_faults:
            return
        if name == "pressure-sensor-stuck":
            self._stuck_pressure = self.pressure_kpa.copy()
            self._stuck_pressure.flags.writeable = False
            self.pressure_kpa = self._stuck_pressure
        self.active_faults = self.active_faults | {name}
        self._apply_faults()

    def clear(self, name: str) -> None:
        """End the plant fault `name` (no-op when it is not active)."""
        self._check_fault(name)
        self.active_faults = self.active_faults - {name}
        self._apply_faults()

    @staticmethod
    def _check_fault(name: str) -> None:
        if name not in PLANT_FAULTS:
            if name in FAULTS:
                raise ValueError(f"fault {name!r} is a {FAULTS[name].where} fault, not a "
                                 f"plant fault; the plant takes: {', '.join(sorted(PLANT_FAULTS))}")
            raise ValueError(f"unknown fault {name!r}; valid names: {valid_names()}")

    def _apply_faults(self) -> None:
        active = self.active_faults
        self._pump_stuck = "pump-stuck-on" in active
        self._vent_stuck = "vent-stuck-closed" in active
        self._pressure_stuck = "pressure-sensor-stuck" in active
        self._heater_welded = "heater-welded" in active
        self._stall = "roller-stall" in active
        self._encoder_stuck = "encoder-stuck" in active
        self._thermistor_fault = next(
            (f for f in ("thermistor-open", "thermistor-short", "thermistor-loose")
             if f in active), None)
        self._refresh()

