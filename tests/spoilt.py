"""A port wrapper for tests: rewrites one field of every status line, with a valid CRC."""

from __future__ import annotations

import re

from chair import protocol as p


class SpoiltStatus:
    """A port that rewrites one number of every status line to `text`, with a valid CRC:
    a bridge with a broken sensor driver (or a hostile one). Everything else passes."""

    def __init__(self, inner, field: str, index: int, text: str = "nan",
                 after_s: float = 0.0) -> None:
        self.inner, self.field, self.index, self.text = inner, field, index, text
        self.from_t = inner.clock.now() + after_s
        self._partial = b""
        self._rx = bytearray()
        self.spoilt = 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def _spoil(self, line: bytes) -> bytes:
        if not line.startswith(b"<") or self.inner.clock.now() < self.from_t:
            return line
        payload = line.rpartition(b"*")[0].decode()

        def one(match: re.Match) -> str:
            values = match.group(2).split(",")
            values[self.index] = self.text
            return match.group(1) + ",".join(values)

        payload = re.sub(rf"( {self.field}=)(\S*)", one, payload)
        self.spoilt += 1
        return payload.encode() + b"*%04X" % p.crc16(payload.encode())

    @property
    def in_waiting(self) -> int:
        waiting = self.inner.in_waiting
        if waiting:
            *lines, self._partial = (self._partial + self.inner.read(waiting)).split(b"\n")
            for line in lines:
                self._rx += self._spoil(line) + b"\n"
        return len(self._rx)

    def read(self, size: int = 1) -> bytes:
        self.in_waiting  # noqa: B018 - pulls what arrived
        data = bytes(self._rx[:size])
        del self._rx[:size]
        return data

    def reset_input_buffer(self) -> None:
        self.inner.reset_input_buffer()
        self._rx.clear()
        self._partial = b""
