"""The wire during a session: every byte each way, with its simulated time.

`capture_session` runs one fast-forwarded session with a tap between the link and its
port; the wire-budget row compares the busiest second of each direction with what a
115,200-baud line carries (8N1: 10 bits a byte, 11,520 bytes a second).
"""

from __future__ import annotations

from collections import Counter
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

    def per_second(self, chunks: list[tuple[float, bytes]]) -> Counter:
        seconds: Counter = Counter()
        for t, data in chunks:
            seconds[int(t)] += len(data)
        return seconds


def capture_session(minutes: float | None = None) -> Capture:
    """One sciatica session (`--fast`, seed 1) with every byte on the wire noted."""
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
    rows = []
    worst = 0.0
    details = []
    for name, chunks in (("device->host", capture.rx), ("host->device", capture.tx)):
        total = sum(len(data) for _, data in chunks)
        seconds = capture.per_second(chunks)
        peak = max(seconds.values(), default=0)
        worst = max(worst, peak)
        details.append(f"{name} {total / capture.sim_s:,.0f} B/s mean, {peak:,} B peak second")
    headroom = LINE_BYTES_S / worst if worst else float("inf")
    rows.append(Row("wire.headroom", "wire budget: busiest second vs a 115,200-baud line",
                    f">= {TARGET_HEADROOM:g}x headroom", f"{headroom:.1f}x ({worst:,.0f} B/s "
                    f"of {LINE_BYTES_S:,.0f})", round(headroom, 2), "x", headroom >=
                    TARGET_HEADROOM, "; ".join(details)))
    return rows
