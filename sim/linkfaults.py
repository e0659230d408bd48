"""A bad wire: wrap any pyserial port and drop, corrupt, duplicate and delay its bytes.

`FaultyPort(port, rx=Impairment(...), tx=Impairment(...), seed=3)` behaves like the port it
wraps (read, write, in_waiting, reset_input_buffer, close ...) with the link spoilt:

* per byte and per direction, at the given rates: lost (`drop`), one random bit flipped
  (`corrupt`), sent twice (`dup`), or the stream stalling `delay_ms` before it (`delay`);
  every byte can also arrive `latency_ms` late. Order is kept, as on a serial line.
* `noise_at`: the rates and delays above apply from then on (default: from the start).
* `vanish_at`: from then on every call raises `serial.SerialException`, as pyserial does
  when a USB adapter is pulled out.
* `silence_at`: from then on the host's writes are swallowed (the controller falls silent).
* `mute_at`: from then on the device's bytes are dropped (the device falls silent).

Directions are the host's: `rx` is what the host reads (device to host), `tx` what it
writes. Times are seconds after the wrapper was made, on the wrapped port's `.clock` when
it has one (so a `sim://?clock=virtual` port fast-forwards with its faults), else the
monotonic clock. Delays count in that clock's seconds; delayed host bytes reach the wrapped
port at the next call into the wrapper after they are due. Randomness comes from
`numpy.random.default_rng(seed)`, one stream per direction: the same seed, bytes and call
pattern spoil the same bytes. `stats` counts what was done, per direction.

The `faulty://` URL handler (sim/protocol_faulty.py) builds one from a URL.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from serial import SerialException

from chair.clock import MonotonicClock


@dataclass(frozen=True)
class Impairment:
    """How one direction is spoilt: per-byte rates (0..1) and delays in milliseconds."""

    drop: float = 0.0
    corrupt: float = 0.0
    dup: float = 0.0
    delay: float = 0.0
    delay_ms: float = 100.0
    latency_ms: float = 0.0

    def __post_init__(self) -> None:
        for name in ("drop", "corrupt", "dup", "delay"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"Impairment.{name}={rate!r}: expected a probability 0..1")
        for name in ("delay_ms", "latency_ms"):
            if not 0.0 <= getattr(self, name) < float("inf"):
                raise ValueError(f"Impairment.{name}={getattr(self, name)!r}: expected ms >= 0")

    @property
    def clean(self) -> bool:
        return not (self.drop or self.corrupt or self.dup or (self.delay and self.delay_ms)
                    or self.latency_ms)


class _Lane:
    """One direction: spoils the bytes put in and releases them when they are due."""

    def __init__(self, impairment: Impairment, rng: np.random.Generator) -> None:
        self.imp = impairment
        self.rng = rng
        self._queue: deque[tuple[np.ndarray, bytes]] = deque()  # release times, bytes
        self._tail = -np.inf  # release time of the last byte queued
        self.stats = dict.fromkeys(("bytes", "dropped", "corrupted", "duplicated",
                                    "stalled"), 0)

    def put(self, data: bytes, now: float) -> bytes:
        """Spoil `data` sent at `now`; return what is due at once (delayed bytes wait)."""
        n = len(data)
        if not n:
            return b""
        self.stats["bytes"] += n
        imp = self.imp
        if imp.clean and not self._queue:
            return data
        rng = self.rng
        out = np.frombuffer(data, dtype=np.uint8)
        if imp.corrupt:
            hit = rng.random(n) < imp.corrupt
            k = int(np.count_nonzero(hit))
            if k:
                out = out.copy()
                out[hit] ^= np.left_shift(1, rng.integers(0, 8, k)).astype(np.uint8)
                self.stats["corrupted"] += k
        if imp.dup or imp.drop:
            counts = np.ones(n, dtype=np.int64)
            if imp.dup:
                twice = rng.random(n) < imp.dup
                counts += twice
                self.stats["duplicated"] += int(np.count_nonzero(twice))
            if imp.drop:
                lost = rng.random(n) < imp.drop
                counts[lost] = 0
                self.stats["dropped"] += int(np.count_nonzero(lost))
            out = np.repeat(out, counts)
        if not len(out):
            return b""
        if not (imp.latency_ms or (imp.delay and imp.delay_ms)) and not self._queue:
            return out.tobytes()
        release = np.full(len(out), now + imp.latency_ms / 1000.0)
        if imp.delay and imp.delay_ms:
            stall = rng.random(len(out)) < imp.delay
            self.stats["stalled"] += int(np.count_nonzero(stall))
            release += np.cumsum(stall) * (imp.delay_ms / 1000.0)
        np.maximum(release, self._tail, out=release)
        self._tail = float(release[-1])
        self._queue.append((release, out.tobytes()))
        return self.due(now)

    def due(self, now: float) -> bytes:
        """The queued bytes whose time has come, in order."""
        queue = self._queue
        if not queue:
            return b""
        parts = []
        while queue:
            times, data = queue[0]
            if times[-1] <= now:
                parts.append(data)
                queue.popleft()
                continue
            k = int(np.searchsorted(times, now, side="right"))
            if k:
                parts.append(data[:k])
                queue[0] = (times[k:], data[k:])
            break
        return b"".join(parts)

    def clear(self) -> None:
        self._queue.clear()


class FaultyPort:
    """Any pyserial port with its link spoilt (see the module docstring)."""

    def __init__(self, port, *, rx: Impairment = Impairment(), tx: Impairment = Impairment(),
                 seed: int = 0, noise_at: float | None = None,
                 vanish_at: float | None = None, silence_at: float | None = None,
                 mute_at: float | None = None, clock=None) -> None:
        self.inner = port
        self.clock = clock or getattr(port, "clock", None) or MonotonicClock()
        rx_rng, tx_rng = (np.random.default_rng(s)
                          for s in np.random.SeedSequence(seed).spawn(2))
        self._rx = _Lane(rx, rx_rng)
        self._tx = _Lane(tx, tx_rng)
        self._clean = (_Lane(Impairment(), rx_rng), _Lane(Impairment(), tx_rng))
        self.t0 = self.clock.now()
        self.noise_at = noise_at
        self.vanish_at = vanish_at
        self.silence_at = silence_at
        self.mute_at = mute_at
        self._buffer = bytearray()
        self.swallowed = 0  # host bytes swallowed by silence
        self.muted = 0  # device bytes dropped by mute

    # ------------------------------------------------------------------ views

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        """What was done to the bytes, per direction (`rx`, `tx`)."""
        return {"rx": {**self._rx.stats, "muted": self.muted},
                "tx": {**self._tx.stats, "swallowed": self.swallowed}}

    @property
    def device(self):
        """The simulated device behind the wrapped port (tests only), or None."""
        return getattr(self.inner, "device", None)

    @property
    def port(self) -> str:
        return str(getattr(self.inner, "port", "?"))

    @property
    def is_open(self) -> bool:
        return bool(self.inner.is_open)

    def _since(self, at: float | None, now: float) -> bool:
        return at is not None and now - self.t0 >= at

    def _lanes(self, now: float) -> tuple[_Lane, _Lane]:
        """The (rx, tx) lanes in force: clean before `noise_at`."""
        if self.noise_at is None or self._since(self.noise_at, now):
            return self._rx, self._tx
        return self._clean

    # ------------------------------------------------------------------ data

    def _check(self) -> float:
        now = self.clock.now()
        if self._since(self.vanish_at, now):
            raise SerialException(f"device disconnected (faulty:// vanish_at="
                                  f"{self.vanish_at:g} s)")
        return now

    def _pump(self, now: float) -> None:
        """Move due host bytes to the port and the port's bytes into the read buffer."""
        rx = self._lanes(now)[0]
        due = self._tx.due(now)
        if due:
            self.inner.write(due)
        waiting = self.inner.in_waiting
        data = self.inner.read(waiting) if waiting else b""
        if data and self._since(self.mute_at, now):
            self.muted += len(data)
            data = b""
        self._buffer += self._rx.due(now)  # delayed bytes first: order is kept
        self._buffer += rx.put(data, now)

    @property
    def in_waiting(self) -> int:
        now = self._check()
        self._pump(now)
        return len(self._buffer)

    @property
    def out_waiting(self) -> int:
        self._check()
        return 0

    def read(self, size: int = 1) -> bytes:
        """What has arrived, up to `size` bytes; never blocks."""
        now = self._check()
        self._pump(now)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def write(self, data) -> int:
        now = self._check()
        data = bytes(data)
        if self._since(self.silence_at, now):
            self.swallowed += len(data)
            return len(data)
        _, tx = self._lanes(now)
        due = self._tx.due(now) + tx.put(data, now)
        if due:
            self.inner.write(due)
        return len(data)

    def flush(self) -> None:
        self._check()

    def reset_input_buffer(self) -> None:
        now = self._check()
        self._pump(now)
        self._buffer.clear()
        self._rx.clear()

    def reset_output_buffer(self) -> None:
        self._check()
        self._tx.clear()

    def close(self) -> None:
        self.inner.close()
