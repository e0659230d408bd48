"""Helpers for the tests of the real host (chair.service.host) on the simulated chair."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from chair.service.api import ServeOptions
from chair.service.host import ChairHost

#: The simulated chair runs this many times faster than real time in these tests.
SPEED = 20.0


def make_host(data_dir: Path, port: str = "sim://", speed: float = SPEED) -> ChairHost:
    host = ChairHost(ServeOptions(port=port, speed=speed, data_dir=data_dir))
    host.open()
    return host


def sim_port(host: ChairHost):
    """The simulated chair's own pyserial port (its `.device`, `.clock`): plant truth."""
    return host._port._port


def read_on(port):
    """Read the simulated port (which runs its device up to now): its device."""
    port.read(4096)
    return port.device


def wait_for(condition: Callable[[], object], timeout: float = 20.0, what: str = "") -> object:
    """Poll `condition` (real time) until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.02)


def state_is(host: ChairHost, *states: str) -> Callable[[], bool]:
    return lambda: host.status()["state"] in states


def at_rest(plant) -> bool:
    """The plant's truth: nothing driven, pumped or heated."""
    return (plant.carriage_drive == 0 and plant.technique == "off" and not plant.pump_running
            and not plant.heaters_powered.any() and plant.foot_speed == 0)


def vented(plant, kpa: float = 1.0) -> bool:
    return bool((plant.bag_kpa < kpa).all())


class Recorder:
    """A subscriber that keeps every snapshot (with the real time it came)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.got: list[tuple[float, dict]] = []

    def __call__(self, snapshot: dict) -> None:
        with self.lock:
            self.got.append((time.monotonic(), snapshot))

    def states(self) -> list[str]:
        with self.lock:
            return [s["state"] for _, s in self.got]
