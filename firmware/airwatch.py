"""The firmware's watch on held airbags and on bags told to vent (safety.md rule 7).

Two limits the device enforces per zone whatever the host sends (a host that renews one
setpoint forever, or keeps re-inflating with short breaks, cannot hold a bag on a person):

* held: a bag whose reading stays above `airbag_held_kpa` for longer than
  `airbag_held_s_max`, or spends more than `airbag_duty_max` of the last
  `airbag_duty_window_s` above it;
* vent: a bag told to vent (its setpoint cleared, expired or the safe state) must halve
  its pressure within every `airbag_vent_s` until it is under `airbag_vented_kpa` (else a
  stuck vent valve or pressure sensor, even one that sticks half way).

`AirWatch.check` is called on the device's slow ticks (every 0.1 s) with the readings and
returns the first breach; the device then latches (F18 or F19), which vents every bag by
both relief paths. Times are seconds on the device's clock; memory is one span per
inflation within the duty window.
"""

_INF = float("inf")


class AirWatch:
    """Held time, duty share and venting, per zone (`n` zones, readings in kPa)."""

    def __init__(self, n, lim):
        self.held_kpa = lim["airbag_held_kpa"]
        self.held_s = lim["airbag_held_s_max"]
        self.duty_s = lim["airbag_duty_max"] * lim["airbag_duty_window_s"]
        self.window_s = lim["airbag_duty_window_s"]
        self.vent_s = lim["airbag_vent_s"]
        self.vented_kpa = lim["airbag_vented_kpa"]
        self.since = [_INF] * n  # when the bag last rose above held_kpa (INF: not held)
        self.spans = [[] for _ in range(n)]  # (begin, end) per inflation, oldest first
        self.spans_s = [0.0] * n  # the spans' total length
        self.vent_t = [_INF] * n  # when the bag was told to vent (INF: not watched)
        self.vent_kpa = [0.0] * n  # and its reading then
        self.watching = 0  # zones held or venting: the slow tick skips the rest

    def vent(self, z, kpa, now):
        """Zone `z` was told to vent at `now` with reading `kpa`: watch that it falls."""
        if kpa > self.vented_kpa and self.vent_t[z] == _INF:
            self.vent_t[z], self.vent_kpa[z] = now, kpa
            self.watching += 1

    def inflate(self, z):
        """Zone `z` has a new target: it is no longer told to vent."""
        if self.vent_t[z] != _INF:
            self.vent_t[z] = _INF
            self.watching -= 1

    def check(self, pressure, now):
        """The first breach as (`"held"` or `"vent"`, zone, detail), or None."""
        if not self.watching and max(pressure) <= self.held_kpa:
            return None
        for z, kpa in enumerate(pressure):
            since = self.since[z]
            if kpa > self.held_kpa:
                if since == _INF:
                    self.since[z] = since = now
                    self.watching += 1
                breach = self._held(z, since, now)
                if breach:
                    return "held", z, breach
            elif since != _INF:
                self.spans[z].append((since, now))
                self.spans_s[z] += now - since
                self.since[z] = _INF
                self.watching -= 1
            start = self.vent_t[z]
            if start != _INF:
                if kpa <= self.vented_kpa:
                    self.inflate(z)  # vented: done
                elif kpa <= 0.5 * self.vent_kpa[z]:
                    self.vent_t[z], self.vent_kpa[z] = now, kpa  # halved: the next half
                else:
                    breach = self._not_venting(z, kpa, start, now)
                    if breach:
                        return "vent", z, breach
        return None

    def _not_venting(self, z, kpa, start, now):
        """A bag told to vent at `start` that has not halved its reading within vent_s."""
        if now - start >= self.vent_s - 1e-9:
            return "does not vent: kpa=%.1f was %.1f %.1f s ago" % (kpa, self.vent_kpa[z],
                                                                   now - start)
        return ""

    def _held(self, z, since, now):
        held = now - since
        if held > self.held_s:
            return "held %.1f s above %g kPa (max %g)" % (held, self.held_kpa, self.held_s)
        start = now - self.window_s
        spans = self.spans[z]
        while spans and spans[0][1] <= start:
            begin, end = spans.pop(0)
            self.spans_s[z] -= end - begin
        cut = start - spans[0][0] if spans and spans[0][0] < start else 0.0
        total = min(held, self.window_s) + self.spans_s[z] - cut
        if total > self.duty_s:
            return "held %.0f s of the last %g s above %g kPa (max %g)" % (
                total, self.window_s, self.held_kpa, self.duty_s)
        return ""
