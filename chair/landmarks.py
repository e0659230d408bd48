"""Body landmarks: where a program's named places lie on the roller track.

The body scan finds one thing, the shoulder line, as a track position in mm from the top of
the L-track (`shoulder_mm`); on a chair whose roller senses no force it comes from the
person's height instead (`shoulder_from_height`) or is given in mm (chair.shoulder).
Every other landmark is placed from it and from the track's geometry (chair.limits): the
seat bend at `SEAT_BEND_MM` and the track end at `TRACK_MM`, under the thighs. Smaller mm
is higher up the back; past the bend the track runs forward under the seat.

All figures below are **assumed**: rounded proportions of a seated adult, chosen for want of
a published figure for any particular chair, not measured on this one.

* Back landmarks are fractions of the seated back length ``B = seat_mm - shoulder_mm``
  (the distance along the backrest from the shoulder line to the seat bend), measured down
  from the shoulder line. For a person of 175 cm, B is about 600 mm (seated shoulder height
  is roughly a third of stature):

  ========== ====== ==========================================================
  landmark   × B    what it is
  ========== ====== ==========================================================
  shoulder   0.00   shoulder line, found by the scan
  scapula    0.30   middle of the shoulder blades (about T4-T6)
  t12        0.52   thoracolumbar junction, top of the lumbar work
  l3         0.68   mid-lumbar, the apex of the lumbar curve
  l5         0.80   lumbosacral junction, about the level of the iliac crests
  sacrum     0.90   middle of the sacrum, just above the seat
  ========== ====== ==========================================================

* Seat landmarks lie past the bend, on the part of the track under the seat, also as
  fractions of B (a longer back goes with longer thighs):

  ========== ====== ==========================================================
  piriformis 0.07   just forward of the sacrum, over the piriformis muscle
  gluteal    0.15   gluteal centre, under the buttock (the sitting bones)
  thigh      0.40   back of the mid-thigh, on the sciatic nerve's path
  ========== ====== ==========================================================

Every position is clamped inside the track (0..track_mm). For shoulder positions of
100..400 mm on the standard geometry nothing needs clamping, the landmarks come out in
track order and neighbours lie at least 0.07 B (over 30 mm) apart.
"""

from __future__ import annotations

import math

from chair.limits import SEAT_BEND_MM, TRACK_MM

#: Landmarks in order down the track (top of the back first, mid-thigh last).
LANDMARKS: tuple[str, ...] = (
    "shoulder", "scapula", "t12", "l3", "l5", "sacrum", "piriformis", "gluteal", "thigh",
)

#: Back landmarks: fraction of the back length B below the shoulder line (assumed).
BACK_FRACTION: dict[str, float] = {
    "shoulder": 0.0,
    "scapula": 0.30,
    "t12": 0.52,
    "l3": 0.68,
    "l5": 0.80,
    "sacrum": 0.90,
}

#: Seat landmarks: fraction of B forward of the seat bend, under the seat (assumed).
SEAT_FRACTION: dict[str, float] = {
    "piriformis": 0.07,
    "gluteal": 0.15,
    "thigh": 0.40,
}

#: Shoulder positions (mm from the top of the track) that can be a seated person. On the
#: standard track this spans statures of roughly 130 cm to 215 cm (assumed).
SHOULDER_MM_RANGE = (100.0, 400.0)

#: Seated shoulder height as a share of stature, along the backrest from the seat bend to
#: the shoulder line: 0.345, so 3.45 mm of track per cm of height (assumed: a rounded ratio
#: for a seated adult, the same one the simulated person uses, sim/body.py). It places the
#: shoulder line from a person's height on a chair whose roller senses no force.
SHOULDER_MM_PER_CM = 3.45

#: Heights (cm) accepted for placing the shoulder line from stature (assumed: the adults
#: the anthropometry above is meant for; the simulated person accepts the same range).
HEIGHT_CM_RANGE = (150.0, 210.0)

#: Short human names for displays.
DESCRIPTIONS: dict[str, str] = {
    "shoulder": "shoulder line",
    "scapula": "shoulder blades",
    "t12": "T12, top of the lower back",
    "l3": "L3, mid lower back",
    "l5": "L5, base of the spine",
    "sacrum": "sacrum",
    "piriformis": "piriformis",
    "gluteal": "gluteal centre",
    "thigh": "mid-thigh",
}


def landmark_positions(shoulder_mm: float, seat_mm: float = SEAT_BEND_MM,
                       track_mm: float = TRACK_MM) -> dict[str, float]:
    """Track position (mm) of every landmark, in `LANDMARKS` order.

    Raises ValueError when `shoulder_mm` cannot be a seated person (outside
    `SHOULDER_MM_RANGE`, or not above the seat bend) or the geometry is impossible.
    """
    for label, value in (("shoulder_mm", shoulder_mm), ("seat_mm", seat_mm),
                         ("track_mm", track_mm)):
        if not isinstance(value, int | float) or isinstance(value, bool) \
                or not math.isfinite(value):
            raise ValueError(f"{label}={value!r} is not a finite number of mm")
    low, high = SHOULDER_MM_RANGE
    if not low <= shoulder_mm <= high:
        raise ValueError(f"shoulder line at {shoulder_mm:g} mm cannot be a seated person: "
                         f"expected {low:g}..{high:g} mm from the top of the track; "
                         "rescan, or nudge the shoulder position")
    if not shoulder_mm < seat_mm <= track_mm:
        raise ValueError(f"impossible track geometry: shoulder {shoulder_mm:g} mm, seat bend "
                         f"{seat_mm:g} mm, track end {track_mm:g} mm (need shoulder < seat "
                         "<= track end)")
    back = seat_mm - shoulder_mm
    positions: dict[str, float] = {}
    for name in LANDMARKS:
        if name in BACK_FRACTION:
            pos = shoulder_mm + BACK_FRACTION[name] * back
        else:
            pos = seat_mm + SEAT_FRACTION[name] * back
        positions[name] = min(max(pos, 0.0), track_mm)
    return positions


def shoulder_from_height(height_cm: float, seat_mm: float = SEAT_BEND_MM) -> float:
    """The shoulder line (mm from the top of the track) of a seated person `height_cm` tall:
    `seat_mm - SHOULDER_MM_PER_CM * height_cm`.

    Raises ValueError when `height_cm` is not a finite number inside `HEIGHT_CM_RANGE`.
    Whether the line fits a given chair is `landmark_positions`' to say.
    """
    if not isinstance(height_cm, int | float) or isinstance(height_cm, bool) \
            or not math.isfinite(height_cm):
        raise ValueError(f"height {height_cm!r} is not a finite number of cm")
    low, high = HEIGHT_CM_RANGE
    if not low <= height_cm <= high:
        raise ValueError(f"height {height_cm:g} cm is outside {low:g}..{high:g} cm, the "
                         "statures the shoulder line can be placed from")
    return seat_mm - SHOULDER_MM_PER_CM * height_cm


def nearest_landmark(pos_mm: float, positions: dict[str, float]) -> str:
    """The landmark closest to `pos_mm` (ties go to the one higher up the track)."""
    if not positions:
        raise ValueError("no landmark positions: scan the body first")
    order = {name: i for i, name in enumerate(LANDMARKS)}
    return min(positions, key=lambda name: (abs(positions[name] - pos_mm),
                                            order.get(name, len(order)), name))
