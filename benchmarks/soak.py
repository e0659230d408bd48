"""Soak: hours of fast-forwarded random sessions on a noisy wire, every invariant checked.

    python -m benchmarks.soak [--hours 2] [--seed N] [--error-rate 1e-3] [--json]
                              [--tracemalloc] [--flips-only] [--proto 1|2]

Back-to-back sessions, each on a fresh simulated chair on the virtual clock: a random
program (the shipped ones and a short one that uses every actuator), random options
(intensity, cautions, minutes), a random plant fault or power cycle in about half of them,
random user pauses, resumes and stops, and a byte error rate on the wire both ways (a bit
flipped, a byte dropped or a byte inserted; with `--flips-only`, only flipped bits: the
`corrupt` link fault). The invariants below are checked after every
controller tick (50 ms) and on every status report; the run prints the sessions, simulated
hours, wall time, invariant violations (must be 0), emergency stops latched per simulated
hour (the soak never asks for one: each is noise on the wire; docs/protocol.md §10.1),
peak RSS and RSS growth per simulated hour, and exits 1 on any violation. `--proto 1` runs
the sessions on a chair that speaks protocol 1 (whose stop is `!`), for comparison.

The harness (`FlakyPort`, `Rig`, `Invariants`) is shared with the property tests
(tests/test_properties.py). Its checks read the device and the plant from outside: the
plant's truth arrays, the device's public views, the bytes on the wire, and two wrappers,
one around `Link.send` (what the controller asked for, in which state) and one around the
device's command execution (what the firmware ran, under which sequence number).

Invariants (each a rule of the team guide's safety.md; times are the rule's reaction time plus
one observation interval):

* airbags: truth pressure at most the device cap + 0.5 kPa; a reading above the cap with
  air still going in is vented within `airbag_react_s`; no bag inflating (fill valve open
  to a pressurised manifold) longer than `airbag_inflate_s_max`; samples at most the run's
  (host) cap + the supervisor's margin;
* heat: surface at most `heat_c_max`; a reading above it with the heater on: off within
  1 s; a reading outside the thermistor's range: heater off and F08 latched within 100 ms;
  samples at most the host's `heat_c_max`;
* motion: a driven carriage whose encoder does not move, or an over-current, stops within
  its time; a pinch during recline motion latches within `pinch_react_s`; a pinch reversal
  ends within 1 s; nothing massages an empty seat;
* the device: a latched fault means every output at its safe value and no setpoint; no
  output active longer than the dead-man after the last valid frame, nor any setpoint
  longer than `lease_ms_max` after the last accepted actuation or renewal; every sequence
  number executed at most once, and as the host sent it;
* the controller: no actuation asked for outside scanning, running, paused and parking;
  once in fault, estop, idle or disconnected the device is at rest within `REST_BOUND_S`.

Known gaps: none today. Excursions that a test in tests/test_properties.py reproduces as a
strict xfail may be counted apart (`known_gaps`) so the soak still shows every other one.

Excused: on a plant without a heater supply relay a welded heater relay heats past the
cut-off whatever the firmware does; those excursions are counted as `excused`. Shorted
thermistors read 150 °C, which a sample shows; also excused (the device latches F08).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field

from chair import limits
from chair import protocol as p
from chair.caps import CAUTIONS, make_caps
from chair.controller import MOTION_STATES, TICK_S, Controller
from chair.errors import ChairError, LinkError
from chair.faults import PLANT_FAULTS
from chair.link import Link
from chair.ports import open_port
from chair.program import Program, load_program, program_from_dict
from chair.safety import AIR_MARGIN_KPA
from chair.trace import Trace
from firmware.limits import Refuse

try:  # the benchmarks package's helpers; a stand-alone copy keeps the soak running alone
    from benchmarks.common import peak_rss_kb, rss_kb
except ImportError:  # pragma: no cover
    def rss_kb() -> int:
        return 0

    def peak_rss_kb() -> int:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

DEV = limits.DEVICE
HOST = limits.HOST
DEVICE_TICK_S = DEV["tick_ms"] / 1000.0
AIR_CAPS = [DEV[f"airbag_kpa_max.{zone}"] for zone in limits.ZONES]
#: Truth above the device cap tolerated (valve lag and sensor noise; as tests/sim/test_device).
AIR_TRUTH_MARGIN_KPA = 0.5
#: Sensor noise is under 0.05 kPa / °C (sim.physics.NOISE_MAX).
NOISE = 0.05
#: Over-current threshold of the firmware (firmware.axes.OVERCURRENT_A, a control detail).
OVERCURRENT_A = 2.0
ENCODER_STILL_MM = 0.5
#: A pinch reversal runs `pinch_reverse_pct` at 7.7 %/s at the slowest: well under 1 s.
REVERSAL_S = 1.0
#: Once the controller is in fault, estop, idle or disconnected, the device is at rest within
#: this long: one lease (`lease_ms_max`) after the last frame that could have renewed it,
#: plus the dead-man, for the STOP that a noisy wire may delay or lose.
REST_BOUND_S = DEV["lease_ms_max"] / 1000.0 + DEV["deadman_ms"] / 1000.0
REST_STATES = ("fault", "estop", "idle", "disconnected")
SEQUENCED = (p.Kind.CONTROL, p.Kind.ACTUATE)

#: A short program that uses every actuator at the top of its caps (levels 5, heat 3).
QUICK_PROGRAM = {
    "program": {"name": "quick", "title": "Every actuator, briefly",
                "purpose": "Exercises roller, airbags, heat, foot rollers and recline."},
    "step": [
        {"zone": "lumbar", "name": "knead and squeeze", "seconds": 12,
         "roller": {"technique": "knead", "from": "t12", "to": "sacrum", "depth": 3,
                    "speed": 4},
         "airbags": {"lumbar": 5, "calves": 5, "inflate_s": 3.0, "hold_s": 2.0,
                     "vent_s": 1.0},
         "heat": {"lumbar": 3, "seat": 3}, "recline": {"back_pct": 40, "leg_pct": 60}},
        {"zone": "feet", "name": "feet and arms", "seconds": 8, "foot": 3,
         "airbags": {"feet": 5, "shoulders": 5, "arms": 5, "seat": 5, "inflate_s": 2.0,
                     "hold_s": 1.0, "vent_s": 1.0},
         "heat": {"seat": 3}, "recline": {"back_pct": 10, "leg_pct": 0}},
    ],
}
SHIPPED = ("lumbar", "gluteal", "piriformis", "legs", "feet", "sciatica")
_PROGRAMS: dict[str, Program] = {}


def program(name: str) -> Program:
    """`quick` or a shipped program, loaded once."""
    if name not in _PROGRAMS:
        _PROGRAMS[name] = (program_from_dict(QUICK_PROGRAM, "<quick>") if name == "quick"
                           else load_program(name))
    return _PROGRAMS[name]


# ------------------------------------------------------------------------------ the wire


class FlakyPort:
    """A pyserial port seen through a noisy wire: errors at `rate_out` on the bytes the
    host writes and at `rate_in` on the bytes it reads (per byte; a bit flipped, the byte
    dropped or a random byte inserted after it). Seeded, so a run repeats exactly.

    Also records the host's frames as they left (before the noise), by sequence number.
    """

    def __init__(self, inner, rng: random.Random, rate_out: float = 0.0,
                 rate_in: float = 0.0, *, flips_only: bool = False) -> None:
        self.inner = inner
        self.flips_only = flips_only  # every error a flipped bit, none dropped or inserted
        self.port = inner.port
        self.rng = rng
        self.rate_out = rate_out
        self.rate_in = rate_in
        self._gap_out = self._gap(rate_out)
        self._gap_in = self._gap(rate_in)
        self._rx = bytearray()
        self._clean = p.HostDecoder()
        self.sent: dict[int, p.Command] = {}  # seq -> the command the host framed
        self.errors = 0
        self.on_delivered = None  # called with the bytes that reach the device

    def set_rates(self, rate_out: float, rate_in: float) -> None:
        self.rate_out, self.rate_in = rate_out, rate_in
        self._gap_out, self._gap_in = self._gap(rate_out), self._gap(rate_in)

    def _gap(self, rate: float) -> float:
        """Bytes until the next error (geometric, drawn once per error)."""
        if rate <= 0:
            return math.inf
        return math.floor(math.log(1.0 - self.rng.random()) / math.log(1.0 - rate))

    def _mangle(self, data: bytes, outgoing: bool) -> bytes:
        gap = self._gap_out if outgoing else self._gap_in
        if gap >= len(data):
            gap -= len(data)
        else:
            out = bytearray()
            pos = 0
            rate = self.rate_out if outgoing else self.rate_in
            while gap < len(data) - pos:
                at = pos + int(gap)
                out += data[pos:at]
                byte = data[at]
                kind = self.rng.random()
                if kind < 0.6 or self.flips_only:
                    out.append(byte ^ (1 << self.rng.randrange(8)))
                elif kind < 0.8:
                    pass  # dropped
                else:
                    out.append(byte)
                    out.append(self.rng.randrange(256))
                self.errors += 1
                pos = at + 1
                gap = self._gap(rate)
            out += data[pos:]
            data = bytes(out)
        if outgoing:
            self._gap_out = gap
        else:
            self._gap_in = gap
        return data

    def write(self, data: bytes) -> int:
        data = bytes(data)
        for event in self._clean.feed(data):
            if type(event) is p.Frame and event.seq is not None \
                    and event.command.KIND in SEQUENCED:
                self.sent.setdefault(event.seq, event.command)
        delivered = self._mangle(data, True) if self.rate_out else data
        if self.on_delivered is not None:
            self.on_delivered(delivered)
        self.inner.write(delivered)
        return len(data)

    def write_clean(self, data: bytes) -> None:
        """Bytes that reach the device untouched (a user typing at the chair's port)."""
        if self.on_delivered is not None:
            self.on_delivered(data)
        self.inner.write(data)

    @property
    def in_waiting(self) -> int:
        waiting = self.inner.in_waiting
        if waiting:
            data = self.inner.read(waiting)
            self._rx += self._mangle(data, False) if self.rate_in else data
        return len(self._rx)

    def read(self, size: int = 1) -> bytes:
        self.in_waiting  # noqa: B018 - pulls what arrived
        data = bytes(self._rx[:size])
        del self._rx[:size]
        return data

    def reset_input_buffer(self) -> None:
        self.inner.reset_input_buffer()
        self._rx.clear()

    def close(self) -> None:
        self.inner.close()


# ------------------------------------------------------------------------------ invariants


@dataclass
class Tally:
    """What the checks found: violations (must be none), known gaps and excused ones."""

    violations: list[str] = field(default_factory=list)
    known_gaps: Counter = field(default_factory=Counter)
    excused: Counter = field(default_factory=Counter)
    checks: int = 0
    samples: int = 0
    max_rest_latency_s: float = 0.0

    def merge(self, other: Tally) -> None:
        self.violations += other.violations
        self.known_gaps.update(other.known_gaps)
        self.excused.update(other.excused)
        self.checks += other.checks
        self.samples += other.samples
        self.max_rest_latency_s = max(self.max_rest_latency_s, other.max_rest_latency_s)


class _Since:
    """When each named condition started to hold (checked at observation times)."""

    def __init__(self) -> None:
        self.start: dict[str, float] = {}

    def held(self, name: str, cond: bool, now: float) -> float:
        """How long `name` has held, 0 when it does not hold now."""
        if not cond:
            self.start.pop(name, None)
            return 0.0
        return now - self.start.setdefault(name, now)


class Invariants:
    """Every safety rule checked from outside the device and the controller."""

    def __init__(self, rig: Rig, slack_s: float) -> None:
        self.rig = rig
        self.slack = slack_s + 1e-6
        self.tally = Tally()
        self._since = _Since()
        self._last_valid = rig.clock.now()  # last valid frame the device received
        self._decoder = p.HostDecoder()
        self._last_ok = -math.inf  # last accepted actuation or renewal
        self._executed: Counter = Counter()
        self._ever: set[str] = set()  # plant faults ever active in this rig
        self.latched_ever: set[p.FaultCode] = set()
        plant = rig.plant
        #: A plant with a heater supply relay can cut even a welded heater relay; one
        #: with a manifold dump valve makes an open fill valve a relief path.
        self._supply = hasattr(plant, "heater_supply")
        self._dump = hasattr(plant, "dump_open")
        self._rest_since = 0.0
        self._rest_state: str | None = None
        self._rest_measured = True

    # ---- feeds from the wrappers

    def delivered(self, data: bytes) -> None:
        """Host bytes as they reach the device: a valid frame restarts its dead-man."""
        now = self.rig.clock.now()
        for event in self._decoder.feed(data):
            if type(event) is p.Frame and event.crc:
                self._last_valid = now

    def executed(self, command: p.Command, seq: int | None, reply) -> None:
        """The firmware ran `command` under `seq` (sequenced lines only)."""
        now = self.rig.clock.now()
        renews = command.KIND is p.Kind.ACTUATE or isinstance(command, p.Renew)
        if renews and isinstance(reply, p.Ok):
            self._last_ok = now
        if seq is None:
            return
        self._executed[seq] += 1
        if self._executed[seq] > 1:
            self._fail(f"seq {seq} ({command.wire()}) executed {self._executed[seq]} times")
        sent = self.rig.port.sent.get(seq)
        if sent is not None and sent != command:
            self._fail(f"seq {seq}: the device executed {command.wire()!r} but the host sent "
                       f"{sent.wire()!r} (a corrupted frame passed its CRC)")

    def asked(self, command: p.Command, state: str) -> None:
        """The controller handed `command` to the link in `state`."""
        if command.KIND is p.Kind.ACTUATE and state not in MOTION_STATES:
            self._fail(f"controller asked for {command.wire()!r} in state {state}")

    def sample(self, record: dict) -> None:
        """A trace sample: the device's readings against the run's own caps."""
        caps = self.rig.controller.caps
        if caps is None:
            return
        self.tally.samples += 1
        self._ever |= self.rig.plant.active_faults  # a fault may have begun this tick
        for zone, kpa in record["airbags"].items():
            if kpa > caps.airbag_kpa[zone] + AIR_MARGIN_KPA + NOISE:
                self._fail(f"sample t={record['t']}: airbag {zone} {kpa} kPa above the run's "
                           f"cap {caps.airbag_kpa[zone]}")
        for zone, temp in record["heat_c"].items():
            if temp > caps.heat_c_max:
                if "thermistor-short" in self._ever:
                    self.tally.excused["shorted thermistor reading in a sample"] += 1
                elif "heater-welded" in self._ever and not self._supply:
                    self.tally.excused["welded heater past the cut-off"] += 1
                else:
                    self._fail(f"sample t={record['t']}: heater {zone} reads {temp} °C, above "
                               f"the run's cut-off {caps.heat_c_max}")

    # ---- the check

    def _fail(self, what: str) -> None:
        now = self.rig.clock.now()
        text = f"t={now:.2f} {what}"
        if len(self.tally.violations) < 200:
            self.tally.violations.append(text)

    def check(self) -> None:
        """Every invariant at the current time (the device advanced to it first)."""
        rig = self.rig
        dev, plant, now = rig.dev, rig.plant, rig.clock.now()
        dev.advance_to(now)
        self.tally.checks += 1
        self._ever |= plant.active_faults
        held = self._since.held
        slack = self.slack
        latched = dev.faults

        # --- airbags (rule 7): truth under the device cap, react to a reading above it
        bag = plant.bag_kpa.tolist()
        reading = plant.pressure_kpa.tolist()
        pressurised = plant.pump_running and not (self._dump and plant.dump_open)
        fill = plant.fill_open.tolist() if pressurised else [False] * len(bag)
        for z, zone in enumerate(limits.ZONES):
            cap = AIR_CAPS[z]
            if bag[z] > cap + AIR_TRUTH_MARGIN_KPA:
                self._fail(f"airbag {zone} holds {bag[z]:.2f} kPa, device cap {cap:g}")
            if held(f"over.{zone}", reading[z] > cap and fill[z], now) > DEV["airbag_react_s"] \
                    + slack:
                self._fail(f"airbag {zone} reads {reading[z]:.2f} > {cap:g} kPa and is not "
                           f"vented after {DEV['airbag_react_s']:g} s")
            if held(f"fill.{zone}", fill[z], now) > DEV["airbag_inflate_s_max"] + slack:
                self._fail(f"airbag {zone} inflating for longer than "
                           f"{DEV['airbag_inflate_s_max']:g} s")

        # --- heat (rule 8)
        surface = plant.surface_c.tolist()
        temps = plant.thermistor_c.tolist()
        heater = (plant.heaters_powered if self._supply else plant.heater_on).tolist()
        for h, zone in enumerate(limits.HEATERS):
            if surface[h] > DEV["heat_c_max"]:
                if "heater-welded" in self._ever and not self._supply:
                    self.tally.excused["welded heater past the cut-off"] += 1
                else:
                    self._fail(f"heater {zone} surface {surface[h]:.2f} °C above "
                               f"{DEV['heat_c_max']:g}")
            if held(f"hot.{zone}", temps[h] > DEV["heat_c_max"] and heater[h], now) > 1.0 \
                    + slack:
                self._fail(f"heater {zone} reads {temps[h]:.1f} °C and is still on after 1 s")
            implausible = not DEV["thermistor_c_min"] <= temps[h] <= DEV["thermistor_c_max"]
            unsafe = heater[h] or p.FaultCode.THERMISTOR not in latched
            if held(f"therm.{zone}", implausible and unsafe, now) > 0.1 + slack:
                self._fail(f"thermistor {zone} reads {temps[h]:.1f} °C: heater not off and "
                           "latched within 100 ms")

        # --- motion (rule 9), entrapment (rule 10), occupancy (rule 11)
        drive = plant.carriage_drive
        if drive:
            moved = self._since.start.get("still-pos")
            if moved is None or abs(plant.encoder_mm - moved) >= ENCODER_STILL_MM:
                self._since.start["still-pos"] = plant.encoder_mm
                self._since.start.pop("still", None)
        else:
            self._since.start.pop("still-pos", None)
        still = held("still", bool(drive), now)
        if still > DEV["stall_s"] + slack:
            self._fail(f"carriage driven {still:.2f} s with a still encoder")
        if held("oc", bool(drive) and plant.roller_current_a > OVERCURRENT_A, now) \
                > DEV["overcurrent_s"] + slack:
            self._fail(f"roller over-current for {DEV['overcurrent_s']:g} s and still driven")
        recline = bool(plant.back_drive or plant.leg_drive)
        if held("pinch", plant.pinch and recline and p.FaultCode.PINCH not in latched, now) \
                > DEV["pinch_react_s"] + slack:
            self._fail("recline moving on a pinch without latching F13")
        if held("reverse", recline and bool(latched), now) > REVERSAL_S + slack:
            self._fail("recline or leg rest still moving 1 s after a fault latched")
        massage = (plant.technique != "off" or plant.depth or plant.foot_speed
                   or any(heater) or any(fill))
        if held("vacant", bool(massage) and not plant.occupied, now) > DEVICE_TICK_S + slack:
            self._fail("massaging an empty seat")

        # --- the device: latched means safe; dead-man; leases
        if latched:
            self.latched_ever |= latched
            unsafe = _unsafe_outputs(dev, plant, pressurised)
            if unsafe:
                self._fail(f"faults {sorted(f.wire for f in latched)} latched but "
                           f"{', '.join(unsafe)}")
        # the plant publishes its truth at the end of a step: powered lags one tick
        powered = self._supply and bool(latched) and plant.heaters_powered.any()
        if held("powered", powered, now) > DEVICE_TICK_S + slack:
            self._fail(f"faults {sorted(f.wire for f in latched)} latched but a heater is "
                       "still powered")
        if dev.active and now - self._last_valid > DEV["deadman_ms"] / 1000.0 \
                + DEVICE_TICK_S + slack:
            self._fail(f"device active {now - self._last_valid:.3f} s after its last valid "
                       "frame")
        if dev.setpoints() and now - self._last_ok > DEV["lease_ms_max"] / 1000.0 \
                + DEVICE_TICK_S + slack:
            self._fail(f"setpoints {sorted(dev.setpoints())} outlive their lease")

        # --- the controller: at rest means the device is at rest, soon
        state = rig.controller.state
        if state in REST_STATES:
            if state != self._rest_state:
                self._rest_since, self._rest_state, self._rest_measured = now, state, False
            waited = now - self._rest_since
            if dev.active and waited > REST_BOUND_S + slack:
                self._fail(f"controller in {state} for {waited:.2f} s but the device is "
                           f"active: {sorted(dev.setpoints())}")
            if not dev.active and not self._rest_measured:
                self._rest_measured = True
                self.tally.max_rest_latency_s = max(self.tally.max_rest_latency_s, waited)
        else:
            self._rest_state = None


def _unsafe_outputs(dev, plant, pressurised: bool) -> list[str]:
    """What is not at its safe value: the firmware's commands, and the truth where a
    second path (dump valve, heater supply relay) makes a stuck part harmless."""
    unsafe = []
    if plant.carriage_drive:
        unsafe.append("carriage driven")
    if plant.technique != "off" or plant.depth:
        unsafe.append("roller heads out")
    if pressurised and plant.fill_open.any():
        unsafe.append("a fill valve open to a pressurised manifold")
    if not plant.vent_open.all():
        unsafe.append("vent closed")
    if plant.pump_on:
        unsafe.append("pump on")
    if plant.heater_on.any():
        unsafe.append("heater relay on")
    if getattr(plant, "heater_supply", False):
        unsafe.append("heater supply relay closed")
    if plant.foot_speed:
        unsafe.append("foot rollers on")
    if dev.setpoints():
        unsafe.append(f"setpoints {sorted(dev.setpoints())}")
    return unsafe


# ------------------------------------------------------------------------------ one rig


class Rig:
    """One simulated chair, a noisy wire, a link and a controller, instrumented.

    `slack_s` is how often the invariants are checked: `tick()` checks every device tick
    when it is the device tick (the property tests), else once per controller tick.
    """

    def __init__(self, seed: int, prog: Program, *, intensity: int = 5,
                 cautions: tuple[str, ...] = (), minutes: float | None = None,
                 rate_out: float = 0.0, rate_in: float = 0.0, height: float = 175.0,
                 slack_s: float = TICK_S, defects: tuple[str, ...] = (),
                 proto: int = p.PROTOCOL_VERSION, flips_only: bool = False) -> None:
        url = f"sim://?clock=virtual&seed={seed}&height={height:g}&proto={proto}"
        self.raw = open_port(url + "".join(f"&defect={name}" for name in defects))
        self.clock = self.raw.clock
        self.dev = self.raw.device
        self.plant = self.dev.plant
        self.port = FlakyPort(self.raw, random.Random(seed), rate_out, rate_in,
                              flips_only=flips_only)
        self.estops = 0  # emergency stops latched (F01 set where it was not)
        self.fine = slack_s <= DEVICE_TICK_S + 1e-9
        self.handshake_failures = 0
        self.crashed: Exception | None = None
        self.inv = Invariants(self, slack_s)
        self.port.on_delivered = self.inv.delivered
        self.link = Link(self.port, self.clock)
        self.trace = Trace(None)
        self.trace.listeners.append(self._record)
        self.trace.header(program=prog.name)
        self.controller = Controller(
            self.link, self.clock, self.trace, prog,
            lambda device: make_caps(device, intensity=intensity, cautions=cautions,
                                     minutes=minutes))
        self._wrap()

    def _wrap(self) -> None:
        inv, controller = self.inv, self.controller
        send = self.link.send

        def asked(command: p.Command) -> None:
            inv.asked(command, controller.state)
            send(command)

        self.link.send = asked
        fw = self.dev.fw  # the firmware's entry points for commands and for latching
        execute, fault = fw.execute, fw.fault

        def executed(verb: str, args: tuple, seq: int | None, now: float):
            command = p.COMMANDS[verb](*args)
            try:
                data = execute(verb, args, seq, now)
            except Refuse as refusal:
                if command.KIND in SEQUENCED:
                    inv.executed(command, seq, p.Error(seq, p.ErrorCode(refusal.code),
                                                       refusal.detail))
                raise
            if command.KIND in SEQUENCED:
                inv.executed(command, seq, p.Ok(seq, data or ""))
            return data

        def latched(code: int, detail: str) -> None:
            self.estops += code == p.FaultCode.ESTOP and code not in fw.latch.latched
            fault(code, detail)

        fw.execute = executed
        fw.fault = latched

    def _record(self, record: dict) -> None:
        if record["type"] == "sample":
            self.inv.sample(record)

    @property
    def tally(self) -> Tally:
        return self.inv.tally

    def connect(self, attempts: int = 1) -> bool:
        """Connect as `chair run` does, trying again (as its user would) after a handshake
        that a noisy wire spoiled; True once the controller is idle."""
        controller = self.controller
        for _ in range(attempts):
            try:
                if controller.state != "disconnected":
                    controller.fire("disconnect")
                controller.fire("connect")
            except ChairError:
                self.handshake_failures += 1
            finally:
                self.inv.check()
            if controller.state == "idle":
                return True
        return False

    def tick(self) -> None:
        """One controller tick, then time to the next one, checked as it passes.

        An exception out of the controller is a host crash: it is recorded as a violation,
        the controller is not ticked again, and time goes on, so
        the checks see the device bring itself to rest on its own.
        """
        if self.crashed is None:
            try:
                self.controller.tick()
            except LinkError as exc:
                self.link_lost(exc)
            except ChairError:
                raise
            except Exception as exc:  # any crash of the host is a finding
                self.crashed = exc
                self.inv._fail(f"the controller raised {exc!r}")
        self.inv.check()
        self.wait(TICK_S)

    def fire(self, event: str, **info: object) -> bool:
        """`controller.fire`, with a link that fails on the way handled as `chair run` does."""
        try:
            return self.controller.fire(event, **info)
        except LinkError as exc:
            self.link_lost(exc)
            return False

    def link_lost(self, exc: LinkError) -> None:
        """The link gave up (a desync, or a line never answered): the controller records it
        and ends disconnected, touching no port (as chair.runner does); the device, left
        alone, brings itself to rest."""
        controller = self.controller
        controller.reason = f"link lost: {exc}"
        controller.trace.event(controller.t, "fault", source="link", detail=controller.reason)
        if controller.state != "disconnected":
            controller.fire("disconnect")

    def wait(self, seconds: float) -> None:
        """Let `seconds` pass with no controller tick (the host is busy or silent)."""
        end = self.clock.now() + seconds
        step = DEVICE_TICK_S if self.fine else TICK_S
        while self.clock.now() < end - 1e-9:
            self.clock.sleep_until(min(end, self.clock.now() + step))
            self.inv.check()

    def close(self) -> None:
        self.port.close()


# ------------------------------------------------------------------------------ sessions


@dataclass
class Result:
    sessions: int = 0
    simulated_s: float = 0.0
    wall_s: float = 0.0
    outcomes: Counter = field(default_factory=Counter)
    faults_injected: Counter = field(default_factory=Counter)
    device_faults: Counter = field(default_factory=Counter)
    wire_errors: int = 0
    handshake_failures: int = 0
    estops: int = 0  # F01 latched: never asked for, so each one came from the noise
    tally: Tally = field(default_factory=Tally)
    peak_rss_kb: int = 0
    rss_start_kb: int = 0
    rss_end_kb: int = 0
    rss_growth_kb_per_h: float = 0.0
    traced_growth_kb_per_h: float | None = None

    def as_dict(self) -> dict:
        tally = self.tally
        return {
            "sessions": self.sessions, "simulated_h": round(self.simulated_s / 3600, 3),
            "wall_s": round(self.wall_s, 2),
            "speedup": round(self.simulated_s / self.wall_s) if self.wall_s else None,
            "violations": len(tally.violations), "violation_list": tally.violations[:20],
            "known_gaps": dict(tally.known_gaps), "excused": dict(tally.excused),
            "checks": tally.checks, "samples": tally.samples,
            "max_rest_latency_s": round(tally.max_rest_latency_s, 3),
            "outcomes": dict(self.outcomes), "faults_injected": dict(self.faults_injected),
            "device_faults": dict(self.device_faults),
            "wire_errors": self.wire_errors, "estops": self.estops,
            "estops_per_h": round(self.estops / (self.simulated_s / 3600), 2)
            if self.simulated_s else None,
            "handshake_failures": self.handshake_failures, "peak_rss_kb": self.peak_rss_kb,
            "rss_start_kb": self.rss_start_kb, "rss_end_kb": self.rss_end_kb,
            "rss_growth_kb_per_h": round(self.rss_growth_kb_per_h, 1),
            "traced_growth_kb_per_h": None if self.traced_growth_kb_per_h is None
            else round(self.traced_growth_kb_per_h, 1),
        }


FAULT_CHOICES = (*sorted(PLANT_FAULTS), "power-cycle")


def session(rng: random.Random, seed: int, error_rate: float, result: Result, *,
            proto: int = p.PROTOCOL_VERSION, flips_only: bool = False) -> None:
    """One random session to its end, with random faults and user actions."""
    name = rng.choice(("quick", *SHIPPED))
    minutes = rng.choice((0.5, 1, 2, 3, 5, 10, 15))
    cautions = tuple(c for c in CAUTIONS if rng.random() < 0.15)
    rig = Rig(seed, program(name), intensity=rng.randint(1, 5), cautions=cautions,
              minutes=minutes, rate_out=error_rate, rate_in=error_rate,
              height=rng.uniform(150, 210), proto=proto, flips_only=flips_only)
    start = rig.clock.now()
    try:
        if rng.random() < 0.5:
            fault = rng.choice(FAULT_CHOICES)
            rig.dev.schedule(fault, start + rng.uniform(0, minutes * 60))
            result.faults_injected[fault] += 1
        outcome = _drive(rig, rng, minutes * 60)
        result.outcomes[outcome] += 1
        # after the run: the host stays quiet a while; the device must stay at rest
        rig.wait(3.0)
    finally:
        rig.close()
    result.sessions += 1
    result.simulated_s += rig.clock.now() - start
    result.wire_errors += rig.port.errors
    result.estops += rig.estops
    result.device_faults.update(code.wire for code in rig.inv.latched_ever)
    result.handshake_failures += rig.handshake_failures
    result.tally.merge(rig.tally)


def _drive(rig: Rig, rng: random.Random, seconds: float) -> str:
    """Connect, start, and run to the session's end; after a fault or an emergency stop,
    wait a little, reset and start again (a user who carries on) a few times."""
    controller = rig.controller
    if not rig.connect(attempts=5):
        return "no-connect"
    if not controller.fire("start"):
        return "refused"
    deadline = rig.clock.now() + seconds + 120.0
    restarts = 0
    while rig.clock.now() < deadline:
        state = controller.state
        if state not in MOTION_STATES:
            if state in ("fault", "estop") and restarts < 10 and rng.random() < 0.8:
                restarts += 1
                rig.wait(rng.uniform(0.5, 5.0))
                if rig.fire("reset"):
                    rig.fire("start")
                rig.inv.check()
                continue
            break
        if rig.crashed is not None:
            return "host-crashed"
        roll = rng.random()
        if roll < 0.0005:
            controller.fire("pause")
        elif roll < 0.0015:
            controller.fire("resume")
        elif roll < 0.0016:
            controller.fire("stop", reason="stopped by the user")
        rig.tick()
    if controller.state == "idle":
        return "completed" if controller.completed else "idle"
    return controller.state


def run(hours: float, seed: int, error_rate: float = 1e-3, *,
        use_tracemalloc: bool = False, progress=None, proto: int = p.PROTOCOL_VERSION,
        flips_only: bool = False) -> Result:
    """Back-to-back sessions for `hours` of simulated time."""
    rng = random.Random(seed)
    result = Result()
    if use_tracemalloc:
        tracemalloc.start()
    wall = time.perf_counter()
    result.rss_start_kb = rss_kb()
    marks: list[tuple[float, int, int]] = []  # (simulated s, rss kB, traced kB)
    while result.simulated_s < hours * 3600.0:
        session(rng, rng.randrange(1 << 30), error_rate, result, proto=proto,
                flips_only=flips_only)
        traced = tracemalloc.get_traced_memory()[0] // 1024 if use_tracemalloc else 0
        marks.append((result.simulated_s, rss_kb(), traced))
        if progress is not None:
            progress(result)
    result.wall_s = time.perf_counter() - wall
    result.rss_end_kb = rss_kb()
    result.peak_rss_kb = peak_rss_kb()
    # growth: the least-squares slope over the second half of the run (the first sessions
    # warm caches and imports), per simulated hour
    half = [m for m in marks if m[0] >= marks[-1][0] / 2] if marks else []
    if len(half) >= 3:
        result.rss_growth_kb_per_h = _slope([m[0] / 3600 for m in half], [m[1] for m in half])
        if use_tracemalloc:
            result.traced_growth_kb_per_h = _slope([m[0] / 3600 for m in half],
                                                   [m[2] for m in half])
    if use_tracemalloc:
        tracemalloc.stop()
    return result


def _slope(xs: list[float], ys: list[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def render(result: Result) -> str:
    d = result.as_dict()
    rows = [
        ("sessions", d["sessions"]),
        ("simulated hours", d["simulated_h"]),
        ("wall time (s)", d["wall_s"]),
        ("speed-up over real time", d["speedup"]),
        ("invariant checks", d["checks"]),
        ("status samples checked", d["samples"]),
        ("invariant violations (must be 0)", d["violations"]),
        ("known gaps (xfail in tests)", d["known_gaps"] or 0),
        ("excused (see the module's docstring)", d["excused"] or 0),
        ("slowest controller-rest to device-rest (s)", d["max_rest_latency_s"]),
        ("wire errors injected", d["wire_errors"]),
        ("emergency stops latched by the noise", d["estops"]),
        ("  per simulated hour", d["estops_per_h"]),
        ("handshakes spoiled by the noise (retried)", d["handshake_failures"]),
        ("outcomes", d["outcomes"]),
        ("faults injected", d["faults_injected"]),
        ("sessions where the device latched", d["device_faults"]),
        ("peak RSS (KiB)", d["peak_rss_kb"]),
        ("RSS start / end (KiB)", f"{d['rss_start_kb']} / {d['rss_end_kb']}"),
        ("RSS growth per simulated hour (KiB)", d["rss_growth_kb_per_h"]),
    ]
    if d["traced_growth_kb_per_h"] is not None:
        rows.append(("tracemalloc growth per simulated hour (KiB)",
                     d["traced_growth_kb_per_h"]))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
    lines += [f"  violation: {v}" for v in d["violation_list"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=2.0, help="simulated hours (2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--error-rate", type=float, default=1e-3,
                        help="byte error rate on the wire, both ways (1e-3)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also measure Python allocations (slower)")
    parser.add_argument("--flips-only", action="store_true",
                        help="every wire error a flipped bit (none dropped or inserted)")
    parser.add_argument("--proto", type=int, choices=p.PROTOCOL_VERSIONS,
                        default=p.PROTOCOL_VERSION,
                        help=f"protocol the simulated chair speaks ({p.PROTOCOL_VERSION})")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--progress", action="store_true", help="a line per session on stderr")
    args = parser.parse_args(argv)
    if not args.hours > 0 or not 0 <= args.error_rate < 1:
        parser.error("--hours must be > 0 and --error-rate in [0, 1)")

    def progress(result: Result) -> None:
        print(f"session {result.sessions}: {result.simulated_s / 3600:.3f} h, "
              f"{len(result.tally.violations)} violations", file=sys.stderr)

    result = run(args.hours, args.seed, args.error_rate, use_tracemalloc=args.tracemalloc,
                 progress=progress if args.progress else None, proto=args.proto,
                 flips_only=args.flips_only)
    print(json.dumps(result.as_dict()) if args.json else render(result))
    return 1 if result.tally.violations else 0


if __name__ == "__main__":
    sys.exit(main())
