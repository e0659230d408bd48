"""The supervisor's heat watches: a heater must warm when on, cool when off, and its
reading must follow (docs/safety.md, rule 8).

A mixin of `chair.safety.Supervisor`, which calls these from its `check`; the figures stay
importable from `chair.safety`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chair import protocol as p

if TYPE_CHECKING:
    from chair.safety import Supervisor

HEAT_RISE_S = 30.0  # a heater below target - 4 °C must rise 2 °C in this window
HEAT_JUMP_C = 3.0  # a heating surface moving this much faster than ...
HEAT_RATE_C_S = 1.0  # ... this rate between two reports: the thermistor came loose
HEAT_FOLLOW_BELOW_C = 1.0  # a reading this far under target: the device's heater is on ...
HEAT_FOLLOW_S = 8.0  # ... so within this window ...
HEAT_FOLLOW_C = 0.2  # ... the reading must rise this much above its lowest (else loose)
#: A heater commanded off that reads this much (°C) above its lowest reading within
#: HEAT_OFF_RISE_S is warming while off: a powered element (about 0.5 °C/s on the plant),
#: not a seated person's slow warmth (a few hundredths of a degree a second).
HEAT_OFF_RISE_C = 1.0
HEAT_OFF_RISE_S = 10.0


@dataclass
class _Watch:
    """Since when a condition has held, and the reading it started from."""

    since: float
    start_value: float


class HeatWatch:
    """The heat checks, for `Supervisor` to inherit."""

    def _check_cooling(self: Supervisor, status: p.StatusReport, now: float) -> str | None:
        """A heater commanded off must cool: a reading that rises (a relay welded on) or
        jumps faster than a surface can change (the thermistor came loose) is a fault."""
        for zone, temp in self.chair.heat(status).items():
            if self._heat_target[zone] > 0:
                continue
            last, self._cool_last[zone] = self._cool_last[zone], (now, temp)
            if last is not None and \
                    abs(temp - last[1]) > HEAT_JUMP_C + HEAT_RATE_C_S * (now - last[0]):
                return f"heater {zone} reading jumped {last[1]:.1f} to {temp:.1f} °C while " \
                       "off (thermistor loose?)"
            low = self._cool_low[zone]
            if low is not None and temp > low.start_value + HEAT_OFF_RISE_C:
                return f"heater {zone} warms while off ({low.start_value:.1f} to " \
                       f"{temp:.1f} °C; relay welded on?)"
            if low is None or temp < low.start_value or now - low.since > HEAT_OFF_RISE_S:
                self._cool_low[zone] = _Watch(now, temp)
        return None

    def _check_heat(self: Supervisor, status: p.StatusReport, now: float) -> str | None:
        for zone, temp in self.chair.heat(status).items():
            if temp > self.caps.heat_c_max:
                return f"heater {zone} at {temp:.1f} °C, above {self.caps.heat_c_max} °C"
            target = self._heat_target[zone]
            last, self._heat_last[zone] = self._heat_last[zone], (now, temp)
            if (target > 0 and last is not None
                    and abs(temp - last[1]) > HEAT_JUMP_C + HEAT_RATE_C_S * (now - last[0])):
                return f"heater {zone} reading jumped {last[1]:.1f} to {temp:.1f} °C " \
                       "(thermistor loose?)"
            if self._not_following(zone, target, temp, now):
                return f"heater {zone} is powered but its reading does not follow " \
                       f"({temp:.1f} °C, target {target} °C: thermistor loose?)"
            if target <= 0 or temp >= target - 4.0:
                self._heat.pop(zone, None)
                continue
            watch = self._heat.setdefault(zone, _Watch(now, temp))
            if now - watch.since > HEAT_RISE_S:
                if temp - watch.start_value < 2.0:
                    return f"heater {zone} does not warm ({temp:.1f} °C, target {target} °C)"
                self._heat[zone] = _Watch(now, temp)
        return None

    def _not_following(self: Supervisor, heater: str, target: float, temp: float,
                       now: float) -> bool:
        """Heat follow, in every mode: a reading more than HEAT_FOLLOW_BELOW_C under its
        target means the device's thermostat powers the heater, so it must rise
        HEAT_FOLLOW_C above its lowest within HEAT_FOLLOW_S (rule 8)."""
        if target <= 0 or temp >= target - HEAT_FOLLOW_BELOW_C:
            self._follow.pop(heater, None)
            return False
        watch = self._follow.get(heater)
        if watch is None or temp >= watch.start_value + HEAT_FOLLOW_C:
            self._follow[heater] = _Watch(now, temp)
            return False
        watch.start_value = min(watch.start_value, temp)
        return now - watch.since > HEAT_FOLLOW_S
