"""The one time base. Every reading of time and every wait goes through a Clock.

`MonotonicClock` is real time; `VirtualClock` is simulated time that only moves when
somebody waits on it, which is what makes fast-forward fast and deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from chair.errors import Stalled

#: How many turns in a row a fast-forward loop may take at one virtual time before it is
#: stopped as stuck. A healthy run takes a few at one instant (at most 3 in a row in the
#: six programs and the fault-injection, link-fault and run tests, measured for issue 9); a
#: loop that makes no progress takes thousands a second, so this trips within seconds.
STALL_TURNS = 10_000


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


class ProgressGuard:
    """Counts the turns of a loop that should move a virtual clock on.

    `turn` raises `chair.errors.Stalled` after `limit` turns in a row at one clock time,
    naming what the loop was doing (`describe(*args)`, called only then). On a real clock
    it does nothing: real time moves by itself. `most` is the longest run seen (tests)."""

    def __init__(self, clock: Clock, limit: int = STALL_TURNS) -> None:
        self.clock = clock
        self.limit = limit
        self.active = bool(getattr(clock, "virtual", False))
        self._at = float("nan")
        self._turns = 0
        self.most = 0

    def turn(self, describe: Callable[..., str], *args: object) -> None:
        if not self.active:
            return
        now = self.clock.now()
        if now != self._at:
            self._at, self._turns = now, 0
            return
        self._turns += 1
        if self._turns > self.most:
            self.most = self._turns
            if self._turns >= self.limit:
                raise Stalled(f"internal error: no progress in simulated time, {self._turns} "
                              f"turns at t={now:.3f} s: {describe(*args)}")
