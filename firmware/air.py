"""Air: the airbag regulator, its caps and inflation limits, venting and the dump path.

Each zone has a fill valve (bag to manifold), a vent valve (bag to room) and a pressure
sensor; one pump feeds the manifold, and a dump valve opens the manifold to the room: with
the dump open an open fill valve deflates, a second relief path independent of the vents
(safety.md rule 7). The safe state opens every vent, every fill valve and the dump.

Regulation: a zone under `target - AIR_BAND_KPA` fills (pump on) until `target -
FILL_STOP_KPA`; over `target + AIR_BAND_KPA` it vents to the target. A fill that runs past
`airbag_inflate_s_max`, or whose reading does not rise `airbag_rise_kpa` within `airbag_rise_s`,
latches F06; a reading over its zone's cap for `airbag_react_s / OVERPRESSURE_SHARE` latches
F05; the held and venting watch (firmware.airwatch) latches F18 and F19.
"""

import math

from firmware import codes
from firmware.airwatch import AirWatch
from firmware.limits import Refuse

INF = float("inf")
EPS = 1e-9
# Control details (not safety limits; assumed):
FILL_STOP_KPA = 0.25  # close the fill valve this far under the target (valve lag)
AIR_BAND_KPA = 1.0  # refill below target - band, vent above target + band
OVERPRESSURE_SHARE = 4  # confirm an over-pressure within react_s / this (noise filter)
PUMP_SENSE_A = 0.3  # pump current above this while commanded off: stuck on (F17)
QUIET_NOISE_KPA = 0.1  # bound on pressure-sensor noise, for predicting an inflation's end


class Air:
    """The airbag zones of `fw.zones`: setpoints, valves, pump and the checks on them."""

    watch_class = AirWatch

    def __init__(self, fw):
        self.fw = fw
        self.hw = fw.hw
        lim = fw.limits
        n = len(fw.zones)
        self.n = n
        self.caps = [lim["airbag_kpa_max." + z] for z in fw.zones]
        self.min_cap = min(self.caps) if n else INF
        self.inflate_s = lim["airbag_inflate_s_max"]
        self.rise_min_kpa = lim["airbag_rise_kpa"]  # F06: an inflation's reading must rise
        self.rise_s = lim["airbag_rise_s"]  # this much within every this long
        react_ticks = lim["airbag_react_s"] / fw.tick_s
        self.over_ticks = max(1, int(react_ticks / OVERPRESSURE_SHARE))
        self.target = [0.0] * n
        self.filling = [False] * n
        self.venting = [False] * n
        self.fill_t = [0.0] * n  # when the inflation began
        self.fill_kpa = [0.0] * n  # and the reading then
        self.rise_t = [0.0] * n  # last time the reading rose airbag_rise_kpa
        self.rise_kpa = [0.0] * n  # and the reading then
        self.over_n = 0
        self.busy = False  # a zone has a target
        self.watch = self.watch_class(n, lim.values)
        self.fill_open = [False] * n  # the outputs as commanded
        self.vent_open = [False] * n
        self.dump_open = False
        self.pump_on = False

    # ------------------------------------------------------------------ outputs

    def _fill(self, z, on):
        if self.fill_open[z] != on:
            self.fill_open[z] = on
            self.hw.fill(z, on)

    def _vent(self, z, on):
        if self.vent_open[z] != on:
            self.vent_open[z] = on
            self.hw.vent(z, on)

    def _pump(self, on):
        if self.pump_on != on:
            self.pump_on = on
            self.hw.pump(on)

    # ------------------------------------------------------------------ setpoints

    def command(self, zone, kpa, lease_ms, now):
        """AIR zone kpa lease_ms (Refuse on a bad zone or a value over the cap)."""
        fw = self.fw
        if zone not in fw.zones:
            raise Refuse(codes.E_BAD_ARGS, "AIR zone %r: choose %s" % (zone, ", ".join(fw.zones)))
        z = fw.zones.index(zone)
        fw.limits.check_cap("AIR", "kpa", kpa, 0, self.caps[z], zone)
        fw.limits.check_lease("AIR", lease_ms)
        if kpa > 0:
            fw.need_occupant("AIR")
            if kpa != self.target[z] and self.filling[z]:
                self.filling[z] = False  # a new inflation is timed from its start
                self._fill(z, False)
            self.target[z] = kpa
            fw.leases.grant(("air", z), now, lease_ms)
            self.watch.inflate(z)
            fw.kick = True
        else:
            self.off(z)

    def off(self, z):
        """Zone `z` loses its setpoint: it vents."""
        self.target[z] = 0.0
        self.fw.leases.drop(("air", z))
        self.filling[z] = False
        self.venting[z] = False
        self._fill(z, False)
        self._vent(z, True)
        self._pump(True in self.filling)
        self.watch.vent(z, self.hw.pressure[z], self.fw.now)

    def safe(self):
        """Every setpoint cleared; both relief paths open: every vent, every fill valve into
        the dumped manifold; the pump off."""
        hw = self.hw
        now = self.fw.now
        for z in range(self.n):
            self.target[z] = 0.0
            self.filling[z] = False
            self.venting[z] = False
            self.watch.vent(z, hw.pressure[z], now)
            self.fill_open[z] = self.vent_open[z] = True
            hw.fill(z, True)
            hw.vent(z, True)
        self.dump_open = True
        hw.dump(True)
        self.pump_on = False
        hw.pump(False)
        self.over_n = 0
        self.busy = False

    # ------------------------------------------------------------------ the tick

    def tick(self, pressure, now, slow):
        """Over-pressure always; regulation with a target; the held and vent watch on slow
        ticks."""
        if self.n == 0:
            return
        if max(pressure) > self.min_cap or self.over_n:
            self._overpressure(pressure)
        if self.busy:
            self._regulate(pressure, now, slow)
        watch = self.watch
        if slow and (watch.watching or max(pressure) > watch.held_kpa):
            breach = watch.check(pressure, now)
            if breach:
                kind, z, detail = breach
                self.fw.fault(codes.F_AIR_HOLD if kind == "held" else codes.F_NOT_VENTING,
                              "zone=%s %s" % (self.fw.zones[z], detail))

    def _overpressure(self, pressure):
        caps = self.caps
        for z in range(self.n):
            kpa = pressure[z]
            if kpa > caps[z]:
                self.over_n += 1
                if self.over_n >= self.over_ticks:
                    self.fw.fault(codes.F_OVERPRESSURE, "zone=%s kpa=%.1f cap=%g"
                                  % (self.fw.zones[z], kpa, caps[z]))
                return
        self.over_n = 0

    def _regulate(self, pressure, now, slow):
        filling, venting = self.filling, self.venting
        zones = self.fw.zones
        pump = False
        for z in range(self.n):
            target = self.target[z]
            if target <= 0:
                continue
            kpa = pressure[z]
            if filling[z]:
                if kpa >= target - FILL_STOP_KPA:
                    filling[z] = False
                    self._fill(z, False)
                elif now - self.fill_t[z] >= self.inflate_s - EPS:
                    self.fw.fault(codes.F_INFLATE_TIMEOUT, "zone=%s s=%g kpa=%.1f target=%.1f"
                                  % (zones[z], self.inflate_s, kpa, target))
                    return
                elif kpa >= self.rise_kpa[z] + self.rise_min_kpa:
                    self.rise_t[z], self.rise_kpa[z] = now, kpa
                elif now - self.rise_t[z] >= self.rise_s - EPS:
                    self.fw.fault(codes.F_INFLATE_TIMEOUT,
                                  "zone=%s kpa=%.1f target=%.1f no rise of %g kPa in %g s"
                                  % (zones[z], kpa, target, self.rise_min_kpa, self.rise_s))
                    return
                if filling[z]:  # still filling (not stopped at the target just now)
                    pump = True
                    continue
            if venting[z]:
                if kpa <= target:
                    venting[z] = False
                    self._vent(z, False)
                continue
            if not slow:
                continue
            if kpa < target - AIR_BAND_KPA:
                filling[z] = True
                venting[z] = False
                self.fill_t[z] = now
                self.fill_kpa[z] = kpa
                self.rise_t[z], self.rise_kpa[z] = now, kpa
                self._fill(z, True)
                self._vent(z, False)
                pump = True
            elif kpa > target + AIR_BAND_KPA:
                venting[z] = True
                self._vent(z, True)
            elif self.vent_open[z]:
                self._vent(z, False)  # a fresh target inside the band: hold
        if pump and self.dump_open:  # leave the safe state's dump path to inflate
            self.dump_open = False
            self.hw.dump(False)
            for z in range(self.n):
                self._fill(z, filling[z])
        self._pump(pump)

    # ------------------------------------------------------------------ faults, deadlines

    def pump_stuck(self):
        """The pump draws current while commanded off ('' when it does not)."""
        amps = self.hw.pump_a
        if amps > PUMP_SENSE_A and not self.pump_on:
            return "pump a=%.1f while off" % amps
        return ""

    def present(self, code):
        """What keeps `code` (one of the air faults) present, or ''."""
        pressure = self.hw.pressure
        if not pressure:
            return ""
        if code == codes.F_OVERPRESSURE:
            for z in range(self.n):
                if pressure[z] > self.caps[z]:
                    return "zone=" + self.fw.zones[z]
            return ""
        kpa = max(pressure)
        return "kpa=%.1f" % kpa if kpa > self.watch.vented_kpa else ""

    def last_quiet(self, k, last, now, tick_s):
        """The last tick (<= last) an inflating zone allows in one plant step, and the
        earliest time an inflation's own timers act; (-1, 0) when no stretch is possible.

        An airbag fills ever more slowly (the pump works against the pressure it built),
        so its average rate since the inflation began bounds its rate from here on: stop
        before the reading could reach the fill stop."""
        deadline = INF
        if not self.pump_on:
            return last, deadline
        pressure = self.hw.pressure
        for z in range(self.n):
            if not self.filling[z]:
                continue
            target = self.target[z]
            elapsed = (now - self.fill_t[z]) / tick_s
            room = target - FILL_STOP_KPA - pressure[z] - 2 * QUIET_NOISE_KPA
            if target > self.caps[z] or elapsed < 1 or room <= 0:
                return -1, 0.0
            rate = (pressure[z] - self.fill_kpa[z] + 2 * QUIET_NOISE_KPA) / elapsed
            last = min(last, k - 2 + math.floor(room / rate))
            deadline = min(deadline, self.fill_t[z] + self.inflate_s, self.rise_t[z] + self.rise_s)
        return last, deadline
