"""Heat: the thermostat, its cut-off and plausibility checks, runaway and heat follow.

Each heater has a relay in series with one supply relay for all (so a welded heater relay
can still be cut) and a thermistor. Always: a reading outside the plausible range latches
F08, one over `heat_c_max` latches F07. With a target, on slow ticks: a reading that jumps
more than `heat_jump_c` between two looks (loose) latches F08; heat follow (safety.md rule 8,
in every mode): a heater powered for `heat_follow_s` without its reading rising
`heat_follow_c` latches F09; runaway (Marlin's method): while heating the reading must rise
`heat_rise_c` within `heat_rise_s`, and once near the target it may not lag more than
`heat_band_c` for `heat_band_s` (F09). The safe state opens every relay and the supply.
"""

from firmware import codes
from firmware.limits import Refuse

INF = float("inf")
EPS = 1e-9
HEAT_HYST_C = 0.5  # thermostat: on below target - hysteresis, off at target (not a limit)
HEATER_SENSE_A = 0.5  # heater current above this while its relay is off: welded (F17)
QUIET_HEAT_MARGIN_C = 1.0  # a heater this close to the cut-off keeps the tick-by-tick path


class Heat:
    """The heaters of `fw.heaters`: setpoints, relays and the checks on them."""

    def __init__(self, fw):
        self.fw = fw
        self.hw = fw.hw
        lim = fw.limits
        n = len(fw.heaters)
        self.n = n
        self.target_max = lim["heat_target_c_max"]
        self.c_max = lim["heat_c_max"]
        self.therm_min = lim["thermistor_c_min"]
        self.therm_max = lim["thermistor_c_max"]
        self.rise_c = lim["heat_rise_c"]
        self.rise_s = lim["heat_rise_s"]
        self.band_c = lim["heat_band_c"]
        self.band_s = lim["heat_band_s"]
        self.follow_s = lim["heat_follow_s"]
        self.follow_c = lim["heat_follow_c"]
        self.jump_c = lim["heat_jump_c"]
        self.target = [0.0] * n
        self.mode = [0] * n  # 0 off, 1 heating, 2 near target
        self.ref_t = [0.0] * n
        self.ref_c = [0.0] * n
        self.below = [INF] * n
        self.last = [None] * n  # the reading at the last slow tick
        # heat follow: the lowest reading since the last rise of follow_c, the heater's
        # on-time since then, and the slow tick that last counted it
        self.follow_ref = [INF] * n
        self.follow_on = [0.0] * n
        self.follow_t = [INF] * n
        self.on = [False] * n  # the relays as commanded
        self.supply_on = False
        self.busy = False

    def _relay(self, h, on):
        if self.on[h] != on:
            self.on[h] = on
            self.hw.heater(h, on)

    def _supply(self, on):
        if self.supply_on != on:
            self.supply_on = on
            self.hw.supply(on)

    def command(self, zone, target, lease_ms, now):
        """HEAT zone target_c lease_ms (Refuse on a bad zone or a target over the cap)."""
        fw = self.fw
        if zone not in fw.heaters:
            raise Refuse(codes.E_BAD_ARGS,
                         "HEAT zone %r: choose %s" % (zone, ", ".join(fw.heaters)))
        h = fw.heaters.index(zone)
        fw.limits.check_cap("HEAT", "target_c", target, 0, self.target_max, zone)
        fw.limits.check_lease("HEAT", lease_ms)
        if target > 0:
            fw.need_occupant("HEAT")
            if target != self.target[h]:
                temp = self.hw.temp[h]
                if temp < target - self.band_c:
                    self.mode[h] = 1
                    self.ref_t[h], self.ref_c[h] = now, temp
                else:
                    self.mode[h] = 2
                self.below[h] = INF
            self.target[h] = target
            fw.leases.grant(("heat", h), now, lease_ms)
            self._supply(True)
            fw.kick = True
        else:
            self.off(h)

    def off(self, h):
        self.target[h] = 0.0
        self.fw.leases.drop(("heat", h))
        self.mode[h] = 0
        self.below[h] = INF
        self.last[h] = None
        self.follow_ref[h], self.follow_on[h], self.follow_t[h] = INF, 0.0, INF
        self._relay(h, False)
        for target in self.target:
            if target > 0:
                return
        self._supply(False)  # the series relay: cuts even a welded relay

    def safe(self):
        for h in range(self.n):
            self.off(h)
            self.hw.heater(h, False)
        self.supply_on = False
        self.hw.supply(False)
        self.busy = False

    def tick(self, temps, now, slow):
        """Plausibility and the cut-off always; thermostat and runaway on slow ticks."""
        if self.n == 0:
            return
        t_lo, t_hi = min(temps), max(temps)
        fw = self.fw
        if t_lo < self.therm_min or t_hi > self.therm_max:
            h = self._first(temps, lambda c: not self.therm_min <= c <= self.therm_max)
            fw.fault(codes.F_THERMISTOR, "heater=%s c=%.1f" % (fw.heaters[h], temps[h]))
        elif t_hi > self.c_max:
            h = self._first(temps, lambda c: c > self.c_max)
            fw.fault(codes.F_OVERTEMP, "heater=%s c=%.1f" % (fw.heaters[h], temps[h]))
        elif slow and self.busy:
            self._regulate(temps, now)

    @staticmethod
    def _first(temps, bad):
        for h in range(len(temps)):
            if bad(temps[h]):
                return h
        return 0

    def _regulate(self, temps, now):
        fw = self.fw
        for h in range(self.n):
            target = self.target[h]
            if target <= 0:
                continue
            temp = temps[h]
            last, self.last[h] = self.last[h], temp
            if last is not None and abs(temp - last) > self.jump_c:
                fw.fault(codes.F_THERMISTOR, "heater=%s jumped %.1f to %.1f C (loose?)"
                         % (fw.heaters[h], last, temp))
                return
            if self.follow(h, temp, now):
                return
            if temp < target - HEAT_HYST_C:
                self._relay(h, True)
            elif temp >= target:
                self._relay(h, False)
            # runaway (Marlin): rise while heating, stay in the band once near target
            floor = target - self.band_c
            if self.mode[h] == 1:
                if temp >= floor:
                    self.mode[h] = 2
                    self.below[h] = INF
                elif temp >= self.ref_c[h] + self.rise_c:
                    self.ref_t[h], self.ref_c[h] = now, temp
                elif now - self.ref_t[h] >= self.rise_s - EPS:
                    fw.fault(codes.F_HEAT_RUNAWAY, "heater=%s c=%.1f target=%.1f no rise of "
                             "%g C in %g s" % (fw.heaters[h], temp, target, self.rise_c,
                                               self.rise_s))
                    return
            elif temp < floor:
                if self.below[h] == INF:
                    self.below[h] = now
                elif now - self.below[h] >= self.band_s - EPS:
                    fw.fault(codes.F_HEAT_RUNAWAY, "heater=%s c=%.1f target=%.1f %g C under "
                             "target for %g s" % (fw.heaters[h], temp, target, self.band_c,
                                                  self.band_s))
                    return
            else:
                self.below[h] = INF

    def follow(self, h, temp, now):
        """Heat follow, in every mode (safety.md rule 8): a heater powered without a break
        for `follow_s` since its reading last rose `follow_c` above its lowest is a runaway
        (F09: a loose thermistor, an open element or cut-off). True when it latched."""
        if not self.on[h] or self.follow_t[h] == INF:
            self.follow_ref[h], self.follow_on[h] = temp, 0.0  # an on-phase counts from here
        else:
            self.follow_on[h] += now - self.follow_t[h]
            if temp >= self.follow_ref[h] + self.follow_c:
                self.follow_ref[h], self.follow_on[h] = temp, 0.0
            elif temp < self.follow_ref[h]:
                self.follow_ref[h] = temp
        self.follow_t[h] = now
        if self.follow_on[h] < self.follow_s - EPS:
            return False
        self.fw.fault(codes.F_HEAT_RUNAWAY, "heater=%s on %.1f s, c=%.1f rose under %g C "
                      "(thermistor loose?)" % (self.fw.heaters[h], self.follow_on[h], temp,
                                               self.follow_c))
        return True

    # ------------------------------------------------------------------ faults, deadlines

    def welded(self):
        """A heater draws current while its relay is commanded off ('' when none does)."""
        if not self.supply_on:
            return ""
        amps = self.hw.heater_a
        for h in range(self.n):
            if amps[h] > HEATER_SENSE_A and not self.on[h]:
                return "heater=%s a=%.1f while off" % (self.fw.heaters[h], amps[h])
        return ""

    def present(self, code):
        temps = self.hw.temp
        for h in range(self.n):
            c = temps[h]
            if code == codes.F_OVERTEMP and c > self.c_max:
                return "heater=" + self.fw.heaters[h]
            if code == codes.F_THERMISTOR and not self.therm_min <= c <= self.therm_max:
                return "heater=" + self.fw.heaters[h]
        return ""

    def near_cutoff(self):
        return self.n and max(self.hw.temp) > self.c_max - QUIET_HEAT_MARGIN_C

    def deadline(self):
        """The earliest time a runaway check acts."""
        t = INF
        for h in range(self.n):
            if self.target[h] > 0:
                if self.mode[h] == 1:
                    t = min(t, self.ref_t[h] + self.rise_s)
                elif self.below[h] != INF:
                    t = min(t, self.below[h] + self.band_s)
        return t
