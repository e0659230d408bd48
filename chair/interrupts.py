"""What the user asks of a run while it drives the chair: stop (park), stop now (the
emergency stop), pause and resume, taken by the run's loop between ticks.

Two sources feed one `Requests`:

- Ctrl-C and SIGTERM (`chair run`): counted by a signal handler. The first one acted on is
  a stop (the chair parks), a second one a stop at once. A KeyboardInterrupt raised
  wherever the main thread happens to be can land inside a write to the port (a torn line)
  or between the link's books and the wire (a line the link counts as sent that never
  left, or an answer read but not yet settled), and the run then ends in "link out of
  step" instead of parking the chair. So while a run drives the chair, SIGINT and SIGTERM
  only count; the loop looks at the count before every tick.
- `ask(action, by)` from any thread (`chair serve`: the web page, the API, MQTT): queued
  in order, and the clock's sleeper woken so the loop acts at once, not a tick later.

Either way the loop acts on it in the same place and the same way (chair.runner), and the
trace's `user` event says which action (and `by` whom, when somebody asked).
"""

from __future__ import annotations

import signal
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

#: What a user may ask of a run: park and stop, stop at once (the emergency stop), pause
#: the program (everything at rest), resume it.
ACTIONS = ("stop", "stop-now", "pause", "resume")


@dataclass(frozen=True)
class Request:
    """One thing a user asked: an `ACTIONS` member, and who asked (web, api, mqtt)."""

    action: str
    by: str | None = None


class Requests:
    """A context that counts SIGINT and SIGTERM (in the main thread; elsewhere it counts
    nothing and Python's own KeyboardInterrupt stays in force), and a queue of requests
    asked from any thread. `wake` (optional) is called after each request is queued: the
    clock's `wake`, so a loop sleeping until its next tick takes it at once."""

    def __init__(self, wake: Callable[[], None] | None = None) -> None:
        self.count = 0
        self._wake = wake
        self._queue: deque[Request] = deque()  # append and popleft are atomic
        self._previous: dict[int, object] = {}

    def __enter__(self) -> Requests:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._counted)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _counted(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1

    def ask(self, action: str, by: str | None = None) -> None:
        """Queue `action` (one of `ACTIONS`); ValueError for any other."""
        if action not in ACTIONS:
            raise ValueError(f"unknown request {action!r}; one of {', '.join(ACTIONS)}")
        self._queue.append(Request(action, by))
        if self._wake is not None:
            self._wake()

    def take(self) -> Request | None:
        """The oldest request not yet acted on, or None."""
        try:
            return self._queue.popleft()
        except IndexError:
            return None

    def clear(self) -> list[Request]:
        """Drop (and return) every request not yet taken."""
        taken = []
        while (request := self.take()) is not None:
            taken.append(request)
        return taken


#: The name `chair run` has always used: Ctrl-C and SIGTERM counted while it runs.
Interrupts = Requests
