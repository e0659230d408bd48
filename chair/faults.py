"""The catalogue of faults the simulator can inject, and `NAME@SECONDS` specs.

This is data shared by the CLI (`chair faults`, `--fault`) and the simulator, like the
limits table; the behaviour of each fault lives in `sim`.

Plant faults change the simulated hardware (`sim.physics.Plant.inject`); device faults are
handled by the simulated firmware (`sim.device`), not the plant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Where = Literal["plant", "device"]


@dataclass(frozen=True)
class Fault:
    """One injectable fault: its name, what it does, and which half of the sim handles it."""

    name: str
    description: str
    where: Where

    def __post_init__(self) -> None:
        if self.where not in ("plant", "device"):
            raise ValueError(f"Fault {self.name}: where={self.where!r}, not plant or device")


_CATALOGUE = (
    Fault("pump-stuck-on", "the air pump runs whatever pump_on says: any open fill valve "
          "keeps inflating (harmless once fill valves close and vents open)", "plant"),
    Fault("vent-stuck-closed", "vent valves do not open: airbags hold their air "
          "(only the slow leak lowers them)", "plant"),
    Fault("pressure-sensor-stuck", "pressure readings freeze at their value at injection "
          "(an inflation then never reaches its target: expect inflate-timeout)", "plant"),
    Fault("thermistor-open", "thermistors read -40 °C (expect thermistor fault)", "plant"),
    Fault("thermistor-short", "thermistors read 150 °C (expect thermistor fault)", "plant"),
    Fault("thermistor-loose", "thermistors read ambient whatever the surface "
          "(expect heat-runaway)", "plant"),
    Fault("heater-welded", "heater relays stay on whatever heater_on says "
          "(expect overtemp)", "plant"),
    Fault("roller-stall", "the carriage does not move though driven; motor current rises "
          "to stall current (expect stall or overcurrent)", "plant"),
    Fault("encoder-stuck", "the carriage moves but encoder_mm does not (expect stall)",
          "plant"),
    Fault("pinch", "an obstacle under the leg rest: the pinch sensor reads true while it is "
          "there (expect pinch during recline motion)", "plant"),
    Fault("occupant-leaves", "the person stands up: occupied false, no contact, no body "
          "pressure (expect vacant)", "plant"),
    Fault("power-cycle", "the board loses power and restarts (handled by the firmware)",
          "device"),
)

#: Every fault by name.
FAULTS: dict[str, Fault] = {fault.name: fault for fault in _CATALOGUE}
#: The names `Plant.inject` accepts.
PLANT_FAULTS: frozenset[str] = frozenset(n for n, f in FAULTS.items() if f.where == "plant")


def valid_names() -> str:
    """Every fault name, comma-separated, for error messages."""
    return ", ".join(FAULTS)


def parse_fault(spec: str) -> tuple[str, float]:
    """`'pump-stuck-on@12.5'` to `('pump-stuck-on', 12.5)`: a fault name and when (s >= 0)."""
    name, at, seconds = spec.strip().partition("@")
    name = name.strip()
    if not at:
        raise ValueError(f"fault spec {spec!r}: expected NAME@SECONDS, for example "
                         f"pump-stuck-on@12.5; valid names: {valid_names()}")
    if name not in FAULTS:
        raise ValueError(f"fault spec {spec!r}: unknown fault name {name!r}; "
                         f"valid names: {valid_names()}")
    try:
        when = float(seconds)
    except ValueError:
        when = math.nan
    if not (math.isfinite(when) and when >= 0):
        raise ValueError(f"fault spec {spec!r}: seconds {seconds.strip()!r} is not a "
                         f"finite number >= 0")
    return name, when
