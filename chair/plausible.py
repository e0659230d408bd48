"""The supervisor's first look at a status report: is every reading there, finite and
plausible? (chair.safety; docs/safety.md.) Ten times a second, so the ranges are worked out
once per chair and a report whose readings all fall inside them costs a few comparisons."""

from __future__ import annotations

import math

from chair import protocol as p
from chair.chairinfo import Chair
from chair.limits import DEVICE, TECHNIQUES, cap

#: A pressure reading below this (kPa, gauge) is implausible: a bag is never under vacuum
#: (assumed; the simulated sensor's noise is under 0.05 kPa).
AIR_KPA_MIN = -1.0


def unreadable(status: p.StatusReport, chair: Chair) -> str:
    """Why `status` cannot be checked, or '': a reading missing (fewer pressures or
    temperatures than the chair has zones and heaters), or nan or infinite. The codec
    never decodes a non-finite number (docs/protocol.md §1.1); this is the second line."""
    zones, heaters = chair.zones, chair.heaters
    if len(status.air_kpa) != len(zones) or len(status.heat_c) != len(heaters):
        return (f"device reported {len(status.air_kpa)} airbag pressures and "
                f"{len(status.heat_c)} temperatures; the chair has {len(zones)} zones and "
                f"{len(heaters)} heaters")
    values = (status.t, status.pos_mm, status.force_n, status.back_pct, status.leg_pct,
              *status.air_kpa, *status.heat_c)
    if math.isfinite(sum(values)):  # nan or inf anywhere makes the sum so
        return ""
    named = {"t": status.t, "pos": status.pos_mm, "force": status.force_n,
             "back": status.back_pct, "leg": status.leg_pct,
             **{f"air.{z}": kpa for z, kpa in chair.air(status).items()},
             **{f"heat.{h}": c for h, c in chair.heat(status).items()}}
    bad = next((f"{name}={value}" for name, value in named.items()
                if not math.isfinite(value)), "a reading")
    return f"device reported {bad}, not a finite number"


class Plausible:
    """The plausible range of every field of a status report from `chair`, whose device
    table is `limits` (a missing entry: chair.limits.DEVICE's), the carriage allowed
    `slack_mm` past either end of the track.

    Ranges: depth 0..roller_depth_max, width 0..roller_width_max, speed 0..roller_speed_max
    and foot 0..foot_speed_max of the device's table; force 0..HOST roller_force_n_max;
    backrest and leg rest 0..100 %; pressures from AIR_KPA_MIN; temperatures within the
    thermistor's range; the carriage on the track. A chair without foot rollers (no `foot`
    drive) reports foot 0.
    """

    def __init__(self, chair: Chair, limits: dict[str, float], slack_mm: float) -> None:
        def limit(name: str) -> float:
            return limits.get(name, DEVICE[name])

        self.chair = chair
        foot_max = limit("foot_speed_max") if "foot" in chair.axes else 0
        #: (name, low, high) of depth, width, speed, foot, force, back, leg, pos, in order
        self.fields = (("depth", 0, limit("roller_depth_max")),
                       ("width", 0, limit("roller_width_max")),
                       ("speed", 0, limit("roller_speed_max")),
                       ("foot", 0, foot_max),
                       ("force", 0.0, cap("roller_force_n_max")),
                       ("back", 0.0, 100.0), ("leg", 0.0, 100.0),
                       ("pos", -slack_mm, chair.track_mm + slack_mm))
        self.heat_low, self.heat_high = limit("thermistor_c_min"), limit("thermistor_c_max")

    def check(self, status: p.StatusReport) -> str:
        """The first field of a readable `status` (`unreadable` says '') outside its
        plausible range, as a reason, or ''."""
        values = (status.depth, status.width, status.speed, status.foot, status.force_n,
                  status.back_pct, status.leg_pct, status.pos_mm)
        for (name, low, high), value in zip(self.fields, values, strict=True):
            if not low <= value <= high:
                return _outside(name, value, low, high)
        air, heat = status.air_kpa, status.heat_c
        if air and min(air) < AIR_KPA_MIN:
            for zone, kpa in self.chair.air(status).items():
                if kpa < AIR_KPA_MIN:
                    return _outside(f"air.{zone}", kpa, AIR_KPA_MIN, math.inf)
        if heat and not self.heat_low <= min(heat) <= max(heat) <= self.heat_high:
            for heater, c in self.chair.heat(status).items():
                if not self.heat_low <= c <= self.heat_high:
                    return _outside(f"heat.{heater}", c, self.heat_low, self.heat_high)
        if status.technique not in TECHNIQUES:
            return f"device reported technique {status.technique!r}, not a plausible one"
        return ""


def _outside(name: str, value: float, low: float, high: float) -> str:
    return f"device reported {name}={value:g}, outside its plausible range {low:g}..{high:g}"
