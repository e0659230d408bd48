"""A bounded queue of whole lines for a reader that may be slow or absent.

Used by the pty and TCP servers (chair.serve), so that a flood of replies can neither
grow memory without bound nor delay a fault push (the firmware's transmit buffer,
firmware/outq.py, is its MicroPython twin): the device's lines wait here, and what does
not fit is dropped whole and counted, never torn (docs/protocol.md §11.1, "Sending").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable


class _Merged:
    """A line standing for `count` lines folded together while it waited (see `merge`)."""

    __slots__ = ("count", "key", "line", "render")

    def __init__(self, key: Hashable, render: Callable[[int], bytes]) -> None:
        self.key, self.render, self.count = key, render, 1
        self.line = render(1)


class LineQueue:
    """Lines waiting for a reader: at most `capacity` bytes, fault pushes first.

    A line whose first byte is in `urgent` (by default a fault push `!Fnn` and the banner
    `#CHAIR`, which says the board restarted: docs/protocol.md §1) goes ahead of every
    ordinary line waiting. When a line does not fit, the oldest ordinary lines
    are dropped whole to make room (the newest status is the useful one), then, only if
    urgent lines alone fill the queue, the oldest urgent ones; a line longer than `capacity`
    is dropped itself. Every drop is counted in `dropped_lines` and `dropped_bytes`.
    `merge(key, render)` folds a line into the one with the same key still waiting, which
    `render(n)` then writes as standing for n lines (`merged` counts the folds).
    """

    def __init__(self, capacity: int, urgent: bytes = b"!#") -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = capacity
        self.urgent = frozenset(urgent)
        self._urgent: deque[bytes] = deque()
        self._lines: deque[bytes | _Merged] = deque()
        self._waiting: dict[Hashable, _Merged] = {}
        self._size = 0
        self.dropped_lines = 0
        self.dropped_bytes = 0
        self.merged = 0

    def __len__(self) -> int:
        """Bytes waiting."""
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def push(self, line: bytes) -> None:
        """Queue one whole line (terminator included)."""
        if line[:1] and line[0] in self.urgent:
            if self._fit(len(line)):
                self._urgent.append(line)
                self._size += len(line)
        elif self._fit(len(line)):
            self._lines.append(line)
            self._size += len(line)

    def merge(self, key: Hashable, render: Callable[[int], bytes]) -> None:
        """Queue `render(1)`, or fold it into the waiting line with the same `key`."""
        entry = self._waiting.get(key)
        if entry is None:
            entry = _Merged(key, render)
            if self._fit(len(entry.line)):
                self._lines.append(entry)
                self._waiting[key] = entry
                self._size += len(entry.line)
            return
        entry.count += 1
        self.merged += 1
        before = len(entry.line)
        entry.line = entry.render(entry.count)
        self._size += len(entry.line) - before
        self._fit(0)  # the count grew the line by a digit: still within capacity

    def pop(self) -> bytes:
        """The next line (urgent ones first), or b"" when none is waiting."""
        if self._urgent:
            line = self._urgent.popleft()
        elif self._lines:
            line = self._unwrap(self._lines.popleft())
        else:
            return b""
        self._size -= len(line)
        return line

    def take(self, limit: int | None = None) -> bytes:
        """Whole lines, in sending order, up to `limit` bytes (but at least one line)."""
        out = bytearray(self.pop())
        while self._size and (limit is None or len(out) < limit):
            nxt = self._urgent[0] if self._urgent else self._peek()
            if limit is not None and len(out) + len(nxt) > limit:
                break
            out += self.pop()
        return bytes(out)

    def clear(self) -> None:
        """Forget everything waiting (not counted as dropped)."""
        self._urgent.clear()
        self._lines.clear()
        self._waiting.clear()
        self._size = 0

    # ------------------------------------------------------------------ internals

    def _peek(self) -> bytes:
        first = self._lines[0]
        return first.line if isinstance(first, _Merged) else first

    def _unwrap(self, entry: bytes | _Merged) -> bytes:
        if isinstance(entry, _Merged):
            del self._waiting[entry.key]
            return entry.line
        return entry

    def _fit(self, size: int) -> bool:
        """Make room for `size` bytes by dropping whole lines; False if it cannot fit."""
        if size > self.capacity:
            self._count_drop(size)
            return False
        while self._size + size > self.capacity:
            lane = self._lines if self._lines else self._urgent
            line = self._unwrap(lane.popleft())
            self._size -= len(line)
            self._count_drop(len(line))
        return True

    def _count_drop(self, size: int) -> None:
        self.dropped_lines += 1
        self.dropped_bytes += size
