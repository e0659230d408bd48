"""The firmware's hardware layer on the simulated plant (firmware.hal's interface).

`sense()` copies the plant's sensor readings; each output writes the plant's input. A chair
description without a roller force sensor reads a force of 0.0, as such a chair would.
"""

from __future__ import annotations

from sim.physics import Plant


class SimHardware:
    """`firmware.hal.Hardware` over a `sim.physics.Plant`."""

    def __init__(self, plant: Plant, *, force_sensor: bool = True) -> None:
        self.plant = plant
        # the plant's arrays are fixed objects: item writes go through (sim.physics contract)
        self._fill = plant.fill_open
        self._vent = plant.vent_open
        self._heat = plant.heater_on
        self._force = force_sensor
        self._seen: object = None
        self.sense()

    def sense(self) -> None:
        """Copy the readings, unless the plant has not refreshed them since the last copy
        (its readings are new arrays at every step, inject and clear: sim.physics)."""
        plant = self.plant
        if plant.thermistor_c is self._seen:
            return
        self._seen = plant.thermistor_c
        self.pressure = plant.pressure_kpa.tolist()
        self.temp = plant.thermistor_c.tolist()
        self.heater_a = plant.heater_current_a.tolist()
        self.encoder_mm = plant.encoder_mm
        self.end_top = plant.end_top
        self.end_bottom = plant.end_bottom
        self.back_pct = plant.back_pct
        self.leg_pct = plant.leg_pct
        self.occupied = plant.occupied
        self.pinch = plant.pinch
        self.roller_a = plant.roller_current_a
        self.pump_a = plant.pump_current_a
        self.force_n = plant.roller_force_n if self._force else 0.0

    def fill(self, z: int, on: bool) -> None:
        self._fill[z] = on

    def vent(self, z: int, on: bool) -> None:
        self._vent[z] = on

    def dump(self, on: bool) -> None:
        self.plant.dump_open = on

    def pump(self, on: bool) -> None:
        self.plant.pump_on = on

    def heater(self, h: int, on: bool) -> None:
        self._heat[h] = on

    def supply(self, on: bool) -> None:
        self.plant.heater_supply = on

    def carriage(self, drive: int) -> None:
        self.plant.carriage_drive = drive

    def back(self, drive: int) -> None:
        self.plant.back_drive = drive

    def leg(self, drive: int) -> None:
        self.plant.leg_drive = drive

    def head(self, technique: str, width: int, depth: int, speed: int) -> None:
        plant = self.plant
        plant.technique, plant.width, plant.depth, plant.speed = technique, width, depth, speed

    def foot(self, speed: int) -> None:
        self.plant.foot_speed = speed
