"""Supervision until the chair is confirmed safe; faults while parking (issue 9, item 4).

Before: vent-stuck-closed, pressure-sensor-stuck, thermistor-loose or heater-welded injected
0.1-4 s after parking started gave exit 0 and no fault in 93 of 100 runs; a stuck vent held
the gluteal program's seat bag at 4 kPa for 12 s; `chair run lumbar --fast --intensity 1
--caution herniated-disc --fault vent-stuck-closed@95` held 2.6 kPa for 139 s and exited 0.
The supervisor judged a venting bag only above 5 kPa, stopped watching once idle, and the
runner reported completion after 5 s whether or not the chair was safe.

Judged on the plant's truth: every run ends with every bag truly under 1 kPa, a fault
that could be seen never ends in exit 0, and a bag never stays inflated for long.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chair import protocol as p
from chair import runner
from chair.caps import make_caps
from chair.cli import main
from chair.controller import Controller
from chair.display import Summary
from chair.limits import DEVICE, HEATERS, ZONES
from chair.program import load_program
from chair.safety import HEAT_JUMP_C, VENTED_KPA, Supervisor
from chair.trace import read_trace
from sim import physics
from sim.physics import Plant

SWEEP_FAULTS = ["vent-stuck-closed", "pressure-sensor-stuck", "thermistor-loose",
                "heater-welded"]
PROGRAMS = ["lumbar", "gluteal", "piriformis", "legs", "feet", "sciatica"]
#: A bag may stay inflated this long after a fault while parking: the vent is judged within
#: about a second, and the dump path empties a bag from its cap in about 3 s.
HELD_S_MAX = 4.0


# --------------------------------------------------------------------------- the plant


@dataclass
class Truth:
    """The plant of the last run, what it was like when the fault came, and after."""

    plant: Plant | None = None
    t: float = 0.0
    injected: dict = field(default_factory=dict)  # fault name -> facts at injection
    held_s: float = 0.0  # plant time with a bag at or above VENTED_KPA after injection
    powered: bool = False  # a heater element powered after injection


@pytest.fixture
def truth(monkeypatch) -> Truth:
    seen = Truth()
    real_init, real_step, real_inject = Plant.__init__, Plant.step, Plant.inject

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        seen.plant, seen.t, seen.injected = self, 0.0, {}
        seen.held_s, seen.powered = 0.0, False

    def step(self, dt: float) -> None:
        real_step(self, dt)
        seen.t += dt
        if seen.injected:
            seen.held_s += dt if self.bag_kpa.max() >= VENTED_KPA else 0.0
            seen.powered |= bool(self.heaters_powered.any())

    def inject(self, name: str) -> None:
        seen.injected[name] = {"bag_kpa": float(self.bag_kpa.max()),
                               "reading_kpa": float(self.pressure_kpa.max()),
                               "above_ambient_c": float((self.surface_c - self.ambient_c).max())}
        real_inject(self, name)

    monkeypatch.setattr(physics.Plant, "__init__", init)
    monkeypatch.setattr(physics.Plant, "step", step)
    monkeypatch.setattr(physics.Plant, "inject", inject)
    return seen


def run_trace(tmp_path: Path, program: str, *extra: str) -> tuple[int, list[dict]]:
    path = tmp_path / "t.jsonl"
    code = main(["run", program, "--fast", *extra, "--trace", str(path)])
    return code, read_trace(str(path))


def visible(name: str, facts: dict, truth: Truth) -> bool:
    """Whether fault `name`, injected with these plant `facts`, changes anything the chair
    can sense: a bag still to vent, a reading frozen above vented, a surface warm enough
    for a loose thermistor's jump to ambient to show, a welded heater with power."""
    if name == "vent-stuck-closed":
        return facts["bag_kpa"] >= VENTED_KPA
    if name == "pressure-sensor-stuck":
        return facts["reading_kpa"] >= VENTED_KPA
    if name == "thermistor-loose":
        return facts["above_ambient_c"] > HEAT_JUMP_C + 1.0
    return truth.powered  # heater-welded: harmless (and unseen) with the supply cut


class _ParkingTimes(dict):
    """When each program's clean run starts parking, run once on first use (the same
    seed and options give the same times, so a fault can be placed into parking)."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def __missing__(self, program: str) -> float:
        path = self.directory / f"{program}.jsonl"
        assert main(["run", program, "--fast", "--trace", str(path)]) == 0
        self[program] = next(r["t"] for r in read_trace(str(path))
                             if r.get("event") == "state" and r["dest"] == "parking")
        return self[program]


@pytest.fixture(scope="module")
def parking_at(tmp_path_factory) -> dict[str, float]:
    return _ParkingTimes(tmp_path_factory.mktemp("clean"))


def check_fault_while_parking(tmp_path: Path, truth: Truth, parking_at: dict[str, float],
                              name: str, program: str, offset: float) -> None:
    code, records = run_trace(tmp_path, program, "--fault",
                              f"{name}@{parking_at[program] + offset:.3f}")
    assert code in (0, 3), (code, records[-1])
    assert truth.plant is not None and truth.plant.bag_kpa.max() < VENTED_KPA, \
        truth.plant.bag_kpa  # truly vented at the end, whatever the sensors say
    assert truth.held_s <= HELD_S_MAX, truth.held_s
    facts = truth.injected.get(name)
    if facts is not None and visible(name, facts, truth):
        assert code == 3, (facts, records[-1])
        assert any(r.get("event") == "fault" for r in records)
    if code == 0:
        assert records[-1]["reason"] == "completed"
        assert [r for r in records if r.get("event") == "safe"] == [
            {"type": "event", "t": records[-1]["t"], "event": "safe", "confirmed": True}]


#: The default suite: every fault where parking has a bag, heat and a roller to take home.
QUICK = [(name, program, offset) for name in SWEEP_FAULTS
         for program, offset in (("gluteal", 0.1), ("gluteal", 1.0), ("lumbar", 0.5))]


@pytest.mark.parametrize(("name", "program", "offset"), QUICK)
def test_a_fault_while_parking_is_never_a_completion(tmp_path: Path, truth: Truth,
                                                     parking_at: dict[str, float], name: str,
                                                     program: str, offset: float) -> None:
    check_fault_while_parking(tmp_path, truth, parking_at, name, program, offset)


@pytest.mark.slow
@pytest.mark.parametrize("offset", [0.1, 0.5, 1.0, 2.0, 4.0])
@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("name", SWEEP_FAULTS)
def test_every_fault_program_and_moment_while_parking(tmp_path: Path, truth: Truth,
                                                      parking_at: dict[str, float], name: str,
                                                      program: str, offset: float) -> None:
    check_fault_while_parking(tmp_path, truth, parking_at, name, program, offset)


def test_the_gluteal_seat_bag_is_not_held_by_a_stuck_vent(tmp_path: Path, truth: Truth,
                                                          parking_at: dict[str, float]) -> None:
    """The issue's case: the seat bag held at 4 kPa for 12 s, exit 0."""
    code, records = run_trace(tmp_path, "gluteal", "--fault",
                              f"vent-stuck-closed@{parking_at['gluteal'] + 0.5:.3f}")
    assert code == 3
    # the supervisor or the device's own vent check (F19), whichever notices first
    assert "seat does not vent" in records[-1]["reason"]
    assert truth.injected["vent-stuck-closed"]["bag_kpa"] > 3.0
    assert truth.held_s < 2.5 and truth.plant.bag_kpa.max() < VENTED_KPA


def test_a_stuck_vent_mid_run_is_caught_at_the_next_vent(tmp_path: Path, truth: Truth) -> None:
    """The issue's case: 2.6 kPa held for 139 s, exit 0. (On the seat bag at the same
    pressure: since issue 10 the herniated-disc caution has no lumbar airbags.)"""
    code, records = run_trace(tmp_path, "gluteal", "--intensity", "1", "--caution",
                              "herniated-disc", "--fault", "vent-stuck-closed@95")
    assert code == 3
    fault = next(r for r in records if r.get("event") == "fault")
    assert "seat does not vent" in fault["detail"]  # the supervisor or the device's F19
    assert 95.0 <= fault["t"] <= 95.0 + 10.0  # the next vent phase (the cycle is 9 s)
    assert truth.held_s < 8.0 and truth.plant.bag_kpa.max() < VENTED_KPA


# --------------------------------------------------------------------------- settling


def test_a_chair_not_confirmed_safe_exits_3_and_says_why(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(Supervisor, "unsafe", lambda self, status, home, now=None: "a test reason")
    summary = Summary()
    path = tmp_path / "t.jsonl"
    outcome = runner.run(load_program("feet"), runner.RunOptions(
        fast=True, trace=str(path), listeners=[summary]))
    assert outcome.exit_code == 3
    records = read_trace(str(path))
    safe = [r for r in records if r.get("event") == "safe"]
    assert safe and safe[-1]["confirmed"] is False and safe[-1]["why"] == "a test reason"
    parked = next(r["t"] for r in records if r.get("event") == "state"
                  and r["source"] == "parking" and r["dest"] == "idle")
    assert safe[-1]["t"] == pytest.approx(parked + runner.SETTLE_S, abs=0.2)
    why = f"the safe state was not confirmed within {runner.SETTLE_S:g} s: a test reason"
    assert records[-1]["state"] == "fault" and records[-1]["reason"] == why
    assert why in summary.render()


def test_a_frozen_pressure_reading_is_never_confirmed_safe(tmp_path: Path, truth: Truth,
                                                           parking_at) -> None:
    code, records = run_trace(tmp_path, "gluteal", "--fault",
                              f"pressure-sensor-stuck@{parking_at['gluteal'] + 0.1:.3f}")
    assert code == 3
    assert "the safe state was not confirmed" in records[-1]["reason"]
    assert records[-2]["event"] == "safe" and records[-2]["confirmed"] is False
    assert truth.plant.bag_kpa.max() < VENTED_KPA  # vented all the same


def test_parking_opens_the_dump_path_early_not_only_when_home(tmp_path: Path,
                                                               monkeypatch) -> None:
    """Airbags vent at once through their valves (judged); once they read vented one STOP
    opens the dump path too, long before the roller is home."""
    stops: list[tuple[float, str]] = []
    real = Controller._safe

    def safe(self) -> None:
        stops.append((self.t, self.state))
        real(self)

    monkeypatch.setattr(Controller, "_safe", safe)
    code, records = run_trace(tmp_path, "gluteal")
    assert code == 0
    parking = next(r["t"] for r in records if r.get("event") == "state"
                   and r["dest"] == "parking")
    parked = next(r["t"] for r in records if r.get("event") == "state"
                  and r["source"] == "parking" and r["dest"] == "idle")
    early = [t for t, state in stops if state == "parking" and t < parked]
    assert early and early[0] - parking < 2.0 and parked - early[0] > 5.0, (stops, parking)
    vented = [s for s in records if s["type"] == "sample" and s["state"] == "parking"
              and s["t"] >= early[0]]
    assert all(max(s["airbags"].values()) < VENTED_KPA for s in vented)


def test_parking_that_cannot_get_home_is_a_fault(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("chair.scanpark.PARK_TIMEOUT_S", 2.0)  # lumbar needs about 8 s
    code, records = run_trace(tmp_path, "lumbar")
    assert code == 3
    assert records[-1]["reason"].startswith("parking took over 2 s (roller at ")
    assert not any(r.get("event") == "state" and r["source"] == "parking"
                   and r["dest"] == "idle" for r in records)


# --------------------------------------------------------------------------- the rules


def status(air: dict[str, float] | None = None, heat: tuple[float, float] = (24.0, 24.0),
           state: str = "Idle", pos_mm: float = 0.0, technique: str = "off",
           force_n: float = 0.0, foot: int = 0) -> p.StatusReport:
    kpa = tuple((air or {}).get(zone, 0.0) for zone in ZONES)
    return p.StatusReport(state, 1.0, pos_mm, technique, 1, 0, 1, force_n, kpa, heat, foot,
                          0.0, 0.0, True, False, ())


def vent_run(sup: Supervisor, start_kpa: float, tau_s: float, lag_s: float = 0.1,
             seconds: float = 6.0) -> str | None:
    """Reports every 0.1 s of a calves bag venting from `start_kpa` with time constant
    `tau_s` (inf: held) after `lag_s`; the first fault, or None."""
    sup.commanded(p.SetAir("calves", 0.0, 1500), 0.0)
    for k in range(1, round(seconds * 10) + 1):
        t = k / 10
        fall = 0.0 if math.isinf(tau_s) else max(0.0, t - lag_s) / tau_s
        why = sup.check(status({"calves": start_kpa * math.exp(-fall) + 0.04}), t)
        if why:
            return why
    return None


#: Caps with the calf airbags at the controller's full cap (`--firm-legs`): the vent checks
#: below start from pressures up to it, above the gentle default of 8 kPa.
CALVES_FIRM = make_caps(DEVICE, firm_legs=True)


@pytest.mark.parametrize("start_kpa", [1.2, 2.6, 4.0, 11.0, 32.0])
def test_a_bag_told_to_vent_that_holds_its_air_is_a_fault(start_kpa: float) -> None:
    """Old rule: never below 5 kPa, and 3 s above it."""
    why = vent_run(Supervisor(CALVES_FIRM), start_kpa, math.inf)
    assert why and why.startswith("airbag calves does not vent")


def test_a_held_bag_is_caught_within_a_second_or_so() -> None:
    for start, within in ((2.6, 0.7), (11.0, 0.5)):
        sup = Supervisor(CALVES_FIRM)
        assert vent_run(sup, start, math.inf, seconds=within), start


@pytest.mark.parametrize("tau_s", [0.27, 0.4, 0.6, 0.8])  # both paths, vent, domain, dump
@pytest.mark.parametrize("start_kpa", [0.9, 2.6, 11.0, 32.0])
def test_a_bag_that_vents_by_either_path_passes(start_kpa: float, tau_s: float) -> None:
    assert vent_run(Supervisor(CALVES_FIRM), start_kpa, tau_s, lag_s=0.2) is None


def test_a_heater_off_whose_reading_jumps_to_ambient_is_a_fault() -> None:
    sup = Supervisor(make_caps(DEVICE))
    sup.commanded(p.Stop(), 0.0)
    assert sup.check(status(heat=(36.0, 24.0)), 0.1) is None
    assert sup.check(status(heat=(35.9, 24.0)), 0.2) is None
    why = sup.check(status(heat=(24.0, 24.0)), 0.3)
    assert why and "jumped" in why and HEATERS[0] in why


def test_a_heater_off_that_warms_is_a_fault_and_slow_warmth_is_not() -> None:
    welded = Supervisor(make_caps(DEVICE))
    welded.commanded(p.Stop(), 0.0)
    found = [welded.check(status(heat=(30.0 + 0.5 * k / 10, 24.0)), k / 10)
             for k in range(1, 40)]
    assert any(why and "warms while off" in why for why in found)
    seated = Supervisor(make_caps(DEVICE))  # a person warms the pad: 0.05 °C/s for 2 min
    assert not any(seated.check(status(heat=(24.0 + 0.05 * k / 10, 24.0)), k / 10)
                   for k in range(1, 1200))


def test_what_keeps_the_chair_from_its_safe_state() -> None:
    sup = Supervisor(make_caps(DEVICE))
    sup.commanded(p.Stop(), 0.0)
    assert sup.unsafe(status(), 5.0) is None
    assert sup.unsafe(None, None) == "no status report from the chair"
    assert "still runs" in sup.unsafe(status(state="Run"), None)
    assert "airbag seat reads 1.0" in sup.unsafe(status({"seat": 1.0}), None)
    assert "roller still works" in sup.unsafe(status(technique="knead"), None)
    assert "roller still works" in sup.unsafe(status(force_n=20.0), None)
    assert "foot rollers" in sup.unsafe(status(foot=1), None)
    assert "not home" in sup.unsafe(status(pos_mm=400.0), 5.0)
    assert sup.unsafe(status(pos_mm=400.0), None) is None  # after a fault: stopped is safe
    sup.commanded(p.SetHeat("seat", 38.0, 1500), 1.0)
    assert "heater seat is commanded on" in sup.unsafe(status(), None)
