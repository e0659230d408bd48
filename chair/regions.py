"""Body regions along the roller track, and the depth cap of each: caps by where the roller is.

A step's zone (`lumbar`, `legs`, ...) says what the step is for; the region says what lies
under the roller at a given moment. The host caps the roller's depth by both: a step never
works deeper than its zone's cap, and never deeper than the cap of any region its sweep
crosses (chair.executor), and the supervisor faults a report that shows the heads deeper
than the cap of the region the roller is in (chair.safety). The regions are placed from the
scanned landmarks (chair.landmarks), in track order, edge to edge:

=========== ====================================== ===================================
region      from .. to (track mm, top first)       caps from (program zones, Caps)
=========== ====================================== ===================================
thoracic    top of the track .. `t12`              none: no program works here; heads
                                                   at the shallowest step (1) only
lumbar      `t12` .. `sacrum`                      `lumbar` (the L1-S1 discs lie here)
buttock     `sacrum` .. `gluteal` + 20 mm          `gluteal` and `piriformis`
thigh       `gluteal` + 20 mm .. end of the track  `legs` (the sciatic nerve's path)
=========== ====================================== ===================================

The buttock ends 20 mm below the gluteal centre, where issue 10 draws the line of the
posterior thigh (assumed: the gluteal fold lies just below the sitting bones). A region's
cap is the lowest cap of its zones in `Caps.depth_max`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The buttock region reaches this far (mm) below the gluteal landmark (assumed; issue 10).
GLUTEAL_FOLD_MM = 20.0

#: Region name -> the program zones whose depth caps apply there (none: depth 1 only).
REGION_ZONES: dict[str, tuple[str, ...]] = {
    "thoracic": (),
    "lumbar": ("lumbar",),
    "buttock": ("gluteal", "piriformis"),
    "thigh": ("legs",),
}


@dataclass(frozen=True)
class Region:
    """One body region: track positions `low_mm` <= pos < `high_mm` and its depth cap."""

    name: str
    low_mm: float
    high_mm: float
    depth_max: int


def region_caps(depth_max: dict[str, int]) -> dict[str, int]:
    """Each region's depth cap from the per-zone caps in force (`Caps.depth_max`)."""
    return {name: min((depth_max[z] for z in zones), default=1)
            for name, zones in REGION_ZONES.items()}


def place_regions(landmarks: dict[str, float], depth_max: dict[str, int]) -> tuple[Region, ...]:
    """The regions in track order for scanned `landmarks` (mm), capped by `depth_max`.

    The first starts at -inf and the last ends at +inf, so every position lies in one.
    Raises KeyError when a landmark the map needs is missing.
    """
    caps = region_caps(depth_max)
    edges = (-math.inf, landmarks["t12"], landmarks["sacrum"],
             landmarks["gluteal"] + GLUTEAL_FOLD_MM, math.inf)
    return tuple(Region(name, edges[i], edges[i + 1], caps[name])
                 for i, name in enumerate(REGION_ZONES))


def region_at(regions: tuple[Region, ...], pos_mm: float) -> Region:
    """The region the roller at `pos_mm` is in."""
    for region in regions:
        if pos_mm < region.high_mm:
            return region
    return regions[-1]


def crossed(regions: tuple[Region, ...], a_mm: float, b_mm: float) -> list[Region]:
    """The regions a sweep between `a_mm` and `b_mm` (either order) passes over.

    A sweep that only touches a region's edge does not cross it.
    """
    low, high = min(a_mm, b_mm), max(a_mm, b_mm)
    return [r for r in regions
            if (r.low_mm < high and r.high_mm > low) or r.low_mm <= low < r.high_mm]


def span_depth_max(regions: tuple[Region, ...], a_mm: float, b_mm: float) -> int:
    """The deepest step allowed over the whole sweep `a_mm`..`b_mm`: its regions' lowest cap."""
    return min(r.depth_max for r in crossed(regions, a_mm, b_mm))


def depth_max_near(regions: tuple[Region, ...], pos_mm: float, tolerance_mm: float) -> int:
    """The highest cap within `tolerance_mm` of `pos_mm` (a report's allowance at a boundary)."""
    return max(r.depth_max for r in crossed(regions, pos_mm - tolerance_mm,
                                            pos_mm + tolerance_mm))
