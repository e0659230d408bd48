"""Floods: every output buffer is bounded, fault pushes go first, `?` and garbage coalesce.

Issue 9 item 6: after 100 KiB of random bytes written to `chair sim --pty`, about 80 KB of
replies stayed queued and `!F01` reached a reader 7 s after `!`; 64 KiB of `?` grew the
simulator's buffers from 38 to 186 MB and `!F01` was not seen within 60 s; the server
dropped the oldest bytes, tearing lines. Here: the same floods on the device, on the sim://
port and on a real pty served by `chair sim --pty`, each then stopped, with the `!F01`
line read within 100 ms and the buffers (or the server's memory) staying flat.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import select
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator

import pytest
import serial

from chair import protocol as p
from chair.clock import VirtualClock
from chair.linequeue import LineQueue
from chair.link import Link
from chair.ports import open_port
from chair.serve import serve_tcp
from sim.device import OUT_BYTES, QUERY_MIN_S

#: Bytes that stop the chair, kept out of the random floods (a flood that stops the chair
#: itself would hide the latency of the stop that follows).
STOP_BYTES = frozenset({p.ESTOP_BYTE})
FLOOD_BYTES = 100 * 1024
QUERIES = b"?" * (64 * 1024)
LATENCY_S = 0.1


def send_stop(write: Callable[[bytes], object]) -> None:
    """Send the emergency stop as a host does (the one place that knows the stop byte)."""
    write(bytes([p.ESTOP_BYTE]))


def random_flood(size: int = FLOOD_BYTES, seed: int = 9) -> bytes:
    rng = random.Random(seed)
    return bytes(b for b in rng.randbytes(size + size // 64) if b not in STOP_BYTES)[:size]


def _is_estop(message: object) -> bool:
    return isinstance(message, p.FaultReport) and message.code is p.FaultCode.ESTOP


# ----------------------------------------------------------------------- the queue itself


def test_the_line_queue_is_bounded_drops_whole_lines_and_counts_them() -> None:
    queue = LineQueue(100)
    for n in range(40):
        queue.push(b"line %02d\n" % n)  # 8 bytes each
    assert len(queue) <= 100 and queue.dropped_lines == 28 and queue.dropped_bytes == 224
    out = queue.take()
    assert out == b"".join(b"line %02d\n" % n for n in range(28, 40))  # the newest, whole
    queue.push(b"x" * 101 + b"\n")  # longer than the whole queue: dropped itself
    assert not queue and queue.dropped_lines == 29


def test_fault_pushes_and_banners_go_ahead_of_queued_lines() -> None:
    queue = LineQueue(1000)
    queue.push(b"<Run status>\n")
    queue.push(b"ok 1\n")
    queue.push(b"!F01 estop\n")
    queue.push(b"#CHAIR proto=1\n")
    assert queue.take(limit=1) == b"!F01 estop\n"  # at least one whole line, never torn
    assert queue.take() == b"#CHAIR proto=1\n<Run status>\nok 1\n"


def test_a_full_queue_makes_room_for_a_fault_push() -> None:
    queue = LineQueue(64)
    for _ in range(8):
        queue.push(b"<status>\n")
    queue.push(b"!F05 overpressure\n")
    assert queue.take().startswith(b"!F05 overpressure\n") and queue.dropped_lines > 0


def test_merged_lines_stand_for_their_count_until_read() -> None:
    queue = LineQueue(1000)
    for _ in range(57):
        queue.merge("bad", lambda n: b"error - E13 bad-byte n=%d\n" % n)
    queue.push(b"ok 2\n")
    queue.merge("bad", lambda n: b"error - E13 bad-byte n=%d\n" % n)
    assert queue.merged == 57
    assert queue.take() == b"error - E13 bad-byte n=58\nok 2\n"
    queue.merge("bad", lambda n: b"error - E13 bad-byte n=%d\n" % n)  # a new burst
    assert queue.take() == b"error - E13 bad-byte n=1\n"


# ----------------------------------------------------------------------- the device


@pytest.fixture
def port() -> Iterator[serial.SerialBase]:
    """The simulated chair in real time, as `chair sim` serves it."""
    port = open_port("sim://?seed=1")
    port.read(4096)  # the banner
    yield port
    port.close()


def _read_until_estop(port: serial.SerialBase, deadline_s: float) -> tuple[float, list]:
    """Read as a host does; the seconds until `!F01` arrived, and what came before it."""
    decoder = p.DeviceDecoder()
    t0 = time.monotonic()
    seen: list = []
    while time.monotonic() - t0 < deadline_s:
        for message in decoder.feed(port.read(4096)):
            seen.append(message)
            if _is_estop(message):
                return time.monotonic() - t0, seen
    return float("inf"), seen


@pytest.mark.parametrize("flood", ["random", "queries"])
def test_after_a_flood_the_stop_is_read_within_100_ms_on_the_sim_port(
        port: serial.SerialBase, flood: str) -> None:
    data = random_flood() if flood == "random" else QUERIES
    tracemalloc.start()
    try:
        for at in range(0, len(data), 4096):  # as a server forwards it
            port.write(data[at:at + 4096])
        waiting = port.in_waiting
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    device = port.device
    assert device.output_waiting <= OUT_BYTES and waiting <= OUT_BYTES
    assert peak < 2_000_000, f"{peak / 1e6:.1f} MB allocated at the peak of the flood"
    send_stop(port.write)
    took, before = _read_until_estop(port, 2.0)
    assert took <= LATENCY_S, f"!F01 after {took * 1000:.0f} ms behind {len(before)} lines"


def test_a_burst_of_garbage_gets_one_error_line_with_its_count(port) -> None:
    port.write(b"STAT\x00US\n" * 40 + b"X" * 200 + b"\n" + b"7 STOP*0000\n" * 10)
    messages = p.DeviceDecoder().feed(port.read(1 << 16))
    errors = [m for m in messages if isinstance(m, p.Error)]
    assert len(errors) == 1, errors
    (error,) = errors
    assert error.seq is None and error.code is p.ErrorCode.BAD_BYTE
    assert error.detail == "n=51 first: byte 0x00 at column 5"
    assert p.FaultCode.BAD_FRAMES in port.device.faults  # still counted line by line (F03)
    port.write(b"STAT\x00US\n")  # the next burst gets its own line, uncounted when alone
    (again,) = p.DeviceDecoder().feed(port.read(4096))
    assert again == p.Error(None, p.ErrorCode.BAD_BYTE, "byte 0x00 at column 5")


def test_repeated_queries_within_one_period_are_answered_once_more_at_its_end() -> None:
    port = open_port("sim://?seed=1&clock=virtual")
    clock = port.clock
    port.read(4096)
    decoder = p.DeviceDecoder()
    port.write(b"?" * 500)
    first = decoder.feed(port.read(1 << 16))
    assert [type(m) for m in first] == [p.StatusReport]
    clock.sleep_until(clock.now() + QUERY_MIN_S)
    owed = decoder.feed(port.read(1 << 16))
    assert [type(m) for m in owed] == [p.StatusReport]  # the rest, answered once
    clock.sleep_until(clock.now() + 1.0)
    assert decoder.feed(port.read(1 << 16)) == []
    port.write(b"??")  # a new period: answered at once, the repeat at its end
    assert len(decoder.feed(port.read(4096))) == 1
    port.write(b"?")
    send_stop(port.write)
    port.write(b"?")  # after a latch: at once, whatever the period
    after = decoder.feed(port.read(4096))
    assert _is_estop(after[0]) and after[-1].state == "Estop"
    assert [type(m) for m in after] == [p.FaultReport, p.StatusReport]


def test_a_latch_while_an_answer_is_owed_sends_it_at_the_next_tick() -> None:
    port = open_port("sim://?seed=1&clock=virtual")
    clock = port.clock
    decoder = p.DeviceDecoder()
    decoder.feed(port.read(4096))
    port.write(b"??")  # one answer now, one owed
    clock.sleep_until(clock.now() + 0.001)
    send_stop(port.write)
    port.wait_for_input(clock.now() + 0.5)  # fast-forward steps over quiet time
    clock.sleep_until(clock.now() + 0.5)
    kinds = [type(m) for m in decoder.feed(port.read(1 << 16))]
    assert kinds == [p.FaultReport, p.StatusReport, p.StatusReport]  # the push first


def test_a_coalesced_error_makes_the_host_resend_once_not_per_bad_line() -> None:
    class Scripted:
        port = "scripted://"

        def __init__(self) -> None:
            self.incoming = bytearray()
            self.written: list[bytes] = []

        @property
        def in_waiting(self) -> int:
            return len(self.incoming)

        def read(self, size: int) -> bytes:
            data, self.incoming[:] = bytes(self.incoming[:size]), self.incoming[size:]
            return data

        def write(self, data: bytes) -> int:
            self.written.append(data)
            return len(data)

    scripted = Scripted()
    link = Link(scripted, VirtualClock(), window=4)
    for foot in (1, 2, 3):
        link.send(p.SetFoot(foot, 1000))
    sent = len(scripted.written)
    scripted.incoming += p.encode_device(
        p.Error(None, p.ErrorCode.BAD_BYTE, "n=57 first: byte 0x00 at column 7"))
    link.poll()
    assert link.resends == 3 and len(scripted.written) - sent == 3  # the window, once


# ----------------------------------------------------------------------- a real pty


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


@pytest.fixture
def chair_sim_pty() -> Iterator[tuple[int, subprocess.Popen]]:
    """`chair sim --pty` as a user starts it; the client end of its pty, opened raw."""
    server = subprocess.Popen([sys.executable, "-m", "chair.cli", "sim", "--pty"],
                              stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        path = re.search(r" on (/dev/\S+)", line).group(1)
        with serial.Serial(path, 115200, timeout=0) as client:  # raw, non-blocking reads
            client.write_timeout = 10
            yield client, server
    finally:
        server.terminate()
        server.wait(timeout=10)


def _read_pty_until_estop(client: serial.Serial, deadline_s: float) -> tuple[float, list]:
    decoder = p.DeviceDecoder()
    t0 = time.monotonic()
    seen: list = []
    while time.monotonic() - t0 < deadline_s:
        select.select([client.fileno()], [], [], 0.01)
        for message in decoder.feed(client.read(1 << 16)):
            seen.append(message)
            if _is_estop(message):
                return time.monotonic() - t0, seen
    return float("inf"), seen


@pytest.mark.parametrize("flood", ["random", "queries"])
def test_after_a_flood_the_stop_is_read_within_100_ms_through_chair_sim_pty(
        chair_sim_pty, flood: str) -> None:
    client, server = chair_sim_pty
    time.sleep(0.3)
    rss_before = _rss_kb(server.pid)
    data = random_flood() if flood == "random" else QUERIES
    writer = threading.Thread(target=client.write, args=(data,))
    writer.start()  # nobody reads while the flood goes in: replies pile up where they may
    writer.join(timeout=30)
    assert not writer.is_alive()
    time.sleep(0.5)  # the server has read it all and queued what it could
    grown_kb = _rss_kb(server.pid) - rss_before
    send_stop(client.write)
    took, before = _read_pty_until_estop(client, 5.0)
    torn = [m for m in before if isinstance(m, p.BadLine)]
    assert took <= LATENCY_S, f"!F01 after {took * 1000:.0f} ms behind {len(before)} lines"
    assert grown_kb < 8 * 1024, f"the server grew by {grown_kb / 1024:.1f} MB"
    assert not torn, f"{len(torn)} torn lines, e.g. {torn[0]}"
    assert os.path.exists(f"/proc/{server.pid}")


def test_after_a_flood_the_stop_is_read_within_100_ms_through_tcp() -> None:
    """The TCP server (`chair sim --tcp`) holds whole lines only, fault pushes first."""
    ready: list[int] = []
    stop = threading.Event()
    server = threading.Thread(target=serve_tcp, args=("sim://?seed=1",), daemon=True,
                              kwargs={"stop": stop, "on_ready": lambda _h, n: ready.append(n)})
    server.start()
    try:
        deadline = time.monotonic() + 5
        while not ready and time.monotonic() < deadline:
            time.sleep(0.01)
        with socket.create_connection(("127.0.0.1", ready[0]), timeout=10) as client:
            client.sendall(random_flood() + QUERIES)  # nobody reads while it goes in
            time.sleep(0.5)
            send_stop(client.sendall)
            client.setblocking(False)
            decoder = p.DeviceDecoder()
            t0 = time.monotonic()
            took, seen = float("inf"), []
            while time.monotonic() - t0 < 5.0 and took == float("inf"):
                select.select([client], [], [], 0.01)
                with contextlib.suppress(BlockingIOError):
                    for message in decoder.feed(client.recv(1 << 16)):
                        seen.append(message)
                        if _is_estop(message):
                            took = time.monotonic() - t0
        assert took <= LATENCY_S, f"!F01 after {took * 1000:.0f} ms behind {len(seen)} lines"
        assert not [m for m in seen if isinstance(m, p.BadLine)]  # no torn line
    finally:
        stop.set()
        server.join(timeout=5)
