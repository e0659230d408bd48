"""Axes: the roller carriage and head, recline and leg rest, foot rollers (safety.md rules 9, 10).

Carriage: driven toward its setpoint, stopped on the end switches; an encoder that moves less
than `ENCODER_STILL_MM` for `stall_s` latches F10, a target not reached in `track_timeout_s`
F11, and a roller current over `OVERCURRENT_A` for `overcurrent_s` F12. Recline and leg
rest: driven toward their setpoints; a target not reached in `recline_timeout_s` latches F15;
the pinch sensor stops both, reverses what was moving by `pinch_reverse_pct` and latches F13.
"""

import math

from firmware import codes
from firmware.limits import Refuse

INF = float("inf")
EPS = 1e-9
PCT_MAX = 100.0
# Control details (not safety limits; assumed):
OVERCURRENT_A = 2.0  # between the moving (~0.8 A) and the stall (~3 A) current
CARRIAGE_TOL_MM = 1.0  # carriage "at target" band (one tick moves it ~0.84 mm)
ENCODER_STILL_MM = 0.5  # less movement than this counts as a still encoder
RECLINE_TOL_PCT = 0.5  # recline and leg rest "at target" band


class Axes:
    """The drives of one chair: setpoints, motor outputs and their monitors."""

    def __init__(self, fw):
        self.fw = fw
        self.hw = fw.hw
        lim = fw.limits
        self.track_mm = float(fw.chair["track_mm"])
        self.techniques = tuple(fw.chair["techniques"])
        self.has_foot = "foot" in fw.chair["axes"]
        self.depth_max = int(lim["roller_depth_max"])
        self.width_max = int(lim["roller_width_max"])
        self.speed_max = int(lim["roller_speed_max"])
        self.foot_max = int(lim.values.get("foot_speed_max", 0))
        self.stall_s = lim["stall_s"]
        self.track_timeout_s = lim["track_timeout_s"]
        self.overcurrent_s = lim["overcurrent_s"]
        self.recline_timeout_s = lim["recline_timeout_s"]
        self.pinch_reverse_pct = lim["pinch_reverse_pct"]
        self.roller = None  # (pos_mm, technique, width, depth, speed)
        self.recline = None  # (back_pct, leg_pct)
        self.foot = 0
        self.reverse = [None, None]  # pinch reversal targets
        self.reverse_start = 0.0
        self.axis_t = [0.0, 0.0]
        self.stall_t = 0.0
        self.stall_pos = 0.0
        self.track_t = 0.0
        self.oc_since = INF
        self.drives = [0, 0, 0]  # carriage, back, leg as commanded
        self.head = ("off", 1, 0, 1)  # technique, width, depth, speed as commanded
        # the motion over the plant's last step: the drives then, and mm or % per tick
        self.motion = None
        self._seen = None  # (tick, encoder, back, leg) at the last tick

    # ------------------------------------------------------------------ outputs

    def _drive(self, a, want):
        if self.drives[a] != want:
            self.drives[a] = want
            hw = self.hw
            (hw.carriage, hw.back, hw.leg)[a](want)

    def _head(self, technique, width, depth, speed):
        head = (technique, width, depth, speed)
        if head != self.head:
            self.head = head
            self.hw.head(technique, width, depth, speed)

    # ------------------------------------------------------------------ setpoints

    def roller_command(self, args, now):
        pos, technique, width, depth, speed, lease_ms = args
        fw = self.fw
        lim = fw.limits
        lim.check_range("ROLLER", "pos_mm", pos, 0, self.track_mm)
        if technique not in self.techniques:
            raise Refuse(codes.E_BAD_ARGS, "ROLLER technique %r: choose %s"
                         % (technique, ", ".join(self.techniques)))
        lim.check_cap("ROLLER", "width", width, 1, self.width_max)
        lim.check_cap("ROLLER", "depth", depth, 1, self.depth_max)
        lim.check_cap("ROLLER", "speed", speed, 1, self.speed_max)
        lim.check_lease("ROLLER", lease_ms)
        massage = technique != "off"
        if massage:
            fw.need_occupant("ROLLER")
        if self.roller is None or self.roller[0] != pos:
            self.track_t = now
            if self.drives[0] == 0:  # a moving carriage keeps its stall timer
                self.stall_t, self.stall_pos = now, self.hw.encoder_mm
        self.roller = (pos, technique, width, depth, speed)
        fw.leases.grant("roller", now, lease_ms)
        self._head(technique, width, depth if massage else 0, speed)

    def foot_command(self, speed, lease_ms, now):
        fw = self.fw
        if speed > 0 and not self.has_foot:
            raise Refuse(codes.E_BAD_ARGS, "FOOT: this chair has no foot rollers")
        fw.limits.check_cap("FOOT", "speed", speed, 0, self.foot_max)
        fw.limits.check_lease("FOOT", lease_ms)
        if speed > 0:
            fw.need_occupant("FOOT")
            fw.leases.grant("foot", now, lease_ms)
        else:
            fw.leases.drop("foot")
        self.set_foot(speed)

    def set_foot(self, speed):
        if speed != self.foot:
            self.foot = speed
            self.hw.foot(speed)

    def recline_command(self, back, leg, lease_ms, now):
        lim = self.fw.limits
        lim.check_range("RECLINE", "back_pct", back, 0, PCT_MAX)
        lim.check_range("RECLINE", "leg_pct", leg, 0, PCT_MAX)
        lim.check_lease("RECLINE", lease_ms)
        if self.recline != (back, leg):
            self.axis_t = [now, now]
        self.recline = (back, leg)
        self.fw.leases.grant("recline", now, lease_ms)

    def roller_off(self):
        self.roller = None
        self.fw.leases.drop("roller")
        self._drive(0, 0)
        self._head("off", self.head[1], 0, self.head[3])

    def recline_off(self):
        self.recline = None
        self.fw.leases.drop("recline")
        if self.reverse[0] is None:
            self._drive(1, 0)
        if self.reverse[1] is None:
            self._drive(2, 0)

    def foot_off(self):
        self.fw.leases.drop("foot")
        self.set_foot(0)

    def safe(self):
        """Roller retracted and stopped, foot rollers stopped, recline stopped unless a
        pinch reversal is still backing off."""
        self.roller_off()
        self.foot_off()
        self.recline_off()

    def power_on(self):
        """Every drive output written once, stopped (the firmware's record starts here)."""
        hw = self.hw
        hw.carriage(0)
        hw.back(0)
        hw.leg(0)
        hw.head(*self.head)
        hw.foot(0)

    def stop_all(self):
        """Every motor stopped, reversals included (RESET, power-up)."""
        self.reverse = [None, None]
        self._drive(1, 0)
        self._drive(2, 0)
        self.oc_since = INF

    # ------------------------------------------------------------------ the tick

    def observe(self, k):
        """Record the motion over the plant's last step (from the encoder and the recline
        positions): what a stretch of quiet ticks needs to predict where the axes stop."""
        hw = self.hw
        seen = self._seen
        drives = self.drives
        if seen is not None and (drives[0] or drives[1] or drives[2]):
            n = k - seen[0]
            self.motion = (tuple(drives), (hw.encoder_mm - seen[1]) / n,
                           (hw.back_pct - seen[2]) / n, (hw.leg_pct - seen[3]) / n)
        else:
            self.motion = None
        self._seen = (k, hw.encoder_mm, hw.back_pct, hw.leg_pct)

    def tick(self, now):
        hw = self.hw
        fw = self.fw
        if hw.roller_a > OVERCURRENT_A:
            if self.oc_since == INF:
                self.oc_since = now
            elif now - self.oc_since >= self.overcurrent_s - EPS:
                self.oc_since = INF
                fw.fault(codes.F_OVERCURRENT, "a=%.1f" % hw.roller_a)
        else:
            self.oc_since = INF
        if self.roller is not None:
            self._carriage(now)
        if self.recline is not None or self.drives[1] or self.drives[2]:
            self._recline(now)

    def _carriage(self, now):
        hw = self.hw
        target = self.roller[0]
        enc = hw.encoder_mm
        err = target - enc
        if err > CARRIAGE_TOL_MM and not hw.end_bottom:
            want = 1
        elif err < -CARRIAGE_TOL_MM and not hw.end_top:
            want = -1
        else:
            want = 0
        drive = self.drives[0]
        if want != drive:
            self._drive(0, want)
            if want and drive == 0:  # a reversal keeps the stall timer running
                self.stall_t, self.stall_pos = now, enc
                self.track_t = now
            return
        if not want:
            return
        if abs(enc - self.stall_pos) >= ENCODER_STILL_MM:
            self.stall_t, self.stall_pos = now, enc
        elif now - self.stall_t >= self.stall_s - EPS:
            self.fw.fault(codes.F_STALL, "pos=%.1f target=%.1f still_s=%g"
                          % (enc, target, self.stall_s))
            return
        if now - self.track_t >= self.track_timeout_s - EPS:
            self.fw.fault(codes.F_TRACK_TIMEOUT, "pos=%.1f target=%.1f s=%g"
                          % (enc, target, self.track_timeout_s))

    def _recline(self, now):
        hw = self.hw
        positions = (hw.back_pct, hw.leg_pct)
        drives = [self.drives[1], self.drives[2]]
        reverse = self.reverse
        targets = [None, None]
        wants = [0, 0]
        for a in (0, 1):
            if reverse[a] is not None:
                targets[a] = reverse[a]
            elif self.recline is not None:
                targets[a] = self.recline[a]
            target = targets[a]
            if target is None:
                continue
            err = target - positions[a]
            if err > RECLINE_TOL_PCT and positions[a] < PCT_MAX:
                wants[a] = 1
            elif err < -RECLINE_TOL_PCT and positions[a] > 0:
                wants[a] = -1
        # pinch: stop, reverse what was moving, latch (a reversal itself keeps going)
        if hw.pinch and reverse == [None, None] and (drives[0] or drives[1] or wants[0]
                                                     or wants[1]):
            new_reverse = [None, None]
            for a in (0, 1):
                if drives[a]:
                    back = positions[a] - drives[a] * self.pinch_reverse_pct
                    new_reverse[a] = min(PCT_MAX, max(0.0, back))
            self._drive(1, 0)
            self._drive(2, 0)
            self.fw.fault(codes.F_PINCH, "back=%.1f leg=%.1f" % positions)
            self.reverse = new_reverse
            self.reverse_start = now
            for a in (0, 1):
                if new_reverse[a] is not None:
                    self._drive(a + 1, -drives[a])
            return
        for a in (0, 1):
            if reverse[a] is not None and wants[a] == 0:
                reverse[a] = None  # reversal done
        for a in (0, 1):
            if wants[a] != drives[a]:
                if wants[a] and reverse[a] is None:
                    self.axis_t[a] = now
                self._drive(a + 1, wants[a])
            elif wants[a]:
                start = self.reverse_start if reverse[a] is not None else self.axis_t[a]
                if now - start >= self.recline_timeout_s - EPS:
                    if reverse[a] is not None:
                        reverse[a] = None
                        self._drive(a + 1, 0)
                        continue
                    self.fw.fault(codes.F_RECLINE_TIMEOUT, "axis=%s pct=%.1f target=%.1f s=%g"
                                  % (("back", "leg")[a], positions[a], targets[a],
                                     self.recline_timeout_s))
                    return

    # ------------------------------------------------------------------ faults, quiet

    def present(self, code):
        hw = self.hw
        if code == codes.F_OVERCURRENT and hw.roller_a > OVERCURRENT_A:
            return "a=%.1f" % hw.roller_a
        if code == codes.F_PINCH and hw.pinch:
            return "pinch sensor"
        return ""

    def quiet(self, k, last, deadline):
        """(last, deadline) narrowed by the moving axes; last = -1: no stretch."""
        hw = self.hw
        motion = self.motion
        drives = tuple(self.drives)
        if (motion[0] != drives) if motion is not None else (drives[0] or drives[1]
                                                              or drives[2]):
            return -1, deadline  # an axis started or stopped: its speed is not known yet
        roller = self.roller
        if roller is not None:
            remaining = abs(roller[0] - hw.encoder_mm) - CARRIAGE_TOL_MM
            if drives[0] * (roller[0] - hw.encoder_mm) < 0:
                return -1, deadline  # a new target behind the carriage: it reverses next tick
            if drives[0]:
                speed = motion[1] * drives[0]  # mm per tick, in the drive's direction
                if speed < ENCODER_STILL_MM:
                    return -1, deadline
                last = min(last, k - 2 + math.floor(remaining / speed))
                deadline = min(deadline, self.stall_t + self.stall_s,
                               self.track_t + self.track_timeout_s)
            elif remaining > 0:
                return -1, deadline  # about to start
        recline = self.recline
        if drives[1] or drives[2] or recline is not None:
            if self.reverse != [None, None] or recline is None:
                return -1, deadline
            for a, pos in ((0, hw.back_pct), (1, hw.leg_pct)):
                remaining = abs(recline[a] - pos) - RECLINE_TOL_PCT
                drive = drives[a + 1]
                if drive:
                    speed = motion[a + 2] * drive
                    if speed <= 0:
                        return -1, deadline
                    last = min(last, k - 2 + math.floor(remaining / speed))
                    deadline = min(deadline, self.axis_t[a] + self.recline_timeout_s)
                elif remaining > 0 and (pos < PCT_MAX if recline[a] > pos else pos > 0):
                    return -1, deadline  # about to start
        return last, deadline
