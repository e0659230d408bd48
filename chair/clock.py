"""The one time base. Every reading of time and every wait goes through a Clock.

`MonotonicClock` is real time; `VirtualClock` is simulated time that only moves when
somebody waits on it, which is what makes fast-forward fast and deterministic.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What the rest of the code may ask of time."""

    def now(self) -> float:
        """Seconds since an arbitrary origin, never decreasing."""
        ...

    def sleep_until(self, deadline: float) -> None:
        """Return at `deadline` (at once if it has passed)."""
        ...


class MonotonicClock:
    """Real time from `time.monotonic`, relative to when the clock was made."""

    virtual = False

    def __init__(self) -> None:
        self._origin = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self._origin

    def sleep_until(self, deadline: float) -> None:
        delay = deadline - self.now()
        if delay > 0:
            time.sleep(delay)


class VirtualClock:
    """Simulated time: `sleep_until` jumps straight to the deadline."""

    virtual = True

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def sleep_until(self, deadline: float) -> None:
        if deadline > self._now:
            self._now = float(deadline)

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` (never backward)."""
        self.sleep_until(self._now + max(0.0, seconds))
