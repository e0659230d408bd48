"""The bounded transmit buffer: whole lines for a reader that may be slow or absent.

A port of chair.linequeue.LineQueue to MicroPython (plain lists, no deque): a flood of
replies can neither grow memory without bound nor delay a fault push; what does not fit is
dropped whole and counted, never torn (docs/protocol.md §11.1, "Sending").
"""


class _Merged:
    """A line standing for `count` lines folded together while it waited (see `merge`)."""

    __slots__ = ("count", "key", "line", "render")

    def __init__(self, key, render):
        self.key = key
        self.render = render
        self.count = 1
        self.line = render(1)


class OutQueue:
    """Lines waiting for a reader: at most `capacity` bytes, urgent lines first.

    A line whose first byte is in `urgent` (by default a fault push ``!Fnn`` and the banner
    ``#CHAIR``) goes ahead of every ordinary line waiting. When a line does not fit, the
    oldest ordinary lines are dropped whole to make room, then, only if urgent lines alone
    fill the queue, the oldest urgent ones; a line longer than `capacity` is dropped itself.
    Every drop is counted in `dropped_lines` and `dropped_bytes`. `merge(key, render)` folds
    a line into the one with the same key still waiting, which `render(n)` (bytes) then
    writes as standing for n lines (`merged` counts the folds). ValueError: capacity <= 0.
    """

    def __init__(self, capacity, urgent=b"!#"):
        if capacity <= 0:
            raise ValueError("capacity must be positive, got %s" % capacity)
        self.capacity = capacity
        self.urgent = urgent
        self._urgent = []
        self._lines = []
        self._waiting = {}
        self._size = 0
        self.dropped_lines = 0
        self.dropped_bytes = 0
        self.merged = 0

    def __len__(self):
        """Bytes waiting."""
        return self._size

    def __bool__(self):
        return self._size > 0

    def push(self, line):
        """Queue one whole line (bytes, terminator included)."""
        if line[:1] and line[0] in self.urgent:
            if self._fit(len(line)):
                self._urgent.append(line)
                self._size += len(line)
        elif self._fit(len(line)):
            self._lines.append(line)
            self._size += len(line)

    def merge(self, key, render):
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

    def pop(self):
        """The next line (urgent ones first), or b"" when none is waiting."""
        if self._urgent:
            line = self._urgent.pop(0)
        elif self._lines:
            line = self._unwrap(self._lines.pop(0))
        else:
            return b""
        self._size -= len(line)
        return line

    def take(self, limit=None):
        """Whole lines, in sending order, up to `limit` bytes (but at least one line)."""
        out = [self.pop()]
        size = len(out[0])
        while self._size and (limit is None or size < limit):
            nxt = self._urgent[0] if self._urgent else self._peek()
            if limit is not None and size + len(nxt) > limit:
                break
            line = self.pop()
            out.append(line)
            size += len(line)
        return b"".join(out)

    def clear(self):
        """Forget everything waiting (not counted as dropped)."""
        self._urgent = []
        self._lines = []
        self._waiting = {}
        self._size = 0

    # ------------------------------------------------------------------ internals

    def _peek(self):
        first = self._lines[0]
        return first.line if isinstance(first, _Merged) else first

    def _unwrap(self, entry):
        if isinstance(entry, _Merged):
            del self._waiting[entry.key]
            return entry.line
        return entry

    def _fit(self, size):
        """Make room for `size` bytes by dropping whole lines; False if it cannot fit."""
        if size > self.capacity:
            self._count_drop(size)
            return False
        while self._size + size > self.capacity:
            lane = self._lines if self._lines else self._urgent
            line = self._unwrap(lane.pop(0))
            self._size -= len(line)
            self._count_drop(len(line))
        return True

    def _count_drop(self, size):
        self.dropped_lines += 1
        self.dropped_bytes += size
