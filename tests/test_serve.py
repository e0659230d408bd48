"""Serving a port on a real pty and on TCP, in real time (`chair sim --pty/--tcp`)."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import serial

from chair import protocol as p
from chair.serve import serve_pty, serve_tcp


def read_message(port: serial.SerialBase, kind: type, timeout: float = 2.0):
    """The next message of `kind` (skipping others), or fail after `timeout`."""
    decoder = p.DeviceDecoder()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in decoder.feed(port.readline()):
            if isinstance(message, kind):
                return message
    raise AssertionError(f"no {kind.__name__} within {timeout} s")


def lines_within(port: serial.SerialBase, seconds: float) -> list:
    decoder = p.DeviceDecoder()
    out: list = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out.extend(decoder.feed(port.read(4096)))
    return out


class Served:
    """A serve function running in a thread until `stop`."""

    def __init__(self, target, *args, **kwargs) -> None:
        self.stop = threading.Event()
        self.ready: queue.Queue = queue.Queue()
        self.result: list = []
        self.thread = threading.Thread(
            target=lambda: self.result.append(target(*args, stop=self.stop, **kwargs)),
            daemon=True)

    def start(self):
        self.thread.start()
        return self.ready.get(timeout=5)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


@pytest.fixture
def pty_path() -> Iterator[tuple[str, Served]]:
    served = Served(serve_pty, "sim://?seed=1", on_ready=lambda path: served.ready.put(path))
    path = served.start()
    yield path, served
    served.close()


@pytest.fixture
def tcp_port() -> Iterator[tuple[str, int, Served]]:
    served = Served(serve_tcp, "sim://?seed=1",
                    on_ready=lambda host, port: served.ready.put((host, port)))
    host, port = served.start()
    yield host, port, served
    served.close()


def test_pty_status_and_estop(pty_path: tuple[str, Served]) -> None:
    path, served = pty_path
    with serial.Serial(path, 115200, timeout=0.5) as port:
        assert isinstance(read_message(port, p.Banner), p.Banner)
        port.write(b"?")
        status = [m for m in lines_within(port, 0.3) if isinstance(m, p.StatusReport)]
        assert len(status) == 1 and status[0].state == "Idle"
        port.write(b"!")
        fault = read_message(port, p.FaultReport)
        assert fault.code is p.FaultCode.ESTOP
        port.write(b"?")
        assert read_message(port, p.StatusReport).state == "Estop"
    served.close()
    assert served.result == [path]


def test_pty_device_keeps_time_while_nobody_talks(pty_path: tuple[str, Served]) -> None:
    path, _ = pty_path
    with serial.Serial(path, 115200, timeout=0.5) as port:
        port.write(b"?")
        first = read_message(port, p.StatusReport)
        time.sleep(0.3)
        port.write(b"?")
        second = read_message(port, p.StatusReport)
    assert second.t - first.t >= 0.29


def test_tcp_binds_loopback_and_answers(tcp_port: tuple[str, int, Served]) -> None:
    host, port_number, _ = tcp_port
    assert host == "127.0.0.1"
    with serial.serial_for_url(f"socket://127.0.0.1:{port_number}", timeout=0.5) as port:
        port.write(b"INFO\n")
        assert isinstance(read_message(port, p.Banner), p.Banner)
        port.write(b"?")
        assert read_message(port, p.StatusReport).state == "Idle"


def test_tcp_client_leaving_trips_the_deadman(tcp_port: tuple[str, int, Served]) -> None:
    _, port_number, _ = tcp_port
    url = f"socket://127.0.0.1:{port_number}"
    with serial.serial_for_url(url, timeout=0.5) as port:
        port.write(p.encode_command(p.Sync(), 1) + p.encode_command(p.SetFoot(2, 2000), 2))
        read_message(port, p.Ok)
        assert isinstance(read_message(port, p.Ok), p.Ok)
        port.write(b"?")
        assert read_message(port, p.StatusReport).state == "Run"
    time.sleep(0.7)  # nobody connected: the device still runs and its dead-man trips
    with serial.serial_for_url(url, timeout=0.5) as port:
        port.write(b"?")
        status = read_message(port, p.StatusReport)
    assert status.state == "Fault" and p.FaultCode.DEADMAN in status.faults
    assert status.foot == 0


def test_serve_does_not_import_sim() -> None:
    code = ("import sys, chair.serve; "
            "assert not [m for m in sys.modules if m == 'sim' or m.startswith('sim.')]")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(_repo_root()))


def _repo_root():
    from pathlib import Path

    return Path(__file__).resolve().parents[1]
