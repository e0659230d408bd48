"""The device's airbag limits in whole runs (safety.md rule 7; issue 9 items 2 and 4).

Every shipped program stays inside the device's hold and duty limits with margin, and a bag
that does not vent (a stuck vent valve or pressure sensor, mid-run or while parking) is
noticed by the device itself, which opens the dump path and latches F19. Judged on the
plant's truth.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from chair import limits
from chair.caps import check_program
from chair.cli import main
from chair.errors import ProgramError
from chair.program import list_programs, parse_program
from chair.trace import read_trace
from sim import physics
from sim.physics import Plant

DEV = limits.DEVICE
VENTED_KPA = DEV["airbag_vented_kpa"]


class Bags:
    """Per plant step: its length (s) and the true bag pressures after it."""

    def __init__(self) -> None:
        self.dt: list[float] = []
        self.kpa: list[np.ndarray] = []

    def held(self) -> tuple[float, float]:
        """The longest stretch any true bag stays above airbag_held_kpa, and the largest
        share of any duty window it spends there."""
        dt, kpa = np.array(self.dt), np.array(self.kpa)
        t = np.cumsum(dt)
        above = kpa > DEV["airbag_held_kpa"]
        stretch, share = 0.0, 0.0
        window = DEV["airbag_duty_window_s"]
        for z in range(above.shape[1]):
            run = 0.0
            for a, d in zip(above[:, z], dt, strict=True):
                run = run + d if a else 0.0
                stretch = max(stretch, run)
            total = np.concatenate([[0.0], np.cumsum(dt * above[:, z])])
            start = np.searchsorted(np.concatenate([[0.0], t]), t - window)
            share = max(share, float(((total[1:] - total[start]) / window).max()))
        return stretch, share


@pytest.fixture
def bags(monkeypatch) -> Bags:
    seen = Bags()
    real_step = Plant.step

    def step(self, dt: float) -> None:
        real_step(self, dt)
        seen.dt.append(dt)
        seen.kpa.append(self.bag_kpa.copy())

    monkeypatch.setattr(physics.Plant, "step", step)
    return seen


@pytest.mark.parametrize("name", [p.name for p in list_programs()])
def test_every_program_completes_inside_the_hold_limits_with_margin(bags: Bags,
                                                                    name: str) -> None:
    """The device's limits sit above what every shipped program does: its longest hold at
    most half of airbag_held_s_max and its duty share at most 0.8 of airbag_duty_max."""
    with redirect_stdout(io.StringIO()):
        assert main(["run", name, "--fast"]) == 0
    stretch, share = bags.held()
    assert stretch <= 0.5 * DEV["airbag_held_s_max"], stretch
    assert share <= 0.8 * DEV["airbag_duty_max"], share


def run(tmp_path: Path, *args: str) -> tuple[int, list[dict]]:
    trace = tmp_path / "t.jsonl"
    with redirect_stdout(io.StringIO()):
        code = main(["run", *args, "--fast", "--trace", str(trace)])
    return code, read_trace(str(trace))


def test_a_stuck_vent_mid_run_is_a_device_fault(tmp_path: Path, bags: Bags) -> None:
    """Issue 9 item 4: before, 2.6 kPa held for 139 s and exit 0. (The issue's lumbar bag:
    the herniated-disc caution has no lumbar airbags since issue 10, so the seat's, at the
    same 2.5-2.8 kPa.)"""
    code, records = run(tmp_path, "gluteal", "--intensity", "1", "--caution",
                        "herniated-disc", "--fault", "vent-stuck-closed@95")
    assert code == 3
    assert any(r.get("event") == "device-fault" and r["code"].startswith("F19") for r in records)
    assert bags.kpa[-1].max() < VENTED_KPA


@pytest.mark.parametrize("fault", ["vent-stuck-closed", "pressure-sensor-stuck"])
def test_a_bag_that_does_not_vent_while_parking_is_a_device_fault(tmp_path: Path,
                                                                  bags: Bags,
                                                                  fault: str) -> None:
    """Issue 9 item 4: a stuck vent 0.8 s into gluteal's parking held the seat bag at
    4 kPa for 12 s, exit 0; a stuck sensor ended on 4 kPa 'completed'."""
    _, clean = run(tmp_path, "gluteal")
    parking = next(r["t"] for r in clean if r.get("event") == "state"
                   and r["dest"] == "parking")
    bags.dt.clear()
    bags.kpa.clear()
    code, records = run(tmp_path, "gluteal", "--fault", f"{fault}@{parking + 0.8:.1f}")
    assert code == 3, records[-1]
    assert any(r.get("event") == "device-fault" and r["code"].startswith("F19") for r in records)
    assert bags.kpa[-1].max() < VENTED_KPA


def _busy_program(steps: int, inflate: float, hold: float, vent: float,
                  seconds: float = 60.0) -> str:
    step = (f'[[step]]\nzone = "gluteal"\nseconds = {seconds:g}\n'
            f"airbags = {{ seat = 2, inflate_s = {inflate:g}, hold_s = {hold:g}, "
            f"vent_s = {vent:g} }}\n")
    return '[program]\nname = "busy"\ntitle = "t"\npurpose = "p"\n\n' + step * steps


def test_a_program_past_the_devices_duty_limit_is_refused_before_anything_moves() -> None:
    """7 + 1 s inflated, 1 s vented for 6 minutes passes each per-cycle cap, but would hit
    the device's duty limit (F18) half way: refused, naming the step and field (rule 15)."""
    with pytest.raises(ProgramError, match=r"field 'airbags\.vent_s'.*inflated"):
        check_program(parse_program(_busy_program(6, 7.0, 1.0, 1.0), "busy.toml"))
    check_program(parse_program(_busy_program(6, 4.0, 2.0, 4.0), "ok.toml"))  # 0.6 of it


def test_cycles_joining_across_short_steps_are_refused() -> None:
    """Steps shorter than one inflation restart their cycle inflated: they join."""
    with pytest.raises(ProgramError, match=r"field 'airbags'.*on end"):
        check_program(parse_program(_busy_program(8, 6.0, 2.0, 2.0, seconds=5.0), "j.toml"))


def test_every_shipped_program_is_inside_the_program_hold_caps() -> None:
    for program in list_programs():
        check_program(program)


def test_a_regulator_overfilling_a_gentle_session_is_caught_at_the_users_ceiling(
        tmp_path: Path, bags: Bags) -> None:
    """The firmware defect air-over-cap fills a bag past its target (to 1.2 x the device's
    cap). At --intensity 2 the host stops it at 2/5 of the cap + the margin, not at the
    chair's cap: before, lumbar reached 29.5 kPa (cap 28) before the host's fault."""
    from chair.safety import AIR_MARGIN_KPA

    code, records = run(tmp_path, "lumbar", "--intensity", "2", "--port",
                        "sim://?defect=air-over-cap")
    assert code == 3
    header = next(r for r in records if r["type"] == "header")
    ceiling = round(header["limits"]["airbag_kpa_max"]["lumbar"] * 2 / 5, 1)
    faults = [r for r in records if r.get("event") == "fault"]
    assert faults and "of intensity 2" in str(faults[0]), faults
    lumbar = limits.ZONES.index("lumbar")
    assert np.array(bags.kpa)[:, lumbar].max() < ceiling + AIR_MARGIN_KPA + 1.0
