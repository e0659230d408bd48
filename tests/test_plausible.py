"""chair.plausible (issue 14 item 3): the ranges worked out once per chair give the same
reason, word for word, as the check that built every range at every report did."""

from __future__ import annotations

import dataclasses
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from chair import protocol as p
from chair.chairinfo import REFERENCE, Chair
from chair.limits import DEVICE, TECHNIQUES, cap
from chair.plausible import AIR_KPA_MIN, Plausible
from chair.safety import REGION_TOLERANCE_MM

BASE = p.StatusReport("Run", 1.0, 300.0, "knead", 2, 2, 3, 40.0, (0.0,) * 6, (30.0, 30.0), 0,
                      0.0, 0.0, True, False, ())
NO_FOOT = dataclasses.replace(REFERENCE, axes=tuple(a for a in REFERENCE.axes if a != "foot"))


def reference_check(status: p.StatusReport, chair: Chair, limits: dict[str, float]) -> str:
    """The check as it was (chair.safety._implausible before issue 14), every range built
    at every report."""
    def limit(name: str) -> float:
        return limits.get(name, DEVICE[name])

    slack = REGION_TOLERANCE_MM
    foot_max = limit("foot_speed_max") if "foot" in chair.axes else 0
    ranges = (("depth", status.depth, 0, limit("roller_depth_max")),
              ("width", status.width, 0, limit("roller_width_max")),
              ("speed", status.speed, 0, limit("roller_speed_max")),
              ("foot", status.foot, 0, foot_max),
              ("force", status.force_n, 0.0, cap("roller_force_n_max")),
              ("back", status.back_pct, 0.0, 100.0), ("leg", status.leg_pct, 0.0, 100.0),
              ("pos", status.pos_mm, -slack, chair.track_mm + slack),
              *((f"air.{z}", kpa, AIR_KPA_MIN, math.inf)
                for z, kpa in chair.air(status).items()),
              *((f"heat.{h}", c, limit("thermistor_c_min"), limit("thermistor_c_max"))
                for h, c in chair.heat(status).items()))
    for name, value, low, high in ranges:
        if not low <= value <= high:
            return f"device reported {name}={value:g}, outside its plausible range " \
                   f"{low:g}..{high:g}"
    if status.technique not in TECHNIQUES:
        return f"device reported technique {status.technique!r}, not a plausible one"
    return ""


def _near(low: float, high: float) -> st.SearchStrategy[float]:
    """Mostly inside [low, high], sometimes just or far outside it."""
    return st.one_of(st.floats(low, high), st.sampled_from([low, high, low - 0.01, high + 0.01]),
                     st.floats(-1000.0, 1000.0))


STATUSES = st.builds(
    lambda depth, width, speed, foot, force, back, leg, pos, air, heat, technique:
        dataclasses.replace(BASE, depth=depth, width=width, speed=speed, foot=foot,
                            force_n=force, back_pct=back, leg_pct=leg, pos_mm=pos,
                            air_kpa=tuple(air), heat_c=tuple(heat), technique=technique),
    st.integers(-1, 6), st.integers(-1, 4), st.integers(-1, 7), st.integers(-1, 4),
    _near(0.0, 100.0), _near(0.0, 100.0), _near(0.0, 100.0), _near(-10.0, 800.0),
    st.lists(_near(-1.0, 40.0), min_size=6, max_size=6),
    st.lists(_near(-10.0, 90.0), min_size=2, max_size=2),
    st.sampled_from([*TECHNIQUES, "punch"]))


@settings(max_examples=400, deadline=None)
@given(STATUSES, st.sampled_from([REFERENCE, NO_FOOT]))
def test_the_reason_is_the_one_the_per_report_ranges_gave(status, chair) -> None:
    limits = dict(chair.limits)
    assert Plausible(chair, limits, REGION_TOLERANCE_MM).check(status) == \
        reference_check(status, chair, limits)


def test_the_first_zone_and_heater_out_of_range_are_named_in_order() -> None:
    plausible = Plausible(REFERENCE, dict(REFERENCE.limits), REGION_TOLERANCE_MM)
    status = dataclasses.replace(BASE, air_kpa=(0.0, -3.0, 0.0, -9.0, 0.0, 0.0))
    assert plausible.check(status).startswith(f"device reported air.{REFERENCE.zones[1]}=-3,")
    status = dataclasses.replace(BASE, heat_c=(30.0, 95.0))
    assert plausible.check(status).startswith(f"device reported heat.{REFERENCE.heaters[1]}=95,")
