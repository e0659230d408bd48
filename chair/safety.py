"""The host's half of safety: a supervisor that watches the device against the caps.

The device enforces its own hard caps whatever we send; the caps in force for a run come
from `chair.caps`. This module clamps every setpoint to them and checks that what the device
reports is plausible for what we commanded (docs/safety.md lists each rule).
"""

from __future__ import annotations

import math

from chair import protocol as p
from chair.caps import HEAT_LEVEL_C, Caps
from chair.chairinfo import REFERENCE, Chair
from chair.heatwatch import HEAT_FOLLOW_BELOW_C as HEAT_FOLLOW_BELOW_C
from chair.heatwatch import HEAT_FOLLOW_C as HEAT_FOLLOW_C
from chair.heatwatch import HEAT_FOLLOW_S as HEAT_FOLLOW_S
from chair.heatwatch import HEAT_JUMP_C as HEAT_JUMP_C
from chair.heatwatch import HEAT_OFF_RISE_C as HEAT_OFF_RISE_C
from chair.heatwatch import HEAT_OFF_RISE_S as HEAT_OFF_RISE_S
from chair.heatwatch import HEAT_RATE_C_S as HEAT_RATE_C_S
from chair.heatwatch import HEAT_RISE_S as HEAT_RISE_S
from chair.heatwatch import HeatWatch, _Watch
from chair.limits import AIRBAG_KPA_RULE_MAX, DEVICE
from chair.plausible import AIR_KPA_MIN as AIR_KPA_MIN
from chair.plausible import Plausible, unreadable
from chair.regions import (
    Region,
    depth_max_near,
    place_regions,
    region_at,
    span_depth_max,
)

# ------------------------------------------------------------------------------ supervisor

#: Plausibility windows (assumed; see docs/safety.md).
AIR_RISE_S = 4.0  # a filling airbag must reach 20 % of its target by then
#: An airbag told to vent (0 kPa) from p0 must read at most
#: p0 * exp(-(t - AIR_VENT_LAG_S) / AIR_VENT_TAU_S) + AIR_VENT_MARGIN_KPA, t seconds after
#: the first report since the command, until it reads vented (under VENTED_KPA). The time
#: constant is 2.5 times the simulated vent valve's (0.4 s; chair specification
#: catalogues: deflation in 0.6-2 s, so tau 0.2-0.6 s for a 30-40 kPa bag) and slower than
#: the dump path's (0.8 s), so a healthy bag passes however it vents, and one that holds
#: its air fails within about a second.
AIR_VENT_TAU_S = 1.0
AIR_VENT_LAG_S = 0.3  # the valve's and the report's delay before the fall starts
AIR_VENT_MARGIN_KPA = 0.5  # sensor noise and rounding (noise is under 0.05 kPa)
VENTED_KPA = 1.0  # an airbag reading under this is vented (the safe state's test)
AIR_MARGIN_KPA = 1.0  # regulation overshoot tolerated above the host cap
STALL_S = 2.0  # a carriage commanded to move must move 1 mm in this window
DWELL_MM = 15.0
#: A report within this many mm of a region boundary may show the deeper region's cap:
#: twice the executor's arrival band (chair.executor.ARRIVED_MM, 5 mm), room for a real
#: carriage's overshoot at a turn (assumed; the simulated one stops within 1 mm).
REGION_TOLERANCE_MM = 10.0
#: A report may show a depth, technique, speed or foot speed above the one commanded for
#: this many reports in a row (the command in transit, the device's next tick); one more
#: is a fault (assumed: reports come every 100 ms, a command acts within one 10 ms tick).
TRANSIT_REPORTS = 2
#: The safe state confirmed by time, for a zone whose pressure reading is not trusted (an
#: air fault latched: a stuck sensor may read vented over a full bag). From SAFE_VENT_FROM
#: times the device's cap of the zone (a bag that over-pressured is above it), through the
#: slower relief path alone, with the time constant AIR_VENT_TAU_S (1 s: slower than the
#: simulated dump path's 0.8 s, sim/physics.py DUMP_TAU_S, and its vent valves' 0.4 s),
#: after AIR_VENT_LAG_S, down to VENTED_KPA (all assumed; docs/safety.md).
SAFE_VENT_FROM = 1.5
#: Air faults after which no pressure reading confirms a bag vented: over-pressure, inflate
#: timeout, held too long, not venting (each may be a sensor that reads wrong).
AIR_FAULTS = frozenset({p.FaultCode.OVERPRESSURE, p.FaultCode.INFLATE_TIMEOUT,
                        p.FaultCode.AIR_HOLD, p.FaultCode.NOT_VENTING})


def safe_vent_s(cap_kpa: float) -> float:
    """Seconds after a STOP by which a bag that was at most SAFE_VENT_FROM x `cap_kpa`
    (kPa) is under VENTED_KPA through the slower relief path alone (see SAFE_VENT_FROM)."""
    return AIR_VENT_LAG_S + AIR_VENT_TAU_S * math.log(SAFE_VENT_FROM * cap_kpa / VENTED_KPA)


#: The longest for any chair: from the highest cap the rules allow any zone (40 kPa),
#: about 4.4 s; chair.settle's SETTLE_S must leave room for it.
SAFE_VENT_S = safe_vent_s(AIRBAG_KPA_RULE_MAX)


class Supervisor(HeatWatch):
    """Clamps every setpoint to the caps and checks each status report against them.

    `chair` is the chair the device described at connect (chair.chairinfo; the reference
    chair when not given): its zones and heaters key every watch by name, its limits table
    gives the ranges for depth, width, speed, foot speed and the thermistor, its track the
    carriage's range.
    """

    def __init__(self, caps: Caps, chair: Chair = REFERENCE) -> None:
        self.caps = caps
        self.chair = chair
        self.limits = dict(chair.limits)
        self._plausible = Plausible(chair, self.limits, REGION_TOLERANCE_MM)
        self.track_mm = chair.track_mm
        # what is in force at the device: the roller (technique, depth, speed) and the foot
        # rollers' speed (None: not commanded since connecting), and how many reports in a
        # row have shown more than that, per field
        self._roller_set: tuple[str, int, int] | None = None
        self._foot_set: int | None = None
        self._over: dict[str, int] = {}
        self._stopped_at: float | None = None  # the last STOP, clock seconds
        #: zones whose pressure reading is not trusted, and why (confirmed vented by time)
        self.distrusted: dict[str, str] = {}
        # per airbag zone and per heater, by name: target, watch, last reading
        self._air: dict[str, _Watch] = {}
        self._air_target = dict.fromkeys(chair.zones, 0.0)
        self._heat: dict[str, _Watch] = {}
        self._heat_target = dict.fromkeys(chair.heaters, 0.0)
        self._heat_last: dict[str, tuple[float, float] | None] = dict.fromkeys(chair.heaters)
        self._follow: dict[str, _Watch] = {}  # since the last rise, and the lowest reading
        self._roller_target: float | None = None
        self._moving: _Watch | None = None
        self._dwell: _Watch | None = None
        # heaters commanded off: the last reading (time, °C), and the lowest in the window
        self._cool_last: dict[str, tuple[float, float] | None] = dict.fromkeys(chair.heaters)
        self._cool_low: dict[str, _Watch | None] = dict.fromkeys(chair.heaters)
        self.regions: tuple[Region, ...] = ()  # placed from the body scan (`place`)

    def place(self, landmarks: dict[str, float]) -> None:
        """Place the body regions from the scanned `landmarks` (mm): from here on depth is
        clamped and checked by the region under the roller too (chair.regions)."""
        self.regions = place_regions(landmarks, self.caps.depth_max)

    # ---- clamping: what the program asks for, within the caps

    def air_kpa(self, zone: str, level: int) -> float:
        """Target pressure for an airbag level 1..5 (0 = vent), within the caps."""
        return round(self.caps.airbag_kpa[zone] * min(level, self.caps.level_max) / 5.0, 1)

    def depth(self, program_zone: str, depth: int,
              span: tuple[float, float] | None = None) -> int:
        """`depth` within the step zone's cap and, once placed, the lowest cap of every
        region the sweep `span` (mm, either order) crosses; at least 1."""
        cap = self.caps.depth_max[program_zone]
        if span is not None and self.regions:
            cap = min(cap, span_depth_max(self.regions, *span))
        return max(1, min(depth, cap))

    def recline(self, back_pct: float, leg_pct: float) -> tuple[float, float]:
        """Backrest and leg rest (% of travel) within the cautions' recline bounds."""
        return max(back_pct, self.caps.back_pct_min), min(leg_pct, self.caps.leg_pct_max)

    @property
    def recline_bounded(self) -> bool:
        """True when a caution sets the recline (every step then commands it)."""
        return self.caps.back_pct_min > 0 or self.caps.leg_pct_max < 100

    def technique(self, technique: str) -> str:
        return "knead" if technique in self.caps.banned_techniques else technique

    def heat_c(self, level: int) -> float:
        if level <= 0 or self.caps.heat_target_c <= 0:
            return 0.0
        return min(HEAT_LEVEL_C[min(level, 3)], self.caps.heat_target_c)

    # ---- watching: what the device reports against what we commanded

    def commanded(self, command: p.Command, now: float) -> None:
        """Record a setpoint we sent, so its effect can be checked."""
        if isinstance(command, p.SetAir):
            self._air_target[command.zone] = command.kpa
            self._air.pop(command.zone, None)
        elif isinstance(command, p.SetHeat):
            h = command.zone
            self._heat_target[h] = command.target_c
            self._heat.pop(h, None)
            self._cool_low[h] = self._cool_last[h] = None
        elif isinstance(command, p.SetRoller):
            self._roller_target = command.pos_mm
            self._moving = None
            massage = command.technique != "off"
            self._roller_set = (command.technique, command.depth if massage else 0,
                                command.speed)
            self._over.clear()
        elif isinstance(command, p.SetFoot):
            self._foot_set = command.speed
            self._over.pop("foot", None)
        elif isinstance(command, p.Stop | p.Sync | p.Reset):
            if isinstance(command, p.Stop):
                self._stopped_at = now
            if isinstance(command, p.Reset):
                self.distrusted.clear()
            self._roller_set, self._foot_set = ("off", 0, 0), 0
            self._over.clear()
            self._air_target = dict.fromkeys(self.chair.zones, 0.0)
            self._heat_target = dict.fromkeys(self.chair.heaters, 0.0)
            self._roller_target = None
            self._air.clear()
            self._heat.clear()

    def check(self, status: p.StatusReport, now: float) -> str | None:
        """The first implausible or unsafe reading in `status`, as a reason, or None.

        Called on every report from the start of a session until the chair is confirmed
        in its safe state (`unsafe`), parking and the settling after it included.
        """
        why = unreadable(status, self.chair) or self._plausible.check(status)
        if why:  # nan compares false and a missing value is never compared: a pass
            return why
        self._distrust(status)
        if status.faults:
            return "device fault " + ",".join(f.wire for f in status.faults)
        if status.pinch:
            return "pinch sensor: something is caught at the leg rest"
        return (self._check_air(status, now) or self._check_heat(status, now)
                or self._check_cooling(status, now) or self._check_roller(status, now)
                or self._check_region(status) or self._check_commanded(status))

    def _check_commanded(self, status: p.StatusReport) -> str | None:
        """A depth, technique, roller speed or foot speed above what is in force for more
        than TRANSIT_REPORTS reports in a row (a roller working while commanded off is
        above it too); nothing is judged before the first command."""
        above: dict[str, str] = {}
        if self._roller_set is not None:
            technique, depth, speed = self._roller_set
            if status.technique not in ("off", technique):
                above["technique"] = f"technique {status.technique} (commanded {technique})"
            if status.depth > depth:
                above["depth"] = f"depth {status.depth} (commanded {depth})"
            if status.technique != "off" and status.speed > speed:
                above["speed"] = f"speed {status.speed} (commanded {speed})"
        if self._foot_set is not None and status.foot > self._foot_set:
            above["foot"] = f"foot speed {status.foot} (commanded {self._foot_set})"
        for name in list(self._over):
            if name not in above:
                del self._over[name]
        for name, what in above.items():
            self._over[name] = self._over.get(name, 0) + 1
            if self._over[name] > TRANSIT_REPORTS:
                return f"device reports {what}: above what was commanded for " \
                       f"{self._over[name]} reports"
        return None

    def _distrust(self, status: p.StatusReport) -> None:
        """An air fault latched at the device: no zone's pressure reading is trusted."""
        latched = [f for f in status.faults if f in AIR_FAULTS]
        if latched:
            for zone in self.chair.zones:
                self.distrusted.setdefault(zone, latched[0].wire)

    def vented_by_time(self) -> dict[str, str]:
        """The zones confirmed vented by time rather than by their reading, and why."""
        return dict(self.distrusted)

    def unsafe(self, status: p.StatusReport | None, home_mm: float | None,
               now: float | None = None) -> str | None:
        """What keeps the chair from its confirmed safe state, or None when it is there.

        Safe: the device not running (`Run`), every airbag reading vented (under
        `VENTED_KPA`), every heater commanded off, the roller heads and foot rollers at
        rest and, with `home_mm`, the roller parked above it (mm from the track top).
        Heaters must also cool: `check` faults one that warms or jumps while off. A zone
        whose reading is not trusted (`distrusted`) is vented only once `safe_vent_s` of
        its device cap has passed since the last STOP (clock seconds `now`).
        """
        if status is None:
            return "no status report from the chair"
        if status.state == "Run":
            return "the device still runs"
        self._distrust(status)
        for zone, kpa in self.chair.air(status).items():
            if zone in self.distrusted:
                wait = safe_vent_s(self.limits.get(f"airbag_kpa_max.{zone}", 0.0)
                                   or DEVICE[f"airbag_kpa_max.{zone}"])
                since = None if now is None or self._stopped_at is None \
                    else now - self._stopped_at
                if since is None or since < wait:
                    return (f"airbag {zone}: its reading is not trusted "
                            f"({self.distrusted[zone]}); vented by time {wait:.1f} s after "
                            "the stop")
                continue
            if not kpa < VENTED_KPA:
                return f"airbag {zone} reads {kpa:.1f} kPa (vented is under {VENTED_KPA:g})"
        for zone, target in self._heat_target.items():
            if target > 0:
                return f"heater {zone} is commanded on"
        if status.technique != "off" or status.force_n > 0:
            return f"the roller still works ({status.technique}, {status.force_n:.0f} N)"
        if status.foot:
            return "the foot rollers still turn"
        if home_mm is not None and not status.pos_mm < home_mm:
            return f"the roller is at {status.pos_mm:.0f} mm, not home"
        return None

    def _check_air(self, status: p.StatusReport, now: float) -> str | None:
        """An airbag above its cap, not inflating or not venting; its zone's reading is
        then distrusted (`unsafe` confirms it vented by time)."""
        for zone, kpa in self.chair.air(status).items():
            why = self._air_fault(zone, kpa, now)
            if why:
                self.distrusted.setdefault(zone, why)
                return why
        return None

    def _air_fault(self, zone: str, kpa: float, now: float) -> str | None:
        """Why airbag `zone` reading `kpa` is a fault now, or None."""
        # the zone's cap scaled by the user's intensity: the highest target air_kpa gives
        level = min(self.caps.level_max, 5)
        if kpa > self.caps.airbag_kpa[zone] * level / 5.0 + AIR_MARGIN_KPA:
            cap = self.caps.airbag_kpa[zone] * level / 5.0  # the figure compared, as shown
            return (f"airbag {zone} at {kpa:.1f} kPa, above the cap {cap:.3g}"
                    + (f" of intensity {level}" if level < 5 else ""))
        target = self._air_target[zone]
        watch = self._air.get(zone)
        if watch is None:  # (not setdefault: that builds a _Watch on every report)
            watch = self._air[zone] = _Watch(now, kpa)
        if target > 0 and kpa < 0.2 * target and now - watch.since > AIR_RISE_S:
            return f"airbag {zone} does not inflate ({kpa:.1f} of {target:.1f} kPa)"
        if target == 0 and kpa >= VENTED_KPA:
            late = max(0.0, now - watch.since - AIR_VENT_LAG_S)
            bound = watch.start_value * math.exp(-late / AIR_VENT_TAU_S)
            if kpa > bound + AIR_VENT_MARGIN_KPA:
                return (f"airbag {zone} does not vent ({kpa:.1f} kPa "
                        f"{now - watch.since:.1f} s after {watch.start_value:.1f} kPa)")
        return None

    def _check_region(self, status: p.StatusReport) -> str | None:
        """The heads deeper than the cap of the body region under the roller (within
        `REGION_TOLERANCE_MM` of a boundary, the deeper neighbour's cap), once placed."""
        if not self.regions or status.technique == "off" or status.depth <= 0:
            return None
        cap = depth_max_near(self.regions, status.pos_mm, REGION_TOLERANCE_MM)
        if status.depth <= cap:
            return None
        region = region_at(self.regions, status.pos_mm)
        return (f"roller at depth {status.depth} at {status.pos_mm:.0f} mm, in the "
                f"{region.name} region, whose cap is {region.depth_max}")

    def _check_roller(self, status: p.StatusReport, now: float) -> str | None:
        target = self._roller_target
        if target is not None and abs(status.pos_mm - target) > 2.0:
            if self._moving is None or abs(status.pos_mm - self._moving.start_value) >= 1.0:
                self._moving = _Watch(now, status.pos_mm)
            elif now - self._moving.since > STALL_S:
                return f"roller does not move toward {target:.0f} mm (stuck at {status.pos_mm:.0f})"
        else:
            self._moving = None
        if status.technique == "off":
            self._dwell = None
            return None
        if self._dwell is None or abs(status.pos_mm - self._dwell.start_value) > DWELL_MM:
            self._dwell = _Watch(now, status.pos_mm)
        elif now - self._dwell.since > self.caps.dwell_s_max:
            return f"roller has worked one spot ({status.pos_mm:.0f} mm) for over " \
                   f"{self.caps.dwell_s_max:g} s"
        return None
