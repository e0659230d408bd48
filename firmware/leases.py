"""Leases, the dead-man and the session cap (docs/protocol.md §2.3, safety.md rules 1, 2, 6).

Every setpoint is granted for `lease_ms`; a setpoint whose lease runs out is cleared by the
part that owns it. A silent host (no valid line for `deadman_ms` while anything is active)
and a session longer than `session_s_max` latch the safe state. Times are seconds.
"""

from firmware import codes

INF = float("inf")
EPS = 1e-9


class Leases:
    """Lease expiries by setpoint key (`"roller"`, `"foot"`, `"recline"`, `("air", z)`,
    `("heat", h)`), the time of the last valid host line, and the session's end."""

    def __init__(self, limits, now):
        self.deadman_s = limits["deadman_ms"] / 1000.0
        self.session_s = limits["session_s_max"]
        self.expiry = {}
        self.next = INF  # the earliest expiry
        self.last_valid = now
        self.session_end = INF

    def grant(self, key, now, lease_ms):
        """Setpoint `key` holds until `now + lease_ms`."""
        self.expiry[key] = now + lease_ms / 1000.0
        self._again()

    def drop(self, key):
        if self.expiry.pop(key, None) is not None:
            self._again()

    def clear(self):
        self.expiry.clear()
        self.next = INF

    def renew(self, until):
        """RENEW: every setpoint in force now holds until `until`."""
        expiry = self.expiry
        for key in expiry:
            expiry[key] = until
        self.next = until if expiry else INF

    def due(self, now):
        """The keys whose lease has run out by `now` (removed)."""
        limit = now + EPS
        keys = [key for key, t in self.expiry.items() if t <= limit]
        for key in keys:
            del self.expiry[key]
        self._again()
        return keys

    def _again(self):
        self.next = min(self.expiry.values()) if self.expiry else INF

    def activity(self, was_active, active, now):
        """The session cap runs from the moment something became active."""
        if active and not was_active:
            self.session_end = now + self.session_s
        elif not active:
            self.session_end = INF

    def check(self, now, latch):
        """While active: the dead-man, then the session cap (`latch(code, detail)`)."""
        if now - self.last_valid >= self.deadman_s - EPS:
            latch(codes.F_DEADMAN, "silent_ms=%d" % round((now - self.last_valid) * 1000))
        elif now >= self.session_end - EPS:
            latch(codes.F_SESSION_CAP, "active_s=%g" % self.session_s)

    def deadline(self, active):
        """The earliest time the dead-man, the session cap or a lease can act."""
        t = min(self.next, self.session_end)
        if active:
            t = min(t, self.last_valid + self.deadman_s)
        return t
