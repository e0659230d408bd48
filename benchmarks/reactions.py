"""Safety reactions of the simulated device, in simulated time, observed tick by tick.

A host on a virtual clock talks the protocol straight into a `sim.device.Device` (as
tests/sim/test_device.py does) and looks at the plant's outputs after every 10 ms device
tick. Each reaction is measured at several phases of the trigger against the tick grid and
the worst is reported.
"""

from __future__ import annotations

from benchmarks.common import Row
from chair import limits
from chair import protocol as p
from chair.clock import VirtualClock

TICK = limits.DEVICE["tick_ms"] / 1000.0
TARGETS = {"estop": 0.010, "deadman": 0.510, "overpressure": 0.200}
PHASES = (0.0, 0.001, 0.0037, 0.005, 0.0091)


def outputs_safe(plant) -> bool:
    """Every output at rest: no motion, no pump, every vent open, no heat."""
    return (plant.carriage_drive == 0 and plant.technique == "off" and plant.depth == 0
            and not plant.pump_on and bool(plant.vent_open.all())
            and not plant.heater_on.any() and not getattr(plant, "heater_supply", False)
            and getattr(plant, "dump_open", True) and plant.foot_speed == 0
            and plant.back_drive == 0 and plant.leg_drive == 0)


class Host:
    """Just enough of a host: sequenced lines in, the device's output read and dropped."""

    def __init__(self, defects: frozenset[str] = frozenset()) -> None:
        from sim.body import Body
        from sim.device import Device
        from sim.physics import Plant

        self.clock = VirtualClock()
        self.plant = Plant(Body(), seed=0)
        self.dev = Device(self.clock, self.plant, defects=defects)
        self.decoder = p.DeviceDecoder()
        self.seq = 0
        self.faults: list[p.FaultCode] = []
        self.send(p.Sync())

    def read(self) -> None:
        self.dev.advance_to(self.clock.now())
        for message in self.decoder.feed(self.dev.read_output()):
            if isinstance(message, p.FaultReport):
                self.faults.append(message.code)

    def send(self, command: p.Command) -> None:
        self.seq = p.seq_after(self.seq)
        self.dev.receive(p.encode_command(command, self.seq))
        self.read()

    def step(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.read()

    def session(self) -> None:
        for command in (p.SetAir("lumbar", 25.0, 2000),
                        p.SetRoller(600.0, "knead", 2, 3, 3, 2000),
                        p.SetHeat("lumbar", 40.0, 2000), p.SetFoot(2, 2000)):
            self.send(command)

    def run(self, seconds: float, renew: bool = True) -> None:
        end = self.clock.now() + seconds
        last = self.clock.now()
        while self.clock.now() < end - 1e-9:
            self.step(min(TICK, end - self.clock.now()))
            if renew and self.clock.now() - last >= 0.2 - 1e-9:
                self.send(p.Renew(2000))
                last = self.clock.now()

    def until(self, predicate, limit_s: float) -> float:
        """Step tick by tick until `predicate()`; the simulated time it took."""
        start = self.clock.now()
        while not predicate():
            if self.clock.now() - start > limit_s:
                return float("inf")
            self.step(TICK)
        return self.clock.now() - start


def estop(phase: float) -> float:
    host = Host()
    host.session()
    host.run(0.5 + phase)
    assert not outputs_safe(host.plant)
    host.dev.receive(bytes([p.ESTOP_BYTE]))
    host.read()
    took = host.until(lambda: outputs_safe(host.plant), 1.0)
    assert host.faults == [p.FaultCode.ESTOP], host.faults
    return took


def deadman(phase: float) -> float:
    host = Host()
    host.session()
    host.run(0.5)
    host.step(phase)
    host.send(p.Renew(2000))
    last_valid = host.clock.now()
    took = host.until(lambda: outputs_safe(host.plant), 2.0)
    assert host.faults == [p.FaultCode.DEADMAN], host.faults
    return host.clock.now() - last_valid if took != float("inf") else took


def overpressure(phase: float, zone: str = "lumbar") -> float:
    host = Host(frozenset({"no-caps"}))  # the only way past the cap check: a broken device
    z = limits.ZONES.index(zone)
    cap = limits.DEVICE[f"airbag_kpa_max.{zone}"]
    host.step(phase)
    host.send(p.SetAir(zone, 45.0, 2000))
    over_at = None
    last = host.clock.now()
    while host.clock.now() < 30.0:
        host.step(TICK)
        if host.clock.now() - last >= 0.2 - 1e-9:
            host.send(p.Renew(2000))
            last = host.clock.now()
        over = max(float(host.plant.bag_kpa[z]), float(host.plant.pressure_kpa[z])) > cap
        if over_at is None and over:
            over_at = host.clock.now()
        if over_at is not None and not host.plant.pump_on and host.plant.vent_open[z]:
            assert p.FaultCode.OVERPRESSURE in host.faults, host.faults
            return host.clock.now() - over_at
    return float("inf")


def run(quick: bool) -> list[Row]:
    phases = PHASES[:2] if quick else PHASES
    measured = {
        "estop": max(estop(ph) for ph in phases),
        "deadman": max(deadman(ph) for ph in phases),
        "overpressure": max(overpressure(ph, zone) for ph in phases
                            for zone in (("lumbar",) if quick else limits.ZONES)),
    }
    names = {"estop": "reaction: emergency-stop byte to safe state",
             "deadman": "reaction: dead-man, last valid frame to safe state",
             "overpressure": "reaction: airbag over the cap to pump off and venting"}
    notes = {"estop": "outputs safe at the byte itself (handled on arrival, not on a tick)",
             "deadman": f"deadman_ms {limits.DEVICE['deadman_ms']:g} + at most one tick",
             "overpressure": "no-caps defect to get past the cap; every zone"}
    rows = []
    for key, took in measured.items():
        ms = took * 1000.0
        rows.append(Row(f"reaction.{key}", names[key], f"<= {TARGETS[key] * 1000:g} ms",
                        f"{ms:.0f} ms (worst of {len(phases)} phases, simulated)", round(ms, 1),
                        "ms", took <= TARGETS[key] + 1e-9, notes[key]))
    return rows
