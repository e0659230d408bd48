"""Every plant and device fault, injected into whole runs: detected, within caps, vented.

Done-when of the reliability issue (part 1): each fault `chair faults` lists, injected into
`chair run lumbar --fast` at 120 s, ends with a non-zero exit, a fault in the trace, every
pressure and heat within caps, and every airbag vented. The trace holds sensor readings;
the plant's truth (every plant step, via a wrapper) is checked as well, since a stuck or
shorted sensor can read anything.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from chair import protocol as p
from chair import runner
from chair.cli import main
from chair.clock import VirtualClock
from chair.faults import FAULTS
from chair.limits import ZONES
from chair.safety import AIR_MARGIN_KPA  # regulation overshoot tolerated above the host cap
from chair.trace import read_trace
from sim import physics
from sim.body import Body
from sim.device import Device
from sim.physics import Plant

VENTED_KPA = 1.0
#: Faults whose readings cannot show the truth: checked on the plant instead.
SENSOR_FAULTS = {"pressure-sensor-stuck"}


class Truth:
    """The plant's true peaks over every step of a run, the plants and the ports opened."""

    def __init__(self) -> None:
        self.plants: list[Plant] = []
        self.ports: list = []
        self.kpa = np.zeros(len(ZONES))
        self.c = np.full(2, -math.inf)


@pytest.fixture
def truth(monkeypatch) -> Truth:
    seen = Truth()
    real_step, real_init, real_open = Plant.step, Plant.__init__, runner.open_port

    def open_port(url: str, **kwargs):
        port = real_open(url, **kwargs)
        seen.ports.append(port)
        return port

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        seen.plants.append(self)

    def step(self, dt: float) -> None:
        real_step(self, dt)  # every path is monotone within a step: the ends are the peaks
        np.maximum(seen.kpa, self.bag_kpa, out=seen.kpa)
        np.maximum(seen.c, self.surface_c, out=seen.c)

    monkeypatch.setattr(runner, "open_port", open_port)
    monkeypatch.setattr(physics.Plant, "__init__", init)
    monkeypatch.setattr(physics.Plant, "step", step)
    return seen


def run_lumbar(tmp_path: Path, *extra: str) -> tuple[int, list[dict]]:
    trace = tmp_path / "t.jsonl"
    code = main(["run", "lumbar", "--fast", *extra, "--trace", str(trace)])
    return code, read_trace(str(trace))


def fault_time(records: list[dict]) -> float | None:
    """When the controller first faulted or stopped at once (fault or estop), or None."""
    return next((r["t"] for r in records if r.get("event") == "fault"
                 or (r.get("event") == "state" and r["dest"] in ("fault", "estop"))), None)


def check_safe_run(records: list[dict], truth: Truth, *, sensor_ok: bool = True,
                   stop_within_s: float = 0.3) -> None:
    """What every run must show, whatever happened: caps held, nothing running
    `stop_within_s` after a fault, every airbag vented at the end."""
    header, end = records[0], records[-1]
    assert header["type"] == "header" and end["type"] == "end"
    limits, device = header["limits"], header["device_limits"]
    caps = limits["airbag_kpa_max"]
    samples = [r for r in records if r["type"] == "sample"]
    assert samples
    plausible = (device["thermistor_c_min"], device["thermistor_c_max"])
    for i, sample in enumerate(samples):
        for zone, kpa in sample["airbags"].items():
            assert kpa <= caps[zone] + AIR_MARGIN_KPA, (sample["t"], zone, kpa)
        for zone, temp in sample["heat_c"].items():
            if plausible[0] <= temp <= plausible[1]:
                assert temp <= limits["heat_c_max"], (sample["t"], zone, temp)
            else:  # an open or shorted thermistor: the device latches F08 within 100 ms
                soon = [s for s in samples[i:] if s["t"] <= sample["t"] + 0.1 + 1e-9]
                assert any("F08 thermistor" in s["faults"] for s in soon), sample
    for z, zone in enumerate(ZONES):
        assert truth.kpa[z] <= caps[zone] + AIR_MARGIN_KPA, (zone, truth.kpa[z])
    assert truth.c.max() <= limits["heat_c_max"], truth.c
    # after the controller's fault: no program step, and the device runs nothing
    faulted = fault_time(records)
    if faulted is not None:
        assert not [r for r in records if r.get("event") == "step" and r["t"] > faulted]
        late = [s for s in samples if s["t"] > faulted + stop_within_s]
        assert all(s["device_state"] != "Run" for s in late), late[:1]
    # vented at the end: the readings, when they can be trusted, else the chair itself
    # once it has had the time to vent that the run could not see
    plant = truth.plants[-1]
    if sensor_ok:
        assert max(samples[-1]["airbags"].values()) < VENTED_KPA, samples[-1]
    else:
        device = truth.ports[-1].device
        device.advance_to(device.clock.now() + 3.0)
        assert device.state != "Run"
    assert plant.bag_kpa.max() < VENTED_KPA, plant.bag_kpa
    times = [r["t"] for r in records[1:]]
    assert times == sorted(times)


# --------------------------------------------------------------------------- the done-when


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_at_120_s_is_caught_within_caps_and_vented(tmp_path: Path, truth: Truth,
                                                         name: str) -> None:
    code, records = run_lumbar(tmp_path, "--fault", f"{name}@120")
    assert code in (3, 4), (code, records[-1])
    faults = [r for r in records if r.get("event") == "fault"]
    assert faults, "the fault must show in the trace"
    assert faults[0]["t"] >= 120.0 - 1e-9
    assert records[-1]["state"] in ("fault", "estop")
    check_safe_run(records, truth, sensor_ok=name not in SENSOR_FAULTS)


@pytest.fixture(scope="module")
def parking_t(tmp_path_factory) -> float:
    """When a clean lumbar run starts parking."""
    path = tmp_path_factory.mktemp("clean") / "t.jsonl"
    assert main(["run", "lumbar", "--fast", "--trace", str(path)]) == 0
    return next(r["t"] for r in read_trace(str(path))
                if r.get("event") == "state" and r["dest"] == "parking")


@pytest.mark.parametrize("when", ["scan", "parking"])
@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_during_scan_or_parking_crashes_nothing(tmp_path: Path, truth: Truth,
                                                      parking_t: float, name: str,
                                                      when: str) -> None:
    at = 3.0 if when == "scan" else parking_t + 0.5
    code, records = run_lumbar(tmp_path, "--fault", f"{name}@{at:g}")
    assert code in (0, 3, 4), (code, records[-1])
    if code == 0:  # missed while parking (e.g. a heater fault with the heat already off)
        assert when == "parking" and not any(r.get("event") == "fault" for r in records)
    check_safe_run(records, truth, sensor_ok=name not in SENSOR_FAULTS)


def test_two_faults_at_once(tmp_path: Path, truth: Truth) -> None:
    code, records = run_lumbar(tmp_path, "--fault", "vent-stuck-closed@100",
                               "--fault", "pump-stuck-on@100")
    assert code == 3
    check_safe_run(records, truth)


# --------------------------------------------------------------------------- the plant


def run(plant: Plant, seconds: float, dt: float = 0.01) -> None:
    for _ in range(round(seconds / dt)):
        plant.step(dt)


def inflated(**inputs) -> Plant:
    plant = Plant(Body())
    plant.pump_on = True
    plant.fill_open[:] = True
    run(plant, 3.0)
    plant.pump_on = False
    plant.fill_open[:] = False
    for name, value in inputs.items():
        setattr(plant, name, value)
    return plant


def test_dump_path_vents_with_the_vents_stuck_closed() -> None:
    plant = inflated()
    full = plant.bag_kpa.copy()
    assert full.min() > 10.0
    plant.inject("vent-stuck-closed")
    plant.vent_open[:] = True
    run(plant, 3.0)
    assert np.all(plant.bag_kpa > 0.9 * full)  # the vents do nothing
    plant.fill_open[:] = True  # the pump is off: a sealed manifold passes nothing ...
    run(plant, 1.0)
    assert np.all(plant.bag_kpa > 0.85 * full)
    plant.dump_open = True  # ... until its dump valve opens
    run(plant, 3.5)
    assert plant.bag_kpa.max() < VENTED_KPA


def test_dump_path_vents_against_a_stuck_pump() -> None:
    plant = inflated()
    plant.inject("pump-stuck-on")
    plant.inject("vent-stuck-closed")
    plant.fill_open[:] = True
    plant.dump_open = True
    run(plant, 3.5)
    assert plant.pump_running and plant.bag_kpa.max() < VENTED_KPA


def test_one_big_step_equals_many_small_ones_on_the_dump_path() -> None:
    plants = [inflated(dump_open=True) for _ in range(2)]
    for plant in plants:
        plant.fill_open[[0, 2, 5]] = True
        plant.vent_open[[1, 2]] = True
        plant.inject("pump-stuck-on")
    plants[0].step(2.0)
    run(plants[1], 2.0)
    np.testing.assert_allclose(plants[0].bag_kpa, plants[1].bag_kpa, rtol=1e-9, atol=1e-9)


def test_pump_current_shows_a_stuck_pump() -> None:
    plant = Plant(Body())
    assert plant.pump_current_a == 0.0
    plant.pump_on = True
    plant.step(0.01)
    assert plant.pump_current_a == physics.PUMP_CURRENT_A
    plant.pump_on = False
    plant.step(0.01)
    assert plant.pump_current_a == 0.0
    plant.inject("pump-stuck-on")
    assert plant.pump_current_a == physics.PUMP_CURRENT_A


def test_heater_supply_relay_cuts_a_welded_heater() -> None:
    plant = Plant(Body())
    plant.inject("heater-welded")
    plant.step(0.01)
    np.testing.assert_array_equal(plant.heater_current_a, physics.HEATER_CURRENT_A)
    plant.heater_supply = False
    run(plant, 60.0, dt=0.5)
    assert not plant.heaters_powered.any() and not plant.heater_current_a.any()
    assert plant.surface_c.max() < plant.ambient_c + 0.01  # one 10 ms step of heating


# --------------------------------------------------------------------------- the firmware


class Bench:
    """One simulated chair on a virtual clock, driven line by line."""

    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.plant = Plant(Body())
        self.dev = Device(self.clock, self.plant)
        self.seq = 0
        self.send(p.Sync())

    def send(self, command: p.Command) -> None:
        self.seq += 1
        self.dev.receive(p.encode_command(command, self.seq))

    def run(self, seconds: float, renew: bool = True) -> None:
        end = self.clock.now() + seconds
        while self.clock.now() < end - 1e-9:
            self.clock.advance(0.25)
            if renew:
                self.send(p.Renew(2000))
            self.dev.advance_to(self.clock.now())


def test_firmware_latches_f17_on_a_stuck_pump_and_vents_anyway() -> None:
    b = Bench()
    b.send(p.SetAir("lumbar", 25.0, 2000))
    b.run(6.0)
    z = ZONES.index("lumbar")
    assert b.plant.bag_kpa[z] > 20.0 and not b.dev.faults
    b.plant.inject("pump-stuck-on")
    b.plant.inject("vent-stuck-closed")
    b.run(0.25)
    assert b.dev.faults == {p.FaultCode.STUCK_ON}
    assert "pump" in b.dev.latched[p.FaultCode.STUCK_ON]
    assert b.plant.dump_open and b.plant.fill_open.all() and not b.plant.pump_on
    b.run(3.5, renew=False)
    assert b.plant.bag_kpa.max() < VENTED_KPA
    b.send(p.Reset())
    assert b.dev.faults == {p.FaultCode.STUCK_ON}  # still drawing current: reset refused


def test_inflating_after_the_safe_state_closes_the_dump_first() -> None:
    b = Bench()
    assert b.plant.dump_open and b.plant.fill_open.all()  # the start is the safe state
    b.send(p.SetAir("seat", 20.0, 2000))
    b.run(0.25)
    z = ZONES.index("seat")
    assert not b.plant.dump_open and b.plant.pump_on
    assert list(np.flatnonzero(b.plant.fill_open)) == [z]
    b.run(6.0)
    assert b.plant.bag_kpa[z] == pytest.approx(20.0, abs=1.5)
    b.send(p.Stop())
    b.run(2.0)
    assert b.plant.dump_open and b.plant.bag_kpa.max() < VENTED_KPA
