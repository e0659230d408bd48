"""The simulated chair's board: the firmware (`firmware/`) on the simulated plant.

`Device` runs the same firmware a bridge board flashes, with its hardware layer on the numpy
plant (`sim.hardware`), on the caller's clock. It takes host bytes (`receive`), runs the
firmware's 10 ms ticks as time passes (`advance_to`), stepping the plant once across each
quiet stretch the firmware allows (`Firmware.quiet_until`: no deadline, no slow tick, no
axis or inflation reaching where the firmware must act), and leaves the firmware's lines
for the host (`read_output`). The plant's dynamics are exact for any step: only its noise
rows differ from a tick-by-tick run; `quiet=False` steps tick by tick. It also injects the
plant faults of chair.faults and restarts the firmware on a ``power-cycle``.
"""

from __future__ import annotations

import heapq
import itertools
import math

from chair import protocol as p
from chair.clock import Clock
from chair.faults import FAULTS, PLANT_FAULTS
from firmware import chairs
from firmware.device import NAME, OUT_BYTES, Firmware  # noqa: F401 (re-exported)
from firmware.wire import QUERY_MIN_S
from sim.defects import DEFECTS, RULE_DEFECTS, corrupt, firmware_class
from sim.hardware import SimHardware
from sim.physics import Plant

FIRMWARE = NAME
_EPS = 1e-9
_INF = math.inf


class Device:
    """The firmware on the plant, driven by `receive(data)`, `advance_to(t)` and
    `read_output()`; `schedule(fault, at)` injects a plant fault or a ``power-cycle``.

    `chair` is a chair description's name (firmware/chairs) or the description itself
    (by default the plant's); its zones and heaters must be the plant's (ValueError);
    `defects` names test doubles from `sim.defects` (DEFECTS, RULE_DEFECTS); with
    `micropython` the firmware runs in real MicroPython (sim.remote). Read-only views
    for tests (in-process firmware only, but `state` and `faults`): `fw`, `state`,
    `faults`/`latched` (code -> detail), `setpoints()`, `status()`, `expected_seq`,
    `synced`, `console`, `report_ms`, `air_target`, `heat_target`, `roller`, `recline`,
    `foot`, `active`, `uptime`, `ticks` and `plant_steps`.
    """

    def __init__(self, clock: Clock, plant: Plant, *, defects: frozenset[str] = frozenset(),
                 chair: str | dict | None = None, firmware: str = FIRMWARE,
                 quiet: bool = True, proto: int = p.PROTOCOL_VERSION,
                 micropython: bool = False) -> None:
        cls = firmware_class(frozenset(defects))
        if micropython:
            if defects:
                raise ValueError("a test double (defect) runs in-process only, not under "
                                 "MicroPython: the flashed firmware has no defects")
            from sim.remote import RemoteFirmware
            cls = RemoteFirmware
        if chair is None:
            description = plant.chair
        else:
            description = chairs.load(chair) if isinstance(chair, str) else chairs.check(chair)
        if (list(description["zones"]), list(description["heaters"])) != (
                list(plant.zones), list(plant.heaters)):
            raise ValueError(f"the plant is built for zones {list(plant.zones)} and heaters "
                             f"{list(plant.heaters)}, the firmware's chair description names "
                             f"{description['zones']} and {description['heaters']}")
        if "corrupt-limits" in defects:
            description = corrupt(description)
        self.clock = clock
        self.plant = plant
        self.defects = frozenset(defects)
        self.quiet = quiet
        self.chair = description
        self.hw = SimHardware(plant, force_sensor="force" in description["sensors"])
        self.fw = cls(self.hw, description, float(clock.now()), proto=proto,
                                name=firmware)
        self._faults_due: list[tuple[float, int, str]] = []
        self._fault_counter = itertools.count()
        self._next_fault_at = _INF
        self.ticks = 0
        self.plant_steps = 0

    # ------------------------------------------------------------------ the wire

    def receive(self, data: bytes) -> None:
        """Host bytes, arriving at `clock.now()` (the ticks up to then run first)."""
        now = self.clock.now()
        self.advance_to(now)
        self.fw.receive(bytes(data), now)

    def read_output(self, limit: int | None = None) -> bytes:
        """What the device sends next: whole lines, fault pushes first, up to `limit` bytes
        (at least one line; everything waiting by default). `dropped` and `merged` count
        the lines the bounded transmit buffer dropped or coalesced."""
        return self.fw.take(limit)

    @property
    def dropped(self) -> int:
        return self.fw.out.dropped_lines

    @property
    def merged(self) -> int:
        return self.fw.out.merged

    @property
    def output_waiting(self) -> int:
        return self.fw.waiting

    # ------------------------------------------------------------------ time

    def schedule(self, fault: str, at: float) -> None:
        """Start the fault `fault` (chair.faults.FAULTS) at clock time `at`, at the tick >= it.

        Plant faults are injected into the plant; ``power-cycle`` restarts the firmware.
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; valid names: {', '.join(FAULTS)}")
        if not math.isfinite(at):
            raise ValueError(f"fault {fault!r}: time {at!r} is not finite")
        heapq.heappush(self._faults_due, (float(at), next(self._fault_counter), fault))
        self._next_fault_at = self._faults_due[0][0]

    def advance_to(self, t: float, *, until_output: bool = False) -> float:
        """Run every tick up to and including time `t`; return the time of the last tick run.

        With `until_output`, stop after the first tick that leaves output for the host (a
        virtual-clock port moves time on to it: the host wakes for the device's next line).
        """
        fw = self.fw
        tick = fw.tick_s
        t0 = fw.t0
        limit = t + _EPS
        plant = self.plant
        while True:
            k = fw.k + 1
            now = t0 + k * tick
            if now > limit:
                return fw.now
            j = k
            if self.quiet and now + tick <= limit and not plant.active_faults:
                last = math.floor((min(limit, self._next_fault_at) - t0) / tick + _EPS)
                j = fw.quiet_until(k, last)
                now = t0 + j * tick
            n = j - k + 1
            plant.step(n * tick)
            self.ticks += n
            self.plant_steps += 1
            if now >= self._next_fault_at - _EPS:
                self._fire_faults(now)
            fw.tick(j)
            if until_output and fw.waiting:
                return now

    def _fire_faults(self, now: float) -> None:
        due = self._faults_due
        while due and due[0][0] <= now + _EPS:
            _, _, name = heapq.heappop(due)
            if name in PLANT_FAULTS:
                self.plant.inject(name)
            elif name == "power-cycle":
                self.fw.boot(now)
        self._next_fault_at = due[0][0] if due else _INF

    # ------------------------------------------------------------------ views for tests

    def close(self) -> None:
        """Stop the firmware's interpreter, if it runs in one."""
        close = getattr(self.fw, "close", None)
        if close is not None:
            close()

    @property
    def tick_s(self) -> float:
        return self.fw.tick_s

    @property
    def uptime(self) -> float:
        return self.clock.now() - self.fw.boot_time

    @property
    def state(self) -> str:
        return self.fw.state

    @property
    def latched(self) -> dict[int, str]:
        return self.fw.latch.latched

    @property
    def faults(self) -> frozenset[p.FaultCode]:
        return frozenset(p.FaultCode(code) for code in self.fw.latch.latched)

    @property
    def expected_seq(self) -> int | None:
        return self.fw.wire.expected_seq

    @property
    def synced(self) -> bool:
        return self.fw.wire.expected_seq is not None

    @property
    def console(self) -> bool:
        return self.fw.wire.console

    @property
    def report_ms(self) -> int:
        return self.fw.wire.report_ms

    @property
    def active(self) -> bool:
        return self.fw.active

    @property
    def air_target(self) -> list[float]:
        return self.fw.air.target

    @property
    def heat_target(self) -> list[float]:
        return self.fw.heat.target

    @property
    def roller(self) -> tuple | None:
        return self.fw.axes.roller

    @property
    def recline(self) -> tuple[float, float] | None:
        return self.fw.axes.recline

    @property
    def foot(self) -> int:
        return self.fw.axes.foot

    @property
    def limits(self) -> dict[str, float]:
        return self.fw.limits.values

    @property
    def table_crc(self) -> int:
        return self.fw.limits.built_crc

    def setpoints(self) -> dict[str, object]:
        """The setpoints in force, by actuator."""
        fw = self.fw
        sp: dict[str, object] = {}
        if fw.axes.roller is not None:
            sp["roller"] = fw.axes.roller
        for zone, target in zip(fw.zones, fw.air.target, strict=True):
            if target > 0:
                sp[f"air.{zone}"] = target
        for zone, target in zip(fw.heaters, fw.heat.target, strict=True):
            if target > 0:
                sp[f"heat.{zone}"] = target
        if fw.axes.foot:
            sp["foot"] = fw.axes.foot
        if fw.axes.recline is not None:
            sp["recline"] = fw.axes.recline
        return sp

    def status(self, now: float | None = None) -> p.StatusReport:
        """The status report as the device would send it now."""
        t = self.clock.now() if now is None else now
        self.hw.sense()
        message = p.parse_device_line(self.fw.status_line(t).rstrip(b"\n"))
        assert isinstance(message, p.StatusReport), message
        return message


__all__ = ["DEFECTS", "FIRMWARE", "OUT_BYTES", "QUERY_MIN_S", "RULE_DEFECTS", "Device"]
