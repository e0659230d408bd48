"""The person in the chair: where their body lies along the roller track.

Track geometry (a chair description, firmware.chairs): 0 mm is the top of the L-track, the
seat bend is at `seat_mm` and the track ends at `track_mm` under the thighs; the defaults are
the reference chair's (`SEAT_MM`, `TRACK_MM`). Positions above the bend lie on the back
(smaller mm is higher up); positions past the bend lie under the seat.

Anthropometry, all **assumed** (rounded ratios of stature for a seated adult, not measured
on this chair): seated shoulder height is 0.345 x stature, so the shoulder line sits
3.45 mm per cm of height above the bend; the other landmarks are in `LANDMARK_MM_PER_CM`.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware import chairs

_REFERENCE = chairs.load("reference")
SEAT_MM = float(_REFERENCE["seat_mm"])  # the reference chair's seat bend (850 mm)
TRACK_MM = float(_REFERENCE["track_mm"])  # and its track length (1250 mm)

HEIGHT_CM_RANGE = (150.0, 210.0)
STIFFNESS_RANGE = (0.5, 2.0)

#: Track offset of each landmark from the seat bend, in mm per cm of stature: negative is
#: up the back, positive is under the seat. Assumed ratios (see the module docstring).
LANDMARK_MM_PER_CM: dict[str, float] = {
    "shoulder": -3.45,  # shoulder line, 0.345 x stature above the seat (assumed)
    "l3": -1.55,  # mid-lumbar (assumed)
    "l5": -1.15,  # lumbosacral junction, about the iliac crest (assumed)
    "sacrum": -0.60,  # (assumed)
    "piriformis": 0.25,  # just past the bend, above the ischium (assumed)
    "gluteal": 0.60,  # gluteal centre, under the buttock (assumed)
    "thigh": 1.60,  # mid-thigh, under the seat (assumed)
}


def _check_range(name: str, value: float, bounds: tuple[float, float], unit: str) -> None:
    low, high = bounds
    if not low <= value <= high:  # also rejects NaN
        raise ValueError(f"Body {name}={value!r} outside {low:g}..{high:g}{unit}")


@dataclass(frozen=True)
class Body:
    """A seated (or absent) person: stature, tissue stiffness scale, whether seated."""

    height_cm: float = 175.0
    stiffness: float = 1.0
    seated: bool = True

    def __post_init__(self) -> None:
        _check_range("height_cm", self.height_cm, HEIGHT_CM_RANGE, " cm")
        _check_range("stiffness", self.stiffness, STIFFNESS_RANGE, "")

    def shoulder_mm(self, seat_mm: float = SEAT_MM) -> float:
        """Track position of the shoulder line: seat_mm - 3.45 x height_cm (assumed)."""
        return seat_mm + LANDMARK_MM_PER_CM["shoulder"] * self.height_cm

    def contact(self, pos_mm: float, seat_mm: float = SEAT_MM,
                track_mm: float = TRACK_MM) -> bool:
        """Whether a roller at `pos_mm` touches the body.

        From the shoulder line down to the track end; above the shoulder line the rollers
        straddle the neck (assumed). Nobody seated: no contact.
        """
        return self.seated and self.shoulder_mm(seat_mm) <= pos_mm <= track_mm

    def landmarks(self, seat_mm: float = SEAT_MM) -> dict[str, float]:
        """Track position (mm) of each landmark in `LANDMARK_MM_PER_CM`, top to bottom."""
        return {name: seat_mm + ratio * self.height_cm
                for name, ratio in LANDMARK_MM_PER_CM.items()}
