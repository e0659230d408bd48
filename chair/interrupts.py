"""Ctrl-C and SIGTERM while a run drives the chair: counted by a signal handler, acted on by
the run's loop between ticks.

A KeyboardInterrupt raised wherever the main thread happens to be can land inside a write
to the port (a torn line) or between the link's books and the wire (a line the link counts
as sent that never left, or an answer read but not yet settled), and the run then ends in
"link out of step" instead of parking the chair. So while a run drives the chair, SIGINT
and SIGTERM only count; the loop looks at the count before every tick.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


class Interrupts:
    """A context that counts SIGINT and SIGTERM (in the main thread; elsewhere it counts
    nothing and Python's own KeyboardInterrupt stays in force)."""

    def __init__(self) -> None:
        self.count = 0
        self._previous: dict[int, object] = {}

    def __enter__(self) -> Interrupts:
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
