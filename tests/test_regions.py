"""Caps by the body region under the roller, and a stronger herniated-disc caution (issue 10,
items 7 and 8). Every shipped program is run once per caution (and without one), cached for
the module; each check reads those traces."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from chair import protocol as p
from chair.caps import CAUTIONS, make_caps
from chair.cli import main
from chair.executor import Executor
from chair.landmarks import landmark_positions
from chair.limits import DEVICE
from chair.program import load_program, parse_program
from chair.regions import GLUTEAL_FOLD_MM, crossed, place_regions, region_at, span_depth_max
from chair.safety import REGION_TOLERANCE_MM, Supervisor
from chair.trace import read_trace

SHIPPED = ["lumbar", "gluteal", "piriformis", "legs", "feet", "sciatica"]
#: Every caution a run accepts (a "do not use" condition refuses the run: tests/test_cautions.py).
CAUTION_CHOICES = [None, *(name for name, caution in CAUTIONS.items() if not caution.refuse)]
LANDMARKS = landmark_positions(250.0)


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> dict[tuple[str, str | None], tuple[int, list[dict]]]:
    """(program, caution) -> (exit code, records) for every shipped program and caution."""
    folder = tmp_path_factory.mktemp("regions")
    runs = {}
    for program in SHIPPED:
        for caution in CAUTION_CHOICES:
            path = folder / f"{program}-{caution}.jsonl"
            extra = ["--caution", caution] if caution else []
            code = main(["run", program, "--fast", *extra, "--trace", str(path)])
            runs[program, caution] = code, read_trace(str(path))
    return runs


def _running(records: list[dict]) -> list[dict]:
    return [r for r in records if r["type"] == "sample" and r["state"] == "running"]


def _landmarks(records: list[dict]) -> dict[str, float]:
    return next(r for r in records if r.get("event") == "scan")["landmarks"]


# --------------------------------------------------------------------------- the region map


def test_regions_lie_edge_to_edge_in_track_order() -> None:
    caps = make_caps(DEVICE).depth_max
    regions = place_regions(LANDMARKS, caps)
    assert [r.name for r in regions] == ["thoracic", "lumbar", "buttock", "thigh"]
    for upper, lower in itertools.pairwise(regions):
        assert upper.high_mm == lower.low_mm
    assert region_at(regions, LANDMARKS["shoulder"]).name == "thoracic"
    for name in ("t12", "l3", "l5"):
        assert region_at(regions, LANDMARKS[name]).name == "lumbar"
    for name in ("sacrum", "piriformis", "gluteal"):
        assert region_at(regions, LANDMARKS[name]).name == "buttock"
    assert region_at(regions, LANDMARKS["gluteal"] + GLUTEAL_FOLD_MM + 1).name == "thigh"
    assert region_at(regions, LANDMARKS["thigh"]).name == "thigh"
    assert regions[0].depth_max == 1, "no program works the thoracic spine: heads in only"


def test_region_caps_come_from_the_caution() -> None:
    regions = place_regions(LANDMARKS, make_caps(DEVICE, cautions=("herniated-disc",)).depth_max)
    assert {r.name: r.depth_max for r in regions} == \
        {"thoracic": 1, "lumbar": 1, "buttock": 1, "thigh": 1}
    plain = place_regions(LANDMARKS, make_caps(DEVICE).depth_max)
    assert {r.name: r.depth_max for r in plain}["lumbar"] == 4


def _caps_with(**depths: int):
    caps = make_caps(DEVICE)
    return dataclasses.replace(caps, depth_max={**caps.depth_max, **depths})


def test_a_sweep_that_crosses_into_a_capped_region_is_clamped_to_its_cap() -> None:
    regions = place_regions(LANDMARKS, _caps_with(legs=1).depth_max)
    sacrum, thigh, gluteal = LANDMARKS["sacrum"], LANDMARKS["thigh"], LANDMARKS["gluteal"]
    assert [r.name for r in crossed(regions, sacrum, thigh)] == ["buttock", "thigh"]
    assert span_depth_max(regions, sacrum, thigh) == 1
    assert span_depth_max(regions, LANDMARKS["piriformis"], gluteal) == 4
    # touching an edge is not crossing: a sweep from the sacrum down is not lumbar work
    assert [r.name for r in crossed(regions, sacrum, gluteal)] == ["buttock"]
    assert [r.name for r in crossed(regions, gluteal, gluteal)] == ["buttock"]


def _status(pos_mm: float, technique: str = "off", depth: int = 0) -> p.StatusReport:
    return p.StatusReport("Run", 1.0, pos_mm, technique, 1, depth, 1, 0.0, (0.0,) * 6,
                          (24.0,) * 2, 0, 0.0, 0.0, True, False, ())


SWEEPS = """
[program]
name = "sweeps"
title = "Across the fold, then inside the buttock"
purpose = "A sweep from the sacrum to mid-thigh, then kneading inside the buttock."

[[step]]
zone = "gluteal"
seconds = 30
roller = { technique = "roll", from = "sacrum", to = "thigh", depth = 3 }

[[step]]
zone = "gluteal"
seconds = 30
roller = { technique = "knead", from = "piriformis", to = "gluteal", depth = 3 }
"""


def test_the_executor_clamps_a_sweep_by_the_regions_it_crosses() -> None:
    """A gluteal step rolling sacrum -> mid-thigh at depth 3, with the thigh capped at 1
    (the gluteal zone not): it rolls at 1 all the way; kneading inside the buttock keeps 3."""
    program = parse_program(SWEEPS, "sweeps.toml")
    inside = (LANDMARKS["piriformis"] + LANDMARKS["gluteal"]) / 2
    executor = Executor(program, LANDMARKS, Supervisor(_caps_with(legs=1)), 1500)
    command = executor.setpoints(1.0, _status(inside))["roller"]
    assert (command.technique, command.depth) == ("roll", 1)
    command = executor.setpoints(31.0, _status(inside))["roller"]
    assert (command.technique, command.depth) == ("knead", 3)
    plain = Executor(program, LANDMARKS, Supervisor(make_caps(DEVICE)), 1500)
    assert plain.setpoints(1.0, _status(inside))["roller"].depth == 3


def test_the_supervisor_faults_a_report_deeper_than_its_regions_cap() -> None:
    supervisor = Supervisor(_caps_with(lumbar=1))
    supervisor.place(LANDMARKS)
    sacrum = LANDMARKS["sacrum"]
    why = supervisor.check(_status(LANDMARKS["l3"], "knead", 2), 1.0)
    assert why is not None and "lumbar region" in why and "cap is 1" in why
    assert supervisor.check(_status(LANDMARKS["l3"], "knead", 1), 1.1) is None
    assert supervisor.check(_status(sacrum + 15, "knead", 4), 1.2) is None  # buttock: 4
    # at the boundary, the turn's overshoot is tolerated; further in, it is not
    assert supervisor.check(_status(sacrum - REGION_TOLERANCE_MM / 2, "knead", 4), 1.3) is None
    assert supervisor.check(_status(sacrum - 2 * REGION_TOLERANCE_MM, "knead", 4), 1.4)
    # heads in (technique off) is never deep
    assert supervisor.check(_status(LANDMARKS["l3"], "off", 0), 1.5) is None


# --------------------------------------------------------------------------- every program


@pytest.mark.parametrize("caution", CAUTION_CHOICES)
@pytest.mark.parametrize("program", SHIPPED)
def test_every_program_completes_under_every_caution(traces, program, caution) -> None:
    code, records = traces[program, caution]
    assert code == 0 and records[-1]["reason"] == "completed", records[-1]


@pytest.mark.parametrize("caution", CAUTION_CHOICES)
@pytest.mark.parametrize("program", SHIPPED)
def test_depth_never_exceeds_the_cap_of_the_region_under_the_roller(traces, program,
                                                                   caution) -> None:
    _, records = traces[program, caution]
    caps = make_caps(DEVICE, cautions=(caution,) if caution else ())
    regions = place_regions(_landmarks(records), caps.depth_max)
    for sample in _running(records):
        roller = sample["roller"]
        if roller["technique"] == "off":
            continue
        near = crossed(regions, roller["pos_mm"] - REGION_TOLERANCE_MM,
                       roller["pos_mm"] + REGION_TOLERANCE_MM)
        assert roller["depth"] <= max(r.depth_max for r in near), (sample["t"], roller)


def test_the_trace_header_gives_the_region_caps(traces) -> None:
    _, records = traces["sciatica", "herniated-disc"]
    caps = make_caps(DEVICE, cautions=("herniated-disc",))
    regions = place_regions(_landmarks(records), caps.depth_max)
    assert records[0]["limits"]["roller_region_depth_max"] == \
        {r.name: r.depth_max for r in regions}


@pytest.mark.parametrize("program", SHIPPED)
def test_herniated_disc_no_lumbar_sample_deeper_than_1(traces, program) -> None:
    """Issue 10's check: no sample between T12 and the sacrum at depth above 1."""
    _, records = traces[program, "herniated-disc"]
    marks = _landmarks(records)
    deep = [s for s in records if s["type"] == "sample"
            and marks["t12"] <= s["roller"]["pos_mm"] <= marks["sacrum"]
            and s["roller"]["depth"] > 1]
    assert not deep, deep[:3]


@pytest.mark.parametrize("caution", CAUTION_CHOICES)
@pytest.mark.parametrize("program", SHIPPED)
def test_no_force_outside_the_steps_region(traces, program, caution) -> None:
    """Force 0 whenever the roller is outside its step's from..to (heads in on the way)."""
    _, records = traces[program, caution]
    steps = load_program(program).steps
    marks = _landmarks(records)
    for sample in _running(records):
        roller = sample["roller"]
        if roller["force_n"] <= 0 and roller["technique"] == "off":
            continue
        step = steps[sample["step"] - 1]
        assert step.roller is not None, sample
        low, high = sorted((marks[step.roller.start], marks[step.roller.end]))
        assert low - REGION_TOLERANCE_MM <= roller["pos_mm"] <= high + REGION_TOLERANCE_MM, \
            (sample["t"], sample["step"], roller, (low, high))


# --------------------------------------------------------------------------- herniated disc


@pytest.mark.parametrize("program", SHIPPED)
def test_herniated_disc_is_gentle_everywhere(traces, program) -> None:
    """Item 8: depth 1 everywhere (legs too), no lumbar airbags, no static presses, leg rest
    at most 20 %, the backrest reclined at least 50 % once it has had time to get there."""
    _, records = traces[program, "herniated-disc"]
    limits = records[0]["limits"]
    assert limits["back_pct_min"] == 50.0 and limits["leg_pct_max"] == 20.0
    samples = [r for r in records if r["type"] == "sample"]
    running = _running(records)
    assert max(s["roller"]["depth"] for s in running) <= 1
    assert not [s for s in samples if s["roller"]["technique"] in ("press", "tap")]
    assert max(s["airbags"]["lumbar"] for s in samples) < 1.0, "no lumbar airbags"
    assert max(s["recline"]["leg_pct"] for s in samples) <= 20.0 + 0.5
    start = running[0]["t"]
    settled = [s for s in running if s["t"] >= start + 10.0]  # full travel is 13 s
    assert min(s["recline"]["back_pct"] for s in settled) >= 50.0 - 0.5


def test_herniated_disc_says_what_it_changes(traces, capsys) -> None:
    changes = CAUTIONS["herniated-disc"].changes()
    text = "\n".join(changes)
    for words in ("no lumbar airbags", "depth at most 1 everywhere", "no static pressing",
                  "reclined at least 50 %", "leg rest raised at most 20 %"):
        assert words in text, words
    _, records = traces["legs", "herniated-disc"]
    assert records[0]["cautions"][0]["changes"] == changes
    main(["run", "feet", "--fast", "--caution", "herniated-disc"])
    out = capsys.readouterr().out
    assert all(change in out for change in changes)


def test_without_a_caution_the_recline_is_the_programs(traces) -> None:
    _, records = traces["gluteal", None]
    assert max(s["recline"]["back_pct"] for s in records if s["type"] == "sample") == 0.0


@pytest.mark.parametrize("program", SHIPPED)
def test_a_fast_forwarded_carriage_turns_where_it_is_told(traces, program) -> None:
    """The simulated carriage stops at its target within its 1 mm band, fast-forwarded too:
    a new target behind a moving carriage used to leave it running the old way for up to a
    report period (~8 mm past a sweep's end, in the deep region's direction)."""
    _, records = traces[program, None]
    steps = load_program(program).steps
    marks = _landmarks(records)
    for sample in _running(records):
        roller = sample["roller"]
        if roller["technique"] == "off":
            continue
        step = steps[sample["step"] - 1]
        low, high = sorted((marks[step.roller.start], marks[step.roller.end]))
        assert low - 2.0 <= roller["pos_mm"] <= high + 2.0, (sample["t"], roller, (low, high))
