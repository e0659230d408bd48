"""The rig for the end-to-end tests of the real firmware on the real board layer (no tests
here): `Rig(name, monkeypatch)` builds the Board from the shipped pin map `name` on a fake
`machine` (tests/firmware/test_board_fakes.py) with its analog inputs and switches set so the
chair reads plausibly (room-temperature thermistors, zero gauge pressure, no current, no
force, recline and leg rest at 0 %, seat switch closed, carriage on its top end switch), and
the reference chair's Firmware on it. `run_to(ms)` runs the board's own loop
(firmware/boards/main.py `run`) with a fake port and clock; `send` frames host lines with
the host codec (chair.protocol) and `received` decodes what the port carried with its
DeviceDecoder. Outputs are read back from the pins (`output`, `zone`, `safe`) as their
polarity says (active-low, normally-open, shift register).
"""

from __future__ import annotations

import contextlib
import math
import sys

from chair import protocol as p
from firmware import chairs
from firmware.boards import main as board_main
from firmware.device import Firmware
from tests.firmware.test_board_fakes import VREF, fake_machine, mux_reader, shipped

FULL = 65535
MAPS = ["esp32", "rp2040"]
ROOM_C = 25.0

class Pause(Exception):
    """Raised by the port's wait once the clock reaches where the test looks next."""


class Clock:
    def __init__(self) -> None:
        self.now = 0

    def ms(self) -> int:
        return self.now


class Port:
    """Host bytes queued by the test, read by the loop's next pass; `wait` moves the clock
    and pauses the loop (by raising Pause) once it reaches `stop_at`."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.inbox = bytearray()
        self.sent = bytearray()
        self.stop_at = 0

    def read(self) -> bytes:
        data, self.inbox = bytes(self.inbox), bytearray()
        return data

    def write(self, data: bytes) -> None:
        self.sent += data

    def wait(self, ms: int) -> None:
        self.clock.now += ms
        if self.clock.now >= self.stop_at:
            raise Pause


class Wdt:
    def __init__(self) -> None:
        self.feeds = 0

    def feed(self) -> None:
        self.feeds += 1


class Shift:
    """The 74HC595 chain's latched outputs, replayed from the pin writes as they come."""

    def __init__(self, m, spec: dict) -> None:
        self.m, self.spec = m, spec
        self.at = 0
        self.shift = [0] * spec["bits"]
        self.latched: list[int | None] = [None] * spec["bits"]
        self.data = 0

    def bits(self) -> list[int | None]:
        spec, events = self.spec, self.m.events
        for gpio, level in events[self.at:]:
            if gpio == spec["data"]:
                self.data = level
            elif gpio == spec["clock"] and level:
                self.shift = [self.data, *self.shift[:-1]]
            elif gpio == spec["latch"] and level:
                self.latched = list(self.shift)
        self.at = len(events)
        return self.latched


def kpa_volts(spec: dict, kpa: float) -> float:
    return spec["zero_v"] + kpa / spec["kpa_per_v"]


def thermistor_volts(spec: dict, c: float) -> float:
    """The divider's volts at `c` degrees C (the Beta equation, NTC to ground)."""
    r = spec["r25"] * math.exp(spec["beta"] * (1.0 / (c + 273.15) - 1.0 / 298.15))
    return VREF * r / (r + spec["r_fixed"])


class Rig:
    """One shipped pin map, the Board on a fake machine, the reference chair's Firmware, the
    board's loop; `run_to(ms)` runs the loop until its clock reaches `ms`."""

    def __init__(self, name: str, monkeypatch) -> None:
        self.m = m = fake_machine(read_uv=name == "esp32")
        monkeypatch.setitem(sys.modules, "machine", m)
        self.pins = pins = shipped(name)
        self.chair = chairs.load(pins["chair"])
        self.mux: dict[int, float] = {}
        if "amux" in pins:
            m.volts[pins["amux"]["adc"]] = mux_reader(m, pins["amux"]["select"], self.mux)
        for z in pins["zones"]:
            self.kpa(z, 0.0)
        for h in pins["heaters"]:
            self.temp(h, ROOM_C)
            self.volts(pins["heaters"][h]["current"], pins["heaters"][h]["current"].get(
                "zero_v", 0.0))
        for key in ("roller_current", "pump_current", "force"):
            if key in pins:
                self.volts(pins[key], pins[key].get("zero_v", 0.0))
        for axis in ("back", "leg"):
            if axis in pins:
                self.volts(pins[axis]["position"], pins[axis]["position"]["v0"])
        self.board = board_main.build(pins, self.chair, m)
        self.shift = Shift(m, pins["shift"]) if "shift" in pins else None
        self.switch("seat", True)  # occupied
        self.switch("end_top", True)  # the carriage at the top end
        self.switch("end_bottom", False)
        for spec in pins["pinch"]:
            self.set_switch(spec, False)
        self.fw = Firmware(self.board, self.chair, 0.0)
        self.clock = Clock()
        self.port = Port(self.clock)
        self.wdt = Wdt()
        self.decoder = p.DeviceDecoder()
        self.messages: list = []
        self.seq = 0

    # ---- the plant side: what the sensors read
    def volts(self, spec: dict, v: float) -> None:
        if "mux" in spec:
            self.mux[spec["mux"]] = v
        else:
            self.m.volts[spec["adc"]] = v

    def kpa(self, zone: str, kpa: float) -> None:
        spec = self.pins["zones"][zone]["pressure"]
        self.volts(spec, kpa_volts(spec, kpa))

    def temp(self, heater: str, c: float) -> None:
        spec = self.pins["heaters"][heater]["thermistor"]
        self.volts(spec, thermistor_volts(spec, c))

    def set_switch(self, spec: dict, pressed: bool) -> None:
        self.m.pins[spec["pin"]].level = int(pressed != bool(spec.get("active_low", False)))

    def switch(self, key: str, pressed: bool) -> None:
        self.set_switch(self.pins[key], pressed)

    # ---- the loop and the wire
    def run_to(self, ms: int) -> None:
        """Run the board's loop until its clock reaches `ms` (a new run() each time, as
        after a pause: the clock then stands on the next tick, so no tick runs twice)."""
        self.port.stop_at = ms
        while self.clock.now < ms:
            with contextlib.suppress(Pause):
                board_main.run(self.fw, self.board, self.port, self.wdt, self.clock)

    def send(self, command: p.Command, seq: bool = True) -> int | None:
        """Queue one framed host line (CRC, and the next seq number when `seq`)."""
        n = None
        if seq:
            self.seq += 1
            n = self.seq
        self.port.inbox += p.encode_command(command, n)
        return n

    def received(self) -> list:
        """The device's messages since the last call, each a whole framed line with a good
        CRC (a bad line fails the test)."""
        data, self.port.sent = bytes(self.port.sent), bytearray()
        got = self.decoder.feed(data)
        bad = [m for m in got if isinstance(m, p.BadLine)]
        assert not bad, bad
        self.messages += got
        return got

    # ---- the pins
    def level(self, spec: dict) -> int | None:
        if "shift" in spec:
            return self.shift.bits()[spec["shift"]]
        return self.m.pins[spec["pin"]].level

    def output(self, spec: dict) -> bool:
        """The output's meaning from its pin level (a valve open, a relay closed)."""
        level = self.level(spec)
        assert level in (0, 1), (spec, level)
        return (bool(level) != bool(spec.get("active_low", False))) \
            != bool(spec.get("normally_open", False))

    def zone(self, zone: str) -> tuple[bool, bool]:
        """(fill open, vent open) of `zone`, from the pins."""
        spec = self.pins["zones"][zone]
        return self.output(spec["fill"]), self.output(spec["vent"])

    def motor_running(self, spec: dict) -> bool:
        """An H-bridge: either input on, or an enable PWM above 0."""
        on = self.output(spec["in1"]) or self.output(spec["in2"])
        if "enable" in spec:
            on = on or self.m.pwms[spec["enable"]].duty != 0
        return on

    def pwm_running(self, spec: dict) -> bool:
        duty = self.m.pwms[spec["pin"]].duty
        return duty != (FULL if spec.get("active_low", False) else 0)

    def safe(self) -> list[str]:
        """What differs on the pins from the firmware's safe state (empty: all safe)."""
        pins, wrong = self.pins, []
        if self.shift is not None and self.m.pins[pins["shift"]["enable"]].level != 0:
            wrong.append("shift register outputs disabled")
        for z in self.chair["zones"]:
            fill, vent = self.zone(z)
            if not fill:
                wrong.append(z + " fill closed")
            if not vent:
                wrong.append(z + " vent closed")
        if not self.output(pins["dump"]):
            wrong.append("dump closed")
        if self.output(pins["pump"]):
            wrong.append("pump on")
        for h in self.chair["heaters"]:
            if self.output(pins["heaters"][h]["relay"]):
                wrong.append(h + " heater relay on")
        if self.output(pins["supply"]):
            wrong.append("supply relay on")
        for axis in ("carriage", "back", "leg"):
            if axis in pins and self.motor_running(pins[axis]["motor"]):
                wrong.append(axis + " motor running")
        head = pins["head"]
        for part in ("knead", "tap"):
            if self.pwm_running(head[part]):
                wrong.append(part + " motor running")
        if "depth" in head:
            spec = head["depth"]
            retracted = int(spec["pulse_us"][0] * spec["freq"] * FULL / 1000000)
            if self.m.pwms[spec["pin"]].duty != retracted:
                wrong.append("heads not retracted")
        if "foot" in pins and self.pwm_running(pins["foot"]):
            wrong.append("foot rollers running")
        return wrong

    def sync(self) -> None:
        self.send(p.Sync())
        self.run_to(self.clock.now + 10)
        assert p.Ok(self.seq) in self.received()


def faults(messages: list) -> list[int]:
    return [m.code for m in messages if isinstance(m, p.FaultReport)]


def step_carriage(rig: Rig, edges: int) -> None:
    """Move the carriage down the track by `edges` edges of encoder A (quadrature, A leading
    B): each counts +1 pulse."""
    enc = rig.pins["carriage"]["encoder"]
    a, b = rig.m.pins[enc["a"]], rig.m.pins[enc["b"]]
    for _ in range(edges):
        a.level ^= 1
        a.handler(a)
        b.level = a.level  # B follows A a quarter period later

