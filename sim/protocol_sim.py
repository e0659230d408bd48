"""The ``sim://`` pyserial URL handler: a simulated chair behind an ordinary serial port.

pyserial finds it once ``"sim"`` is in ``serial.protocol_handler_packages``::

    serial.protocol_handler_packages.append("sim")
    port = serial.serial_for_url("sim://?height=182&seed=3&clock=virtual&fault=pinch@20")

URL options (all optional, repeat ``fault`` and ``defect`` as needed)::

    height=175        person's height in cm (150..210)
    stiffness=1.0     tissue stiffness scale (0.5..2.0)
    seated=1          1 somebody is seated, 0 the chair is empty
    seed=0            plant noise seed
    ambient=24.0      room temperature in °C
    clock=real        real (monotonic, the default) or virtual
    speed=1           with clock=real: the chair runs N times faster than real time, on a
                      `chair.clock.ScaledClock` its host shares (`port.clock`; chair serve
                      --speed N); 1 is real time. From 0.1 to 100
    fault=NAME@S      inject a fault S seconds after the port opens (chair.faults.FAULTS)
    defect=NAME       a firmware defect for tests (sim.defects.DEFECTS, RULE_DEFECTS)
    quiet=1           1 lets the device step the plant across quiet stretches, 0 never
    proto=2           protocol version the firmware speaks: 2, or 1 (whose only emergency
                      stop is `!`; see docs/protocol.md, "Versions")
    micropython=0     1 runs the firmware in real MicroPython (the WebAssembly build under
                      Node.js, `npm ci`; sim/remote.py) instead of in this process
    chair=reference   the chair description (a JSON file in firmware/chairs: reference,
                      compact, ...); the plant and the firmware are built from the same one
    truth=PATH        attach `sim.truth.Peaks` to the plant and write its `as_dict()` as
                      JSON to PATH when the port closes: the plant's true worst bag kPa,
                      heater surface °C and roller force by landmark over every step (a
                      power-cycle restarts the firmware, not the plant: the peaks span it)

The device (firmware and plant) is created when the port opens; its banner is the first
thing to read. The port exposes `.clock` and `.device` (the latter for tests only).

Virtual clock: `write` advances the device to `clock.now()` and feeds it; `read` advances
it to `clock.now()` and returns what is there, never blocking and never moving the clock
(whoever drives the run moves it with `clock.sleep_until`, or with `wait_for_input`, which
moves it to the device's next line). Real clock: `read` blocks up to `timeout`, advancing
the device in real time by waiting on the clock.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from serial.serialutil import PortNotOpenError, SerialException, to_bytes

from chair import protocol as p
from chair.clock import MonotonicClock, ScaledClock, VirtualClock
from chair.faults import parse_fault
from firmware import chairs
from sim.body import HEIGHT_CM_RANGE, STIFFNESS_RANGE, Body
from sim.device import DEFECTS, RULE_DEFECTS, Device
from sim.physics import Plant
from sim.truth import Peaks
from sim.virtual_port import BadURL, VirtualPort, query_pairs

OPTIONS = ("height", "stiffness", "seated", "seed", "ambient", "clock", "speed", "fault",
           "defect", "quiet", "proto", "micropython", "chair", "truth")
_REPEATABLE = ("fault", "defect")
_BOOL = {"1": True, "0": False, "true": True, "false": False, "yes": True, "no": False}


def _bad(option: str, value: str, accepted: str) -> BadURL:
    return BadURL(f"sim:// option {option}={value!r} is not valid; accepted: "
                           f"{accepted}")


def _number(option: str, value: str, kind: type, accepted: str) -> float:
    try:
        number = kind(value)
    except ValueError:
        raise _bad(option, value, accepted) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise _bad(option, value, accepted)
    return number


#: Numeric options with their accepted range and how to say it.
_RANGES = {
    "height": (*HEIGHT_CM_RANGE, "a height in cm from {low:g} to {high:g}"),
    "stiffness": (*STIFFNESS_RANGE, "a number from {low:g} to {high:g}"),
    "ambient": (0.0, 40.0, "a room temperature in °C from {low:g} to {high:g}"),
    "speed": (0.1, 100.0, "a speed-up of real time from {low:g} to {high:g}"),
}


def chair_names() -> list[str]:
    """The chair descriptions available: the JSON files of firmware/chairs, sorted."""
    return sorted(path.stem for path in Path(chairs.__file__).parent.glob("*.json"))


def parse_url(url: str) -> dict:
    """The options of a ``sim://`` URL, checked; raises BadURL (a SerialException and
    a ValueError) naming the option."""
    pairs = query_pairs(url, "sim", "sim://?height=175&clock=virtual")
    options: dict = {"height": 175.0, "stiffness": 1.0, "seated": True, "seed": 0,
                     "ambient": 24.0, "clock": "real", "speed": 1.0, "fault": [], "defect": [],
                     "quiet": True, "proto": p.PROTOCOL_VERSION, "micropython": False,
                     "chair": "reference", "truth": ""}
    seen: set[str] = set()
    for name, value in pairs:
        if name not in OPTIONS:
            raise BadURL(f"sim:// option {name!r} is unknown; accepted options: "
                                  f"{', '.join(OPTIONS)}")
        if name in seen and name not in _REPEATABLE:
            raise BadURL(f"sim:// option {name!r} given twice; only "
                                  f"{' and '.join(_REPEATABLE)} may repeat")
        seen.add(name)
        if name in _RANGES:
            low, high, wording = _RANGES[name]
            accepted = wording.format(low=low, high=high)
            options[name] = _number(name, value, float, accepted)
            if not low <= options[name] <= high:
                raise _bad(name, value, accepted)
        elif name == "seed":
            options[name] = int(_number(name, value, int, "a whole number"))
        elif name in ("seated", "quiet", "micropython"):
            if value.lower() not in _BOOL:
                raise _bad(name, value, "1 or 0")
            options[name] = _BOOL[value.lower()]
        elif name == "proto":
            versions = [str(v) for v in p.PROTOCOL_VERSIONS]
            if value not in versions:
                raise _bad(name, value, " or ".join(versions))
            options[name] = int(value)
        elif name == "chair":
            names = chair_names()
            if value not in names:
                raise _bad(name, value, "a chair description in firmware/chairs: "
                           + ", ".join(names))
            options[name] = value
        elif name == "truth":
            if not value:
                raise _bad(name, value, "a file path to write the plant's peaks to")
            options[name] = value
        elif name == "clock":
            if value not in ("real", "virtual"):
                raise _bad(name, value, "real or virtual")
            options[name] = value
        elif name == "fault":
            try:
                options["fault"].append(parse_fault(value))
            except ValueError as exc:
                raise BadURL(f"sim:// option fault={value!r}: {exc}") from None
        else:  # defect
            if value not in DEFECTS and value not in RULE_DEFECTS:
                raise _bad(name, value, ", ".join([*DEFECTS, *RULE_DEFECTS]))
            options["defect"].append(value)
    if options["clock"] == "virtual" and "speed" in seen:
        raise BadURL("sim:// options speed and clock=virtual do not combine: the virtual "
                     "clock moves only when the host waits on it; speed scales the real one")
    if options["micropython"] and options["defect"]:
        raise BadURL("sim:// options defect and micropython=1 do not combine: the firmware "
                     "under MicroPython is the one a board flashes, without test doubles")
    return options


class Serial(VirtualPort):
    """A simulated chair as a pyserial port (see the module docstring for the URL)."""

    def __init__(self, *args, **kwargs) -> None:
        self.clock: MonotonicClock | VirtualClock | None = None
        self.device: Device | None = None
        self._truth: tuple[str, Peaks] | None = None  # truth=PATH: where and what to write
        self._rx = bytearray()
        self._pulled_at = float("nan")  # the clock time the device was last advanced to
        self._lock = threading.RLock()
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------ open and close

    def open(self) -> None:
        if self.is_open:
            raise SerialException("Port is already open.")
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        options = parse_url(self.port)
        if options["clock"] == "virtual":
            clock: MonotonicClock | VirtualClock = VirtualClock()
        elif options["speed"] != 1.0:
            clock = ScaledClock(options["speed"])
        else:
            clock = MonotonicClock()
        body = Body(options["height"], options["stiffness"], options["seated"])
        description = chairs.load(options["chair"])
        plant = Plant(body, seed=options["seed"], ambient_c=options["ambient"],
                      chair=description)
        device = Device(clock, plant, defects=frozenset(options["defect"]), chair=description,
                        quiet=options["quiet"], proto=options["proto"],
                        micropython=options["micropython"])
        if options["truth"]:
            plant.peaks = Peaks(plant)
            self._truth = (options["truth"], plant.peaks)
        start = clock.now()
        for name, seconds in options["fault"]:
            device.schedule(name, start + seconds)
        self.clock, self.device = clock, device
        self._rx = bytearray()
        self._pulled_at = float("nan")
        self._reconfigure_port()
        self.is_open = True

    def close(self) -> None:
        self.is_open = False
        if self.device is not None:
            self.device.close()  # the firmware's interpreter, when it runs in one
        if self._truth is not None:
            path, peaks = self._truth
            self._truth = None
            Path(path).write_text(json.dumps(peaks.as_dict(), sort_keys=True), encoding="utf-8")

    def _reconfigure_port(self) -> None:
        if not isinstance(self._baudrate, int) or not 0 < self._baudrate < 2 ** 32:
            raise ValueError(f"invalid baudrate: {self._baudrate!r}")

    # ------------------------------------------------------------------ data

    def _pull(self) -> None:
        """Advance the device to now. Its lines wait in its own bounded transmit buffer
        (fault pushes first) until a read takes them: `_rx` holds at most the rest of one."""
        device = self.device
        now = self.clock.now()
        if now != self._pulled_at:  # (the device has run every tick up to a time it was at)
            device.advance_to(now)
            self._pulled_at = now

    def _waiting(self) -> int:
        return len(self._rx) + self.device.output_waiting

    def _take(self, size: int) -> bytes:
        if len(self._rx) < size and self.device.output_waiting:
            self._rx += self.device.read_output(size - len(self._rx))
        if size >= len(self._rx):
            data = bytes(self._rx)
            self._rx.clear()
            return data
        data = bytes(self._rx[:size])
        del self._rx[:size]
        return data

    @property
    def in_waiting(self) -> int:
        if not self.is_open:
            raise PortNotOpenError()
        with self._lock:
            self._pull()
            return self._waiting()

    @property
    def out_waiting(self) -> int:
        if not self.is_open:
            raise PortNotOpenError()
        return 0

    def read(self, size: int = 1) -> bytes:
        if not self.is_open:
            raise PortNotOpenError()
        if size <= 0:
            return b""
        with self._lock:
            self._pull()
            if self._waiting() >= size or self.clock.virtual or self._timeout == 0:
                return self._take(size)
        clock = self.clock
        deadline = None if self._timeout is None else clock.now() + self._timeout
        tick = self.device.tick_s
        while self.is_open:
            now = clock.now()
            if deadline is not None and now >= deadline:
                break
            clock.sleep_until(now + tick if deadline is None else min(now + tick, deadline))
            with self._lock:
                self._pull()
                if self._waiting() >= size:
                    break
        with self._lock:
            return self._take(size)

    def wait_for_input(self, deadline: float) -> None:
        """Return at clock time `deadline`, or as soon as there is something to read.

        On the virtual clock this is how fast-forward skips empty time: the device runs up to
        its first line for the host (or to the deadline) and the clock jumps there, in one
        step across quiet stretches. On the real clock it waits tick by tick.
        """
        if not self.is_open:
            raise PortNotOpenError()
        clock, device = self.clock, self.device
        if clock.virtual:
            with self._lock:
                if self._rx or device.output_waiting:
                    return
                stopped = device.advance_to(deadline, until_output=True)
                target = stopped if device.output_waiting else deadline
                clock.sleep_until(target)
                if target >= clock.now():  # the device has run every tick up to now
                    self._pulled_at = target
            return
        tick = device.tick_s
        while self.is_open:
            with self._lock:
                self._pull()
                if self._waiting():
                    return
            now = clock.now()
            if now >= deadline:
                return
            clock.sleep_until(min(now + tick, deadline))

    def write(self, data) -> int:
        if not self.is_open:
            raise PortNotOpenError()
        data = to_bytes(data)
        with self._lock:
            self.device.receive(data)
        return len(data)

    def reset_input_buffer(self) -> None:
        if not self.is_open:
            raise PortNotOpenError()
        with self._lock:
            self._pull()
            self._rx.clear()
            self.device.read_output()

    def reset_output_buffer(self) -> None:
        if not self.is_open:
            raise PortNotOpenError()  # writes reach the device at once: nothing is queued
