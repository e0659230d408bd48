"""Turns a program and the scanned body into setpoints, moment by moment.

The executor is pure bookkeeping: given the time into the program and the latest status
it says what every actuator should be doing, already clamped by the supervisor. The
controller sends only what changed.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable

from chair import protocol as p
from chair.airtime import filled_s
from chair.program import Program, Step
from chair.safety import Supervisor

#: The roller is at a landmark when within this many mm of it (where a sweep turns, and
#: where a transit ends).
ARRIVED_MM = 5.0


def off_command(key: Hashable, status: p.StatusReport | None, lease_ms: int) -> p.Command | None:
    """The command that returns one actuator to rest (None: leave it where it is)."""
    match key:
        case "roller":
            pos = status.pos_mm if status else 0.0
            return p.SetRoller(round(pos, 1), "off", 1, 1, 1, lease_ms)
        case ("air", zone):
            return p.SetAir(zone, 0.0, lease_ms)
        case ("heat", zone):
            return p.SetHeat(zone, 0.0, lease_ms)
        case "foot":
            return p.SetFoot(0, lease_ms)
    return None


class Executor:
    """Where a program is at a given time, and the setpoints it wants there."""

    def __init__(self, program: Program, landmarks: dict[str, float],
                 supervisor: Supervisor, lease_ms: int) -> None:
        self.program = program
        self.landmarks = landmarks
        self.supervisor = supervisor
        self.lease_ms = lease_ms
        self._starts: list[float] = []
        total = 0.0
        for step in program.steps:
            self._starts.append(total)
            total += step.seconds
        self.seconds = total
        self._toward: float | None = None
        self._sweep_step = -1
        self._working = False  # False: the roller is in transit to the step's start
        self._made: tuple | None = None  # what the last `setpoints` answer was made from
        self._change_span = (math.inf, -math.inf)  # `next_change` answers alike in [a, b)
        self._wanted: dict[Hashable, p.Command] = {}
        supervisor.place(landmarks)  # the same regions clamp the setpoints and check reports
        self._reclines = self._recline_in_force()

    def step_at(self, elapsed: float) -> tuple[int, Step] | None:
        """The index and step running `elapsed` seconds into the program, or None at the end."""
        if elapsed >= self.seconds or not self.program.steps:
            return None
        index = max(0, bisect.bisect_right(self._starts, elapsed) - 1)  # (before 0: the first)
        return index, self.program.steps[index]

    def setpoints(self, elapsed: float, status: p.StatusReport | None) -> dict[Hashable, p.Command]:
        """Every actuator's wanted command at `elapsed` (absent keys: at rest).

        The answer changes only with the step, the airbag phase and the roller's direction;
        until one of them changes the same dict comes back (do not modify it), so the
        controller can tell at a glance that there is nothing new to send.
        """
        found = self.step_at(elapsed)
        if found is None:
            return {}
        index, step = found
        into = elapsed - self._starts[index]
        toward = self._turn(index, step, status) if step.roller is not None else None
        filling = None
        bags = step.airbags
        if bags is not None:
            period = filled_s(bags) + bags.vent_s
            filling = (into % period) < filled_s(bags)
        made = (index, filling, toward, self._working)
        if made == self._made:
            return self._wanted
        wanted: dict[Hashable, p.Command] = {}
        sup, lease = self.supervisor, self.lease_ms
        if step.roller is not None:
            wanted["roller"] = (self._roller(step, toward) if self._working
                                else self._transit(step, toward))
        if bags is not None:
            for zone, level in bags.levels.items():
                kpa = sup.air_kpa(zone, level) if filling else 0.0
                wanted[("air", zone)] = p.SetAir(zone, kpa, lease)
        for zone, level in step.heat.items():
            target = sup.heat_c(level)
            if target > 0:
                wanted[("heat", zone)] = p.SetHeat(zone, target, lease)
        if step.foot:
            wanted["foot"] = p.SetFoot(step.foot, lease)
        recline = self._reclines[index]
        if recline is not None:
            back, leg = sup.recline(*recline)
            wanted["recline"] = p.SetRecline(float(back), float(leg), lease)
        self._made, self._wanted = made, wanted
        return wanted

    def next_change(self, elapsed: float) -> float:
        """When (seconds into the program) the setpoints next change with time alone.

        That is the next step or the next airbag phase, whichever comes first (`inf` after
        the end). The roller's turns are not in it: they follow the status reports.
        """
        since, change = self._change_span
        if since <= elapsed < change:
            return change
        found = self.step_at(elapsed)
        if found is None:
            return math.inf
        index, step = found
        start = self._starts[index]
        change = start + step.seconds
        bags = step.airbags
        if bags is not None:
            filled = filled_s(bags)
            period = filled + bags.vent_s
            into = elapsed - start
            phase = into % period
            change = min(change, start + (into - phase) + (filled if phase < filled else period))
        self._change_span = (elapsed, change)
        return change

    def _recline_in_force(self) -> list[tuple[float, float] | None]:
        """Per step, the recline to command: the step's own; with a caution bounding the
        recline (`Supervisor.recline_bounded`), every step's, the last one set carried on
        (upright, 0 %, before any), so the bounds hold from the first step on. None on a
        chair without both recline drives (its program's recline parts were skipped)."""
        bounded = self.supervisor.recline_bounded
        if not {"back", "leg"} <= set(self.supervisor.chair.axes):
            return [None] * len(self.program.steps)  # no recline drives: nothing to send
        wanted: list[tuple[float, float] | None] = []
        last = (0.0, 0.0)
        for step in self.program.steps:
            if step.recline is not None:
                last = (float(step.recline[0]), float(step.recline[1]))
                wanted.append(last)
            else:
                wanted.append(last if bounded else None)
        return wanted

    def in_transit(self) -> bool:
        """True while the roller moves to its step's start, heads in (not yet working)."""
        return not self._working

    def _turn(self, index: int, step: Step, status: p.StatusReport | None) -> float:
        """Where the roller heads now: the sweep's end, or back to its start on arrival.

        A step whose roller begins outside its region (between its `from` and `to`
        landmarks) first travels to `from` with the technique off and the heads in: no
        force on the body between regions. It works only once there (`_working`).
        """
        roller = step.roller
        assert roller is not None
        start, end = self.landmarks[roller.start], self.landmarks[roller.end]
        if index != self._sweep_step:
            low, high = min(start, end), max(start, end)
            inside = (status is not None
                      and low - ARRIVED_MM < status.pos_mm < high + ARRIVED_MM)
            self._sweep_step, self._working = index, inside
            self._toward = end if inside else start
        if status is None or abs(status.pos_mm - self._toward) >= ARRIVED_MM:
            return self._toward
        if not self._working:
            self._working, self._toward = True, end  # arrived: the sweep begins
        else:
            self._toward = start if self._toward == end else end
        return self._toward

    def _transit(self, step: Step, toward: float) -> p.SetRoller:
        """The roller on its way to `toward`: technique off, heads at the shallowest step."""
        roller = step.roller
        assert roller is not None
        return p.SetRoller(round(toward, 1), "off", roller.width, 1, roller.speed,
                           self.lease_ms)

    def _roller(self, step: Step, toward: float) -> p.SetRoller:
        roller = step.roller
        assert roller is not None
        sup = self.supervisor
        span = (self.landmarks[roller.start], self.landmarks[roller.end])
        return p.SetRoller(round(toward, 1), sup.technique(roller.technique),
                           roller.width, sup.depth(step.zone, roller.depth, span),
                           roller.speed, self.lease_ms)
