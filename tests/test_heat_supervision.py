"""Heat supervision in every mode, in whole runs (safety.md rule 8; issue 9 item 1).

For rooms from 10 to 38 °C and every heater and thermistor fault `chair faults` lists,
injected at start, while heating and while holding, the plant's true surface never passes
45 °C and a run never ends in exit 0 while the fault acted on a powered heater. Then each
channel alone: the host's supervisor with the device's follow check removed (a sim defect),
and the device with the host's supervisor removed. The device alone, talking to it directly,
is in tests/sim/test_guards.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from chair import caps, heatwatch, limits, safety
from chair.cli import main
from chair.trace import read_trace
from sim import physics
from sim.physics import Plant

HEAT_FAULTS = ("thermistor-open", "thermistor-short", "thermistor-loose", "heater-welded")
SURFACE_MAX_C = limits.DEVICE["heat_c_max"]


class HeatTruth:
    """The hottest true surface of a run, and how long a heater was powered with a fault."""

    def __init__(self) -> None:
        self.c = -math.inf
        self.powered_with_fault_s = 0.0


@pytest.fixture
def heat_truth(monkeypatch) -> HeatTruth:
    seen = HeatTruth()
    real_step = Plant.step

    def step(self, dt: float) -> None:
        powered = bool(self.heaters_powered.any())  # held over the step just starting
        real_step(self, dt)  # first order within a step: the ends are the extremes
        seen.c = max(seen.c, float(np.max(self.surface_c)))
        if powered and self.active_faults & set(HEAT_FAULTS):
            seen.powered_with_fault_s += dt

    monkeypatch.setattr(physics.Plant, "step", step)
    return seen


def run_lumbar(tmp_path: Path, ambient: float, fault: str, at: float,
               defect: str = "") -> tuple[int, list[dict]]:
    port = f"sim://?ambient={ambient:g}" + (f"&defect={defect}" if defect else "")
    trace = tmp_path / "t.jsonl"
    code = main(["run", "lumbar", "--fast", "--port", port, "--fault", f"{fault}@{at:g}",
                 "--trace", str(trace)])
    return code, read_trace(str(trace))


def check(code: int, truth: HeatTruth) -> None:
    assert truth.c <= SURFACE_MAX_C, f"true surface reached {truth.c:.1f} °C"
    if code == 0:  # only a fault that never met a powered heater may go unseen (harmless)
        assert truth.powered_with_fault_s == 0.0, truth.powered_with_fault_s
    else:
        assert code == 3, code


#: At start, while heating (the pad warms from the room for ~2 minutes at 10 °C), holding.
TIMES = (0.0, 40.0, 150.0)


@pytest.mark.parametrize("at", TIMES)
@pytest.mark.parametrize("fault", HEAT_FAULTS)
@pytest.mark.parametrize("ambient", [10.0, 34.0, 38.0])
def test_heater_faults_never_burn_and_never_pass(tmp_path: Path, heat_truth: HeatTruth,
                                                 ambient: float, fault: str, at: float) -> None:
    code, _ = run_lumbar(tmp_path, ambient, fault, at)
    check(code, heat_truth)


@pytest.mark.slow
@pytest.mark.parametrize("at", (0.0, 10.0, 20.0, 40.0, 80.0, 120.0, 150.0, 200.0))
@pytest.mark.parametrize("fault", HEAT_FAULTS)
@pytest.mark.parametrize("ambient", [10.0, 16.0, 22.0, 28.0, 32.0, 34.0, 35.7, 36.0, 37.0,
                                     37.7, 38.0])
def test_heater_faults_sweep(tmp_path: Path, heat_truth: HeatTruth, ambient: float,
                             fault: str, at: float) -> None:
    code, _ = run_lumbar(tmp_path, ambient, fault, at)
    check(code, heat_truth)


def test_the_issue_input_is_caught(tmp_path: Path, heat_truth: HeatTruth) -> None:
    """Issue 9 item 1: ambient 34, loose at 0. Before: exit 0, true surface 65 °C."""
    code, records = run_lumbar(tmp_path, 34.0, "thermistor-loose", 0.0)
    assert code == 3 and heat_truth.c < 40.0
    assert "F09 heat-runaway" in records[-1]["reason"]


@pytest.mark.parametrize("ambient", [30.0, 34.0, 36.0])
def test_the_host_alone_catches_a_loose_thermistor(tmp_path: Path, heat_truth: HeatTruth,
                                                   ambient: float) -> None:
    """The device's follow check removed (sim defect no-heat-follow): the supervisor's own
    follow check stops the run before the true surface passes 45 °C."""
    code, records = run_lumbar(tmp_path, ambient, "thermistor-loose", 0.0,
                               defect="no-heat-follow")
    assert code == 3 and heat_truth.c <= SURFACE_MAX_C
    assert "does not follow" in records[-1]["reason"], records[-1]


def test_without_either_check_the_cut_off_is_the_last_layer(tmp_path: Path,
                                                           heat_truth: HeatTruth,
                                                           monkeypatch) -> None:
    """Both follow checks removed: the run passes 45 °C (so each check above is what held
    it) and the pad's cut-off keeps the surface at its rating."""
    monkeypatch.setattr(heatwatch, "HEAT_FOLLOW_S", math.inf)
    code, _ = run_lumbar(tmp_path, 34.0, "thermistor-loose", 0.0, defect="no-heat-follow")
    assert code == 0 and heat_truth.c > SURFACE_MAX_C  # nothing else notices
    assert heat_truth.c <= physics.CUTOFF_OPEN_C + 1e-9


def test_the_device_alone_catches_it_in_a_whole_run(tmp_path: Path, heat_truth: HeatTruth,
                                                    monkeypatch) -> None:
    """The supervisor's follow check removed: the device's F09 ends the run."""
    monkeypatch.setattr(heatwatch, "HEAT_FOLLOW_S", math.inf)
    code, records = run_lumbar(tmp_path, 34.0, "thermistor-loose", 0.0)
    assert code == 3 and heat_truth.c <= SURFACE_MAX_C
    assert "F09 heat-runaway" in records[-1]["reason"]


# ------------------------------------------------------------------------------ the supervisor

def test_supervisor_flags_a_reading_that_does_not_follow() -> None:
    import dataclasses

    from chair import protocol as p
    from chair.limits import DEVICE

    base = p.StatusReport("Run", 0.0, 300.0, "knead", 2, 2, 3, 40.0, (0.0,) * 6, (34.0, 24.0),
                          0, 0.0, 0.0, True, False, ())
    sup = safety.Supervisor(caps.make_caps(DEVICE))
    sup.commanded(p.SetHeat("lumbar", 38.0, 1500), 0.0)
    t, reason = 0.0, None
    while reason is None and t < 20.0:
        t = round(t + 0.1, 1)
        reason = sup.check(dataclasses.replace(base, heat_c=(34.0 + (0.03 if t % 0.2 else 0),
                                                             24.0)), t)
    assert reason and "does not follow" in reason
    assert safety.HEAT_FOLLOW_S < t <= safety.HEAT_FOLLOW_S + 0.2
    # a reading that rises (slowly, as near a pad's ceiling) or sits near its target: none
    for temps in ([34.0 + 0.04 * i for i in range(200)], [37.6] * 200):
        ok = safety.Supervisor(caps.make_caps(DEVICE))
        ok.commanded(p.SetHeat("lumbar", 38.0, 1500), 0.0)
        for i, temp in enumerate(temps):
            assert ok.check(dataclasses.replace(base, heat_c=(temp, 24.0)), i * 0.1) is None
