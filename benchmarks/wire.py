"""The wire during a session: every byte each way, with its simulated time.

`capture_session` runs one fast-forwarded session with a tap between the link and its
port; the wire-budget row compares the busiest second of each direction with what a
115,200-baud line carries (8N1: 10 bits a byte, 11,520 bytes a second).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmarks.common import Row
from benchmarks.sessions import run_session

BAUD = 115_200
LINE_BYTES_S = BAUD / 10  # 8N1: start bit, 8 data bits, stop bit
TARGET_HEADROOM = 5.0


class _Tap:
    """A port stand-in that notes every chunk read and written, then passes it on."""

    def __init__(self, port, clock, log: Capture) -> None:
        self._port, self._clock, self._log = port, clock, log

    def __getattr__(self, name: str):
        return getattr(self._port, name)

    @property
    def in_waiting(self) -> int:
        return self._port.in_waiting

    def read(self, size: int = 1) -> bytes:
        data = self._port.read(size)
        if data:
            self._log.rx.append((self._clock.now(), data))
        return data

    def write(self, data: bytes) -> int:
        self._log.tx.append((self._clock.now(), bytes(data)))
        return self._port.write(data)


@dataclass
class Capture:
    sim_s: float = 0.0
    tx: list[tuple[float, bytes]] = field(default_factory=list)  # host -> device
    rx: list[tuple[float, bytes]] = field(default_factory=list)  # device -> host

    @property
    def session_start(self) -> float:
        """When the first status report came: the handshake (banner, limits) is over."""
        return next((t for t, data in self.rx if b"<" in data), 0.0)

    def busiest_second(self, chunks: list[tuple[float, bytes]]) -> int:
        """The most bytes in any one-second window of the session (a window starts at a chunk
        and holds what comes before it ends: [t, t + 1 s))."""
        start = self.session_start
        timed = [(t, len(data)) for t, data in chunks if t >= start]
        best = total = 0
        first = 0
        for t, size in timed:
            total += size
            while timed[first][0] <= t - 1.0 + 1e-9:  # left the window ending at t
                total -= timed[first][1]
                first += 1
            best = max(best, total)
        return best

    def handshake(self) -> int:
        """Bytes both ways before the session: INFO, the banner, LIMITS and its table."""
        start = self.session_start
        return sum(len(data) for t, data in self.rx + self.tx if t < start)


def capture_session(minutes: float | None = None) -> Capture:
    """One sciatica session (as `--fast` runs it) with every byte on the wire noted."""
    import chair.runner as runner
    from chair.link import Link

    log = Capture()

    class TappedLink(Link):
        def __init__(self, port, clock, **kwargs) -> None:
            super().__init__(_Tap(port, clock, log), clock, **kwargs)

    runner.Link = TappedLink
    try:
        reason, log.sim_s, _ = run_session(minutes=minutes)
    finally:
        runner.Link = Link
    if reason != "completed":
        raise RuntimeError(f"the session ended {reason}")
    return log


def run(quick: bool, capture: Capture) -> list[Row]:
    worst = 0
    details = []
    span = capture.sim_s - capture.session_start
    for name, chunks in (("device->host", capture.rx), ("host->device", capture.tx)):
        total = sum(len(data) for t, data in chunks if t >= capture.session_start)
        peak = capture.busiest_second(chunks)
        worst = max(worst, peak)
        details.append(f"{name} {total / span:,.0f} B/s mean, {peak:,} B busiest second")
    headroom = LINE_BYTES_S / worst if worst else float("inf")
    details.append(f"connect handshake {capture.handshake():,} B once, before the session")
    return [Row("wire.headroom", "wire budget: busiest second of a session, 115,200 baud",
                f">= {TARGET_HEADROOM:g}x headroom", f"{headroom:.1f}x ({worst:,} B/s of "
                f"{LINE_BYTES_S:,.0f} each way)", round(headroom, 2), "x",
                headroom >= TARGET_HEADROOM, "; ".join(details))]
