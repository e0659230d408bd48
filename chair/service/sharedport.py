"""A port that two threads may use: the chair thread reads and writes it, and any thread
may write the emergency-stop byte between two of its I/O calls, at once.

Every read, write and input-buffer reset holds one lock, each for one I/O call only, so
an emergency stop waits at most for the I/O call in progress (never for a tick, a
handshake or a reset's answer). Everything else is the wrapped port's.
"""

from __future__ import annotations

import threading

import serial


class SharedPort:
    """`port` (a pyserial port, open) with its I/O calls serialised by `lock`."""

    def __init__(self, port: serial.SerialBase) -> None:
        self._port = port
        self.lock = threading.Lock()

    def write(self, data: bytes) -> int | None:
        with self.lock:
            return self._port.write(data)

    def read(self, size: int = 1) -> bytes:
        with self.lock:
            return self._port.read(size)

    @property
    def in_waiting(self) -> int:
        with self.lock:
            return self._port.in_waiting

    def reset_input_buffer(self) -> None:
        with self.lock:
            self._port.reset_input_buffer()

    def close(self) -> None:
        with self.lock:
            self._port.close()

    def __getattr__(self, name: str) -> object:
        return getattr(self._port, name)
