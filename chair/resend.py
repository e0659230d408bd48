"""How much the link may resend: the backoff between tries of one line and the byte budget
of all resends together (a token bucket on the link's clock).

The names stay importable from `chair.link`.
"""

from __future__ import annotations

#: A line unanswered for `ack_timeout_s` is resent; each further resend waits twice as long
#: as the one before, up to this many times `ack_timeout_s` (0.3, 0.6, 1.2, 1.2 ... s).
RESEND_BACKOFF_MAX = 4
#: Resends may use at most this share of the line's bytes per second, after a burst of one
#: window of longest lines: at 115,200 baud (8N1, 11,520 B/s) 2,880 B/s after 776 B, so
#: over any second at most 3,656 B, 32 % of the line. Assumed (a lossy line at 1e-3 needs
#: about 1 %); it keeps new lines and the device's replies flowing while a storm lasts.
RESEND_SHARE = 0.25


class ResendBudget:
    """A token bucket of resend bytes on the link's clock: `rate` bytes per second, at most
    `burst` saved up. Over any T seconds the link resends at most burst + rate * T bytes."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, burst
        self._level, self._at = burst, now

    def _fill(self, now: float) -> None:
        if now > self._at:
            self._level = min(self.burst, self._level + (now - self._at) * self.rate)
            self._at = now

    def take(self, size: int, now: float) -> bool:
        """Spend `size` bytes if the budget has them; False (nothing spent) if not."""
        self._fill(now)
        if size > self._level:
            return False
        self._level -= size
        return True

    def ready_at(self, size: int, now: float) -> float:
        """The clock time from which `size` bytes can be spent."""
        self._fill(now)
        return now if size <= self._level else now + (size - self._level) / self.rate
