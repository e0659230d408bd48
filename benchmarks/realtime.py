"""Real time: the `?` round trip over a pty beside a raw pty echo, and controller tick jitter.

The round trip: `chair.serve.serve_pty` serves ``sim://`` (real clock) on a thread; a client
opens the pty, writes ``?`` and reads until the status line's end. The reference is native:
the kernel's own tty echo (ECHO set on another pty's slave end), measured interleaved with
the first, one round trip each in turn, so both see the same machine.

The jitter: a real-time controller (the loop of `chair.runner`) scans and runs the lumbar
program on ``sim://`` for a few seconds; how late each tick starts against its schedule.
"""

from __future__ import annotations

import os
import queue
import select
import termios
import threading
import time
import tty

from benchmarks.common import Row, percentile

RTT_RATIO = 3.0
JITTER_MS = 5.0


class _Echo:
    """A pty whose own line discipline echoes: the kernel's tty ECHO, no process at all.

    The slave end is raw but with ECHO set, and held open; a byte written to the master comes
    back on the master from the kernel (n_tty's echo), which is the floor any program serving
    a pty can be compared with.
    """

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        attrs = termios.tcgetattr(self.slave)
        attrs[3] |= termios.ECHO  # lflag
        termios.tcsetattr(self.slave, termios.TCSANOW, attrs)

    def round_trip(self, data: bytes = b"?") -> float:
        """Seconds from writing `data` to the master to reading its echo there."""
        started = time.perf_counter()
        os.write(self.master, data)
        _read_until(self.master, data)
        took = time.perf_counter() - started
        _drain(self.slave, 0.0)  # the input the slave end was given: keep its buffer empty
        return took

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


def _open_raw(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    return fd


def _read_until(fd: int, end: bytes, timeout: float = 2.0) -> bytes:
    data = b""
    deadline = time.perf_counter() + timeout
    while not data.endswith(end):
        left = deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError(f"no {end!r} within {timeout} s (got {data[-80:]!r})")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            data += os.read(fd, 4096)
    return data


def _drain(fd: int, quiet_s: float = 0.1) -> None:
    while select.select([fd], [], [], quiet_s)[0]:
        os.read(fd, 4096)


#: Longer than the device's shortest answer period for `?` (REPORT_MIN_MS, 20 ms).
QUERY_GAP_S = 0.025


def round_trips(n: int) -> tuple[list[float], list[float]]:
    """`n` round trips of `?` to its status line, and `n` raw echoes, interleaved (seconds)."""
    from chair.serve import serve_pty

    stop = threading.Event()
    ready: queue.Queue = queue.Queue()
    server = threading.Thread(target=serve_pty, args=("sim://",),
                              kwargs={"stop": stop, "on_ready": ready.put}, daemon=True)
    server.start()
    echo = _Echo()
    chair_fd = -1
    try:
        chair_fd = _open_raw(ready.get(timeout=10))
        _drain(chair_fd)  # the banner
        status, echoed = [], []
        for i in range(n + 5):
            # a `?` within 20 ms of the last answer waits for the end of that period (the
            # flood rule, docs/protocol.md §3): space the probes to time the answer itself
            time.sleep(QUERY_GAP_S)
            started = time.perf_counter()
            os.write(chair_fd, b"?")
            line = _read_until(chair_fd, b"\n")
            took = time.perf_counter() - started
            assert line.startswith(b"<"), line
            time.sleep(QUERY_GAP_S)  # the echo gets the same pause: both start from rest
            took_echo = echo.round_trip()
            if i >= 5:  # the first few warm up both paths
                status.append(took)
                echoed.append(took_echo)
        return status, echoed
    finally:
        stop.set()
        server.join(timeout=5)
        echo.close()
        if chair_fd >= 0:
            os.close(chair_fd)


def tick_jitter(seconds: float) -> list[float]:
    """How late each real-time controller tick starts against its schedule (seconds)."""
    from chair.caps import make_caps
    from chair.clock import MonotonicClock
    from chair.controller import TICK_S, Controller
    from chair.link import Link
    from chair.ports import open_port
    from chair.program import load_program
    from chair.trace import Trace

    program = load_program("lumbar")
    port = open_port("sim://")
    clock = MonotonicClock()
    trace = Trace(None)
    controller = Controller(Link(port, clock), clock, trace, program,
                            lambda table: make_caps(table))
    late: list[float] = []
    try:
        controller.fire("connect")
        trace.header()
        if not controller.fire("start"):
            raise RuntimeError(f"the controller did not start: {controller.reason}")
        next_tick = clock.now()
        end = next_tick + seconds
        while clock.now() < end and controller.state in ("scanning", "running"):
            late.append(clock.now() - next_tick)
            controller.tick()
            next_tick += TICK_S
            clock.sleep_until(next_tick)
    finally:
        controller.link.estop()
        port.close()
    return late


def run(quick: bool) -> list[Row]:
    status, echoed = round_trips(20 if quick else 500)
    rows = []
    for q in (50, 99):
        ours, ref = percentile(status, q), percentile(echoed, q)
        ratio = ours / ref
        rows.append(Row(f"realtime.rtt_p{q}", f"real time: `?` to status line over a pty, p{q}",
                        f"<= {RTT_RATIO:g}x kernel pty echo", f"{ours * 1e6:,.0f} us = "
                        f"{ratio:.1f}x echo ({ref * 1e6:,.0f} us)", round(ratio, 2), "x echo",
                        ratio <= RTT_RATIO, f"{len(status)} round trips each, interleaved "
                        "with the kernel's own tty echo (ECHO on a pty, no process)"))
    late = tick_jitter(0.6 if quick else 5.0)
    p99 = percentile(late, 99) * 1000.0
    rows.append(Row("realtime.jitter_p99", "real time: controller tick lateness, p99",
                    f"<= {JITTER_MS:g} ms", f"{p99:.2f} ms (p50 {percentile(late, 50) * 1e3:.2f},"
                    f" max {max(late) * 1e3:.2f})", round(p99, 3), "ms", p99 <= JITTER_MS,
                    f"{len(late)} ticks of {1000 * 0.05:g} ms, lumbar on sim:// (real clock)"))
    return rows
