"""Rest steps run, and the roller crosses between regions heads in (issue 9, items 12, 13).

Item 12: a step with only `zone` and `seconds` passed `chair validate` and then ended the run
in `device F02 deadman` (the roller, returned to rest on its own, still held a lease at the
device while the host, with nothing left to renew, fell silent). Item 13: the roller rolled
from the lumbar region to the thigh with force on the body, in a step of another zone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chair import protocol as p
from chair.caps import make_caps
from chair.cli import main
from chair.executor import ARRIVED_MM, Executor
from chair.landmarks import landmark_positions
from chair.limits import DEVICE
from chair.program import load_program, parse_program
from chair.safety import Supervisor
from chair.trace import read_trace

SHIPPED = ["lumbar", "gluteal", "piriformis", "legs", "feet", "sciatica"]
#: How far (mm) past a step's landmarks the roller may be seen working: a sweep turns within
#: ARRIVED_MM of a landmark, and one fast-forwarded report period (100 ms at ~84 mm/s) can
#: carry it a few mm further before the turn. Neighbouring landmarks are over 30 mm apart.
REGION_TOL_MM = 2 * ARRIVED_MM

REST = """
[program]
name = "rest"
title = "Work, rest, work"
purpose = "A rest step between two working steps."

[[step]]
zone = "lumbar"
seconds = 20
roller = { technique = "roll", from = "t12", to = "sacrum" }
airbags = { lumbar = 2, inflate_s = 3, hold_s = 2, vent_s = 2 }
heat = { lumbar = 1 }

[[step]]
zone = "lumbar"
name = "rest"
seconds = 12

[[step]]
zone = "gluteal"
seconds = 20
roller = { technique = "knead", from = "piriformis", to = "gluteal" }
"""


def run_trace(tmp_path: Path, program: str) -> tuple[int, list[dict]]:
    path = tmp_path / "t.jsonl"
    code = main(["run", program, "--fast", "--trace", str(path)])
    return code, read_trace(str(path))


# --------------------------------------------------------------------------- rest steps


def test_a_rest_step_rests_and_the_program_goes_on(tmp_path: Path) -> None:
    source = tmp_path / "rest.toml"
    source.write_text(REST, encoding="utf-8")
    assert parse_program(REST, str(source)).steps[1].roller is None
    code, records = run_trace(tmp_path, str(source))
    assert code == 0, records[-1]
    assert records[-1]["reason"] == "completed"
    assert not [r for r in records if r.get("event") in ("fault", "device-fault")]
    steps = {r["number"]: r for r in records if r.get("event") == "step"}
    assert sorted(steps) == [1, 2, 3]
    rest = [s for s in records if s["type"] == "sample" and s["step"] == 2]
    assert rest and rest[-1]["t"] >= steps[3]["t"] - 0.2  # the whole 12 s
    settled = [s for s in rest if s["t"] >= steps[2]["t"] + 1.5]  # (the bag vents first)
    assert len(settled) > 90
    for sample in settled:  # the chair rests: nothing runs, nothing presses, bags empty
        assert sample["device_state"] == "Idle", sample
        assert sample["roller"]["technique"] == "off" and sample["roller"]["force_n"] == 0
        assert max(sample["airbags"].values()) < 1.0 and sample["foot"] == 0
    worked = [s for s in records if s["type"] == "sample" and s["step"] == 3]
    assert any(s["roller"]["technique"] == "knead" for s in worked)


# --------------------------------------------------------------------------- transit


def check_force_inside_regions(records: list[dict], program_name: str) -> int:
    """Every sample of a program step with force on the body (force, or a technique
    running) has the roller within its step's region; returns how many were checked."""
    program = load_program(program_name)
    landmarks = next(r for r in records if r.get("event") == "scan")["landmarks"]
    checked = 0
    for sample in records:
        if sample["type"] != "sample" or sample["state"] not in ("running", "paused"):
            continue
        roller = sample["roller"]
        if roller["force_n"] <= 0 and roller["technique"] == "off":
            continue
        assert sample["step"] is not None, sample
        step = program.steps[sample["step"] - 1]
        assert step.roller is not None, ("force in a step without a roller", sample)
        low, high = sorted((landmarks[step.roller.start], landmarks[step.roller.end]))
        assert low - REGION_TOL_MM <= roller["pos_mm"] <= high + REGION_TOL_MM, \
            (sample["t"], sample["step"], step.zone, roller, (low, high))
        checked += 1
    return checked


@pytest.mark.parametrize("program", SHIPPED)
def test_force_stays_inside_each_steps_region(tmp_path: Path, program: str) -> None:
    code, records = run_trace(tmp_path, program)
    assert code == 0, records[-1]
    checked = check_force_inside_regions(records, program)
    assert checked > 0 or program == "feet"
    # the scan still finds the shoulders by rolling down the back (not a program step)
    scan = next(r for r in records if r.get("event") == "scan")
    assert 100.0 <= scan["shoulder_mm"] <= 400.0
    assert any(s["state"] == "scanning" and s["roller"]["technique"] == "roll"
               and s["roller"]["force_n"] > 0 for s in records if s["type"] == "sample")


def _status(pos_mm: float) -> p.StatusReport:
    return p.StatusReport("Run", 1.0, pos_mm, "off", 1, 0, 1, 0.0, (0.0,) * 6, (24.0,) * 2, 0,
                          0.0, 0.0, True, False, ())


def test_the_executor_crosses_to_the_steps_start_heads_in_then_works() -> None:
    program = load_program("legs")
    landmarks = landmark_positions(250.0)
    executor = Executor(program, landmarks, Supervisor(make_caps(DEVICE)), 1500)
    start, end = landmarks["gluteal"], landmarks["thigh"]
    lumbar = landmarks["l3"]
    transit = executor.setpoints(0.0, _status(lumbar))["roller"]
    assert (transit.pos_mm, transit.technique, transit.depth) == (round(start, 1), "off", 1)
    assert executor.in_transit()
    halfway = executor.setpoints(1.0, _status((lumbar + start) / 2))["roller"]
    assert halfway == transit
    working = executor.setpoints(2.0, _status(start + 1.0))["roller"]
    assert not executor.in_transit()
    assert (working.pos_mm, working.technique) == (round(end, 1), "roll")
    assert working.depth == program.steps[0].roller.depth


def test_a_roller_already_inside_the_region_works_on_where_it_is() -> None:
    program = load_program("legs")
    landmarks = landmark_positions(250.0)
    executor = Executor(program, landmarks, Supervisor(make_caps(DEVICE)), 1500)
    inside = (landmarks["gluteal"] + landmarks["thigh"]) / 2
    command = executor.setpoints(0.0, _status(inside))["roller"]
    assert command.technique == "roll" and not executor.in_transit()



def test_a_moment_before_the_program_starts_is_its_first_step() -> None:
    """In real time the first step is asked for with a `now` read just before the program
    clock started (a negative elapsed): that is step 1, never the last step."""
    executor = Executor(load_program("lumbar"), landmark_positions(250.0),
                        Supervisor(make_caps(DEVICE)), 1500)
    assert executor.step_at(-0.002)[0] == 0
    roller = executor.setpoints(-0.002, _status(250.0))["roller"]
    assert roller.technique == "off" and roller.pos_mm == round(landmark_positions(250.0)["t12"], 1)
