"""The one time base. Every reading of time and every wait goes through a Clock.

`MonotonicClock` is real time; `ScaledClock` is real time run `speed` times faster (a
simulated chair for demos and tests: `chair serve --speed N`, ``sim://?speed=N``);
`VirtualClock` is simulated time that only moves when somebody waits on it, which is what
makes fast-forward fast and deterministic. A real-time sleep can be cut short by `wake`
(another thread has work for the sleeper). `wall_now` is the calendar time, for naming
things (a session's id), never for timing them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
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


def wall_now() -> datetime:
    """The local calendar time, aware of its zone (names and dates, never durations)."""
    return datetime.now().astimezone()


class MonotonicClock:
    """Real time from `time.monotonic`, relative to when the clock was made.

    `sleep_until` returns at its deadline, or earlier once `wake` is called (from any
    thread); a wake while nobody sleeps cuts the next sleep short, so none is lost."""

    virtual = False
    speed = 1.0

    def __init__(self) -> None:
        self._origin = time.monotonic()
        self._woken = threading.Event()

    def now(self) -> float:
        return (time.monotonic() - self._origin) * self.speed

    def sleep_until(self, deadline: float) -> None:
        delay = deadline - self.now()
        if delay > 0:
            self._woken.wait(delay / self.speed)
        self._woken.clear()

    def wake(self) -> None:
        """End the current (or the next) `sleep_until` now."""
        self._woken.set()


#: The most a `ScaledClock` reading moves on past the one before it, or past the deadline
#: its sleeper asked for (clock seconds): a whole process held up (a busy machine, a
#: garbage collection) loses that time instead of jumping the simulated chair ahead of its
#: host. 0.2 s keeps a renewal every 0.25 s within the device's 0.5 s dead-man.
MAX_STEP_S = 0.2


class ScaledClock(MonotonicClock):
    """Real time `speed` times faster: one real second is `speed` clock seconds (a
    simulated chair's plant and its controller share one, as fast-forward shares the
    virtual clock). Raises ValueError for a speed that is not a finite number > 0.

    Elastic: a reading never moves more than `MAX_STEP_S` past the reading before it (or
    past the deadline a `sleep_until` waited for), whoever reads. At 20x, 25 ms of real
    time lost to a busy machine would be half a second of the chair's: a host silent that
    long trips the device's dead-man, which the same pause in real time never would. So
    the clock drops what a held-up process could not use, and the chair and its host go
    on from where they were; `speed` is the most it runs, not a promise."""

    def __init__(self, speed: float) -> None:
        if not isinstance(speed, int | float) or isinstance(speed, bool) \
                or not 0 < speed < float("inf"):
            raise ValueError(f"speed {speed!r}: a number greater than 0")
        super().__init__()
        self.speed = float(speed)
        self._guard = threading.Lock()
        self._last = 0.0  # the latest reading
        self._asleep_to = 0.0  # the latest deadline slept to
        self._dropped = 0.0  # clock seconds dropped so far

    def now(self) -> float:
        with self._guard:
            t = (time.monotonic() - self._origin) * self.speed - self._dropped
            limit = max(self._last, self._asleep_to) + MAX_STEP_S
            if t > limit:
                self._dropped += t - limit
                t = limit
            if t > self._last:
                self._last = t
            return self._last

    def sleep_until(self, deadline: float) -> None:
        with self._guard:
            self._asleep_to = max(self._asleep_to, deadline)
        super().sleep_until(deadline)

    @property
    def dropped(self) -> float:
        """Clock seconds dropped so far (the process was held up that long, scaled)."""
        return self._dropped


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
