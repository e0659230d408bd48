"""Body landmarks: order, placement inside the track, and refusal of impossible bodies."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chair.landmarks import (
    BACK_FRACTION,
    LANDMARKS,
    SEAT_FRACTION,
    SHOULDER_MM_RANGE,
    landmark_positions,
    nearest_landmark,
)
from chair.limits import SEAT_BEND_MM, TRACK_MM
from chair.safety import DWELL_MM

shoulders = st.floats(SHOULDER_MM_RANGE[0], SHOULDER_MM_RANGE[1])


def test_landmarks_name_at_least_the_sciatica_places_in_track_order() -> None:
    required = ("shoulder", "scapula", "t12", "l3", "l5", "sacrum", "piriformis", "gluteal",
                "thigh")
    assert all(name in LANDMARKS for name in required)
    assert [n for n in LANDMARKS if n in required] == list(required)
    assert set(BACK_FRACTION) | set(SEAT_FRACTION) == set(LANDMARKS)


@given(shoulders)
def test_landmarks_run_down_the_track_and_stay_inside_it(shoulder: float) -> None:
    pos = landmark_positions(shoulder)
    assert list(pos) == list(LANDMARKS)
    values = list(pos.values())
    assert all(0.0 <= v <= TRACK_MM for v in values)
    assert values == sorted(values)
    assert all(b - a > 2 * DWELL_MM for a, b in itertools.pairwise(values)), \
        "neighbours must be far enough apart that a sweep between them is not a dwell"
    assert pos["shoulder"] == pytest.approx(shoulder, abs=0.05)
    assert all(pos[n] < SEAT_BEND_MM for n in BACK_FRACTION)
    assert all(pos[n] > SEAT_BEND_MM for n in SEAT_FRACTION)


@pytest.mark.parametrize("shoulder", [100.0, 175.0, 246.25, 300.0, 400.0])
def test_positions_follow_the_assumed_fractions(shoulder: float) -> None:
    back = SEAT_BEND_MM - shoulder
    pos = landmark_positions(shoulder)
    for name, frac in BACK_FRACTION.items():
        assert pos[name] == pytest.approx(shoulder + frac * back, abs=0.05)
    for name, frac in SEAT_FRACTION.items():
        assert pos[name] == pytest.approx(SEAT_BEND_MM + frac * back, abs=0.05)


def test_seat_landmarks_are_clamped_to_a_short_track() -> None:
    pos = landmark_positions(150.0, seat_mm=850.0, track_mm=900.0)
    assert pos["thigh"] == 900.0
    assert max(pos.values()) <= 900.0
    values = list(pos.values())
    assert values == sorted(values)


@pytest.mark.parametrize("shoulder", [99.9, 400.1, 0.0, -50.0, 900.0, math.nan, math.inf,
                                      -math.inf])
def test_a_shoulder_line_that_cannot_be_a_person_is_refused(shoulder: float) -> None:
    with pytest.raises(ValueError, match="shoulder"):
        landmark_positions(shoulder)


@pytest.mark.parametrize(("seat", "track"), [(300.0, 1250.0), (850.0, 800.0),
                                             (math.nan, 1250.0)])
def test_impossible_geometry_is_refused(seat: float, track: float) -> None:
    with pytest.raises(ValueError):
        landmark_positions(350.0, seat_mm=seat, track_mm=track)


def test_non_numbers_are_refused() -> None:
    with pytest.raises(ValueError):
        landmark_positions("250")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        landmark_positions(True)  # type: ignore[arg-type]


@given(shoulders)
def test_each_landmark_is_its_own_nearest(shoulder: float) -> None:
    pos = landmark_positions(shoulder)
    for name, mm in pos.items():
        assert nearest_landmark(mm, pos) == name
        assert nearest_landmark(mm + 1.0, pos) == name


def test_nearest_landmark_beyond_the_ends_and_between() -> None:
    pos = landmark_positions(250.0)
    assert nearest_landmark(0.0, pos) == "shoulder"
    assert nearest_landmark(TRACK_MM, pos) == "thigh"
    middle = (pos["l5"] + pos["sacrum"]) / 2
    assert nearest_landmark(middle, pos) == "l5"  # a tie goes to the higher landmark
    with pytest.raises(ValueError):
        nearest_landmark(500.0, {})


def test_every_simulated_person_scans_to_a_valid_shoulder_line() -> None:
    body = pytest.importorskip("sim.body")
    low, high = body.HEIGHT_CM_RANGE
    for height in (low, (low + high) / 2, high):
        shoulder = body.Body(height_cm=height).shoulder_mm(SEAT_BEND_MM)
        pos = landmark_positions(shoulder)
        assert pos["thigh"] <= TRACK_MM
