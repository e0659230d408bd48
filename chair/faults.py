"""The catalogue of faults the simulator can inject, and `NAME@SECONDS` specs.

This is data shared by the CLI (`chair faults`, `--fault`) and the simulator, like the
limits table; the behaviour of each fault lives in `sim`.

Plant faults change the simulated hardware (`sim.physics.Plant.inject`); device faults are
handled by the simulator around the firmware (`sim.device`), not the plant.
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
          "keeps inflating (expect stuck-on: pump current while commanded off)", "plant"),
    Fault("vent-stuck-closed", "vent valves do not open: airbags hold their air until the "
          "manifold dump path vents them (expect a vent fault)", "plant"),
    Fault("pressure-sensor-stuck", "pressure readings freeze at their value at injection "
          "(an inflation then never reaches its target: expect inflate-timeout)", "plant"),
    Fault("thermistor-open", "thermistors read -40 °C (expect thermistor fault)", "plant"),
    Fault("thermistor-short", "thermistors read 150 °C (expect thermistor fault)", "plant"),
    Fault("thermistor-loose", "thermistors read ambient whatever the surface "
          "(expect heat-runaway)", "plant"),
    Fault("heater-welded", "heater relays stay on whatever heater_on says; the heater "
          "supply relay still cuts them (expect stuck-on: heater current while "
          "commanded off)", "plant"),
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


# --------------------------------------------------------------------------- link faults
# The `faulty://` URL handler (sim/protocol_faulty.py) wraps any port and spoils its bytes;
# `chair run --link-fault SPEC` builds that URL. Directions are seen from the host: `rx` is
# device to host, `tx` host to device; an option without a direction sets both.

#: Per-byte probabilities, 0..1.
LINK_RATES: dict[str, str] = {
    "drop": "probability that a byte is lost",
    "corrupt": "probability that one bit of a byte flips",
    "dup": "probability that a byte arrives twice",
    "delay": "probability that the stream stalls delay_ms before a byte",
}
#: Durations in milliseconds, >= 0.
LINK_TIMES: dict[str, str] = {
    "delay_ms": "how long one stall lasts (default 100 ms)",
    "latency_ms": "every byte arrives this much later (default 0)",
}
#: Timed events, `NAME@SECONDS` in a spec, `NAME_at=SECONDS` in the URL (seconds after open).
LINK_EVENTS: dict[str, str] = {
    "noise": "the rates and delays apply from then on (default: from the start)",
    "vanish": "from then on every read and write raises SerialException (unplugged)",
    "silence": "from then on the host's writes are swallowed (the controller falls silent)",
    "mute": "from then on the device's bytes are dropped (the device falls silent)",
}
LINK_DIRECTIONS = ("rx", "tx")


def link_options() -> list[str]:
    """Every option name of a `faulty://` URL except `port`."""
    names = [*LINK_RATES, *LINK_TIMES]
    return [*names, *(f"{d}.{n}" for d in LINK_DIRECTIONS for n in names),
            *(f"{e}_at" for e in LINK_EVENTS), "seed"]


def _link_help() -> str:
    return (f"rates {', '.join(LINK_RATES)} (0..1), times {', '.join(LINK_TIMES)} (ms), "
            f"each optionally prefixed rx. or tx.; seed=N; events "
            f"{', '.join(f'{e}@SECONDS' for e in LINK_EVENTS)}")


def check_link_option(name: str, value: str) -> float | int:
    """The value of the `faulty://` option `name`, checked; raises ValueError saying why."""
    if name not in link_options():
        raise ValueError(f"unknown option {name!r}; valid: {_link_help()}")
    try:
        number = int(value) if name == "seed" else float(value)
    except ValueError:
        number = math.nan
    base = name.rpartition(".")[2]
    if name == "seed":
        if number != number:
            raise ValueError(f"seed={value!r}: expected a whole number")
        return number
    if not math.isfinite(number) or number < 0 or (base in LINK_RATES and number > 1):
        accepted = ("a probability from 0 to 1" if base in LINK_RATES
                    else "a finite number of seconds >= 0" if name.endswith("_at")
                    else "a finite number of milliseconds >= 0")
        raise ValueError(f"{name}={value!r}: expected {accepted}")
    return number


def parse_link_fault(spec: str) -> tuple[str, str]:
    """`'drop=0.001'` to `('drop', '0.001')`, `'vanish@60'` to `('vanish_at', '60')`:
    the `faulty://` option a `--link-fault` spec stands for, checked (ValueError)."""
    text = spec.strip()
    if "@" in text:
        event, _, seconds = text.partition("@")
        event = event.strip()
        if event not in LINK_EVENTS:
            raise ValueError(f"link fault spec {spec!r}: unknown event {event!r}; valid: "
                             f"{_link_help()}")
        name, value = f"{event}_at", seconds.strip()
    elif "=" in text:
        name, _, value = text.partition("=")
        name, value = name.strip(), value.strip()
        if name.endswith("_at"):
            raise ValueError(f"link fault spec {spec!r}: write events as NAME@SECONDS, "
                             f"for example {name[:-3]}@{value or 60}")
    else:
        raise ValueError(f"link fault spec {spec!r}: expected NAME=VALUE or EVENT@SECONDS; "
                         f"valid: {_link_help()}")
    try:
        check_link_option(name, value)
    except ValueError as exc:
        raise ValueError(f"link fault spec {spec!r}: {exc}") from None
    return name, value
