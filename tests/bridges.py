"""Home-made bridges with one mistake each, for tests: a port between the host and the
simulated chair that rewrites what a bridge written from the docs alone might get wrong
(its banner, its limits table, its status lines, what it does with a command), with valid
CRCs, so only the meaning is wrong. Everything else passes through."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from chair import protocol as p

Table = list[tuple[str, float]]


class Bridge:
    """`inner` (an open sim:// port) seen through a bridge: `banner(b)`, `table(entries)`,
    `status(s)` rewrite the device's messages; `command(cmd)` rewrites a host command
    (the rewritten one keeps the line's seq)."""

    def __init__(self, inner, *, banner: Callable | None = None,
                 table: Callable[[Table], Table] | None = None,
                 status: Callable | None = None, command: Callable | None = None) -> None:
        self.inner = inner
        self._banner, self._table, self._status = banner, table, status
        self._command = command
        self._decoder = p.DeviceDecoder()
        self._rx = bytearray()
        self._lines: list[p.LimitLine] = []
        device = [(e[0], float(e[1])) for e in inner.device.chair["limits"]]
        self.entries = table(device) if table else device
        self.crc = p.table_crc(self.entries)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    # ---- device to host

    def _rewrite(self, message) -> list:
        if isinstance(message, p.Banner):
            banner = dataclasses.replace(message, limits_crc=self.crc)
            return [self._banner(banner) if self._banner else banner]
        if isinstance(message, p.LimitLine) and self._table:
            self._lines.append(message)
            return []
        if isinstance(message, p.Ok) and message.table is not None and self._table:
            self._lines = []  # a LIMITS answer, tagged or not: the bridge's own table
            return [*(p.LimitLine(n, v) for n, v in self.entries),
                    p.Ok(message.seq, f"crc={self.crc:04X} n={len(self.entries)}")]
        if isinstance(message, p.StatusReport) and self._status:
            return [self._status(message)]
        return [message]

    @property
    def in_waiting(self) -> int:
        waiting = self.inner.in_waiting
        if waiting:
            for message in self._decoder.feed(self.inner.read(waiting)):
                if not isinstance(message, p.BadLine):
                    self._rx += b"".join(p.encode_device(m) for m in self._rewrite(message))
        return len(self._rx)

    def read(self, size: int = 1) -> bytes:
        self.in_waiting  # noqa: B018 - pulls what arrived
        data = bytes(self._rx[:size])
        del self._rx[:size]
        return data

    def wait_for_input(self, deadline: float) -> None:
        if not self._rx:
            self.inner.wait_for_input(deadline)

    def reset_input_buffer(self) -> None:
        self.inner.reset_input_buffer()
        self._rx.clear()
        self._decoder = p.DeviceDecoder()

    # ---- host to device

    def write(self, data: bytes) -> int:
        if self._command and data.endswith(b"\n"):
            lines = []
            for line in data.split(b"\n")[:-1]:
                frame = p.parse_host_line(line)
                if isinstance(frame, p.Frame) and frame.crc:
                    command = self._command(frame.command)
                    if command is not frame.command:
                        line = p.encode_command(command, frame.seq).rstrip(b"\n")
                lines.append(line + b"\n")
            data = b"".join(lines)
        self.inner.write(data)
        return len(data)


def status_with(s: p.StatusReport, **fields) -> p.StatusReport:
    """`s` with `fields` changed."""
    return dataclasses.replace(s, **fields)
