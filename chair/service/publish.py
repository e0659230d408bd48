"""Snapshots handed from the chair thread to subscribers without ever waiting for them.

Each subscriber has its own delivery thread and a short queue: `publish` appends and
returns at once (a slow or stuck callback only makes its own queue drop its oldest
snapshots, `BACKLOG` kept), so no front end can delay the controller.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

Snapshot = dict[str, Any]
#: Snapshots kept for a subscriber that has not taken them yet (the newest win).
BACKLOG = 8

log = logging.getLogger(__name__)


class _Subscriber:
    def __init__(self, callback: Callable[[Snapshot], None]) -> None:
        self.callback = callback
        self.queue: deque[Snapshot] = deque(maxlen=BACKLOG)
        self.ready = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name="chair-subscriber")
        self.thread.start()

    def put(self, snapshot: Snapshot) -> None:
        with self.ready:
            self.queue.append(snapshot)
            self.ready.notify()

    def close(self) -> None:
        with self.ready:
            self.closed = True
            self.ready.notify()

    def _run(self) -> None:
        while True:
            with self.ready:
                while not self.queue and not self.closed:
                    self.ready.wait()
                if self.closed:
                    return
                snapshot = self.queue.popleft()
            try:
                self.callback(snapshot)
            except Exception:  # a front end's bug must not end its updates, nor the host
                log.exception("a status subscriber failed")


class Publisher:
    """The subscribers of one host (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[_Subscriber] = []

    def subscribe(self, callback: Callable[[Snapshot], None],
                  first: Snapshot | None) -> Callable[[], None]:
        """Add `callback`; it gets `first` at once (on its own thread), then every
        snapshot published. Returns the function that unsubscribes (idempotent)."""
        subscriber = _Subscriber(callback)
        with self._lock:
            self._subscribers.append(subscriber)
        if first is not None:
            subscriber.put(first)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)
            subscriber.close()
        return unsubscribe

    def publish(self, snapshot: Snapshot) -> None:
        """Hand `snapshot` to every subscriber; returns at once."""
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            subscriber.put(snapshot)

    def close(self) -> None:
        with self._lock:
            subscribers, self._subscribers = self._subscribers, []
        for subscriber in subscribers:
            subscriber.close()

    def __len__(self) -> int:
        with self._lock:
            return len(self._subscribers)
