"""The person in the chair: validation, shoulder line, contact, landmarks."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chair.limits import SEAT_BEND_MM, TRACK_MM
from sim.body import LANDMARK_MM_PER_CM, Body

heights = st.floats(150.0, 210.0)


def test_default_shoulder_line_is_about_246_mm() -> None:
    assert Body().shoulder_mm(SEAT_BEND_MM) == pytest.approx(850 - 3.45 * 175)
    assert 240 < Body().shoulder_mm(SEAT_BEND_MM) < 250


@pytest.mark.parametrize(("kwargs", "field", "bounds"), [
    ({"height_cm": 149.9}, "height_cm", "150..210"),
    ({"height_cm": 210.1}, "height_cm", "150..210"),
    ({"height_cm": math.nan}, "height_cm", "150..210"),
    ({"stiffness": 0.49}, "stiffness", "0.5..2"),
    ({"stiffness": 2.01}, "stiffness", "0.5..2"),
])
def test_out_of_range_fields_name_field_and_range(kwargs, field, bounds) -> None:
    with pytest.raises(ValueError, match=field) as info:
        Body(**kwargs)
    assert bounds in str(info.value)


def test_range_ends_accepted_and_body_frozen() -> None:
    Body(height_cm=150, stiffness=0.5)
    body = Body(height_cm=210, stiffness=2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        body.height_cm = 180  # type: ignore[misc]


@given(heights)
def test_contact_from_shoulder_line_to_track_end(height: float) -> None:
    body = Body(height_cm=height)
    shoulder = body.shoulder_mm(SEAT_BEND_MM)
    assert not body.contact(shoulder - 1.0, SEAT_BEND_MM, TRACK_MM)  # rollers by the neck
    assert body.contact(shoulder, SEAT_BEND_MM, TRACK_MM)
    assert body.contact(SEAT_BEND_MM, SEAT_BEND_MM, TRACK_MM)
    assert body.contact(TRACK_MM, SEAT_BEND_MM, TRACK_MM)
    assert not body.contact(TRACK_MM + 1.0, SEAT_BEND_MM, TRACK_MM)
    assert not Body(height_cm=height, seated=False).contact(SEAT_BEND_MM, SEAT_BEND_MM,
                                                             TRACK_MM)


def test_taller_person_has_higher_shoulder_line() -> None:
    assert Body(height_cm=200).shoulder_mm() < Body(height_cm=160).shoulder_mm()


@given(heights)
def test_landmarks_stay_on_the_track_in_order(height: float) -> None:
    marks = Body(height_cm=height).landmarks(SEAT_BEND_MM)
    assert list(marks) == list(LANDMARK_MM_PER_CM)
    positions = list(marks.values())
    assert all(0.0 < p < TRACK_MM for p in positions), marks
    assert positions == sorted(positions)
    assert marks["shoulder"] == Body(height_cm=height).shoulder_mm(SEAT_BEND_MM)
    assert marks["sacrum"] < SEAT_BEND_MM < marks["gluteal"]
