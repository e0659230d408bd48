"""The line splitters: byte streams cut into lines and real-time bytes, then decoded
(see chair/protocol.py)."""

from __future__ import annotations

import re

from chair.protocol_host import RealTime, parse_host_line
from chair.protocol_parse import parse_device_line
from chair.protocol_wire import (
    ESTOP_BYTE,
    MAX_DEVICE_LINE,
    MAX_HOST_LINE,
    PROTOCOL_VERSION,
    PROTOCOL_VERSIONS,
    STATUS_BYTE,
    TYPED_ESTOP_BYTE,
    BadLine,
    ErrorCode,
)


class _LineSplitter:
    """Cuts a byte stream into lines of at most `max_line` bytes; CR, LF or CRLF end a line.

    Holds at most one line. An over-long line is dropped up to its end and reported once.
    Bytes in `realtime` are pulled out wherever they stand and reported at once.
    """

    def __init__(self, max_line: int, realtime: bytes = b"") -> None:
        self._max = max_line
        self._buf = bytearray()
        self._overflow = False
        self._realtime(realtime)

    def _realtime(self, realtime: bytes) -> None:
        """Make the bytes of `realtime` the ones pulled out of the stream from now on."""
        self._split = re.compile(b"[\r\n" + re.escape(realtime) + b"]")
        self._odd = re.compile(b"[\r" + re.escape(realtime) + b"]")  # all but LF

    def feed(self, data: bytes) -> list:
        if type(data) is not bytes:
            data = bytes(data)
        if (data[-1:] == b"\n" and not self._buf and not self._overflow
                and self._odd.search(data) is None):
            return self._lines(data)
        events: list = []
        pos = 0
        for match in self._split.finditer(data):
            start = match.start()
            byte = data[start]
            if byte == 0x0A or byte == 0x0D:
                if self._buf or self._overflow:
                    self._take(data[pos:start])
                    event = self._end_line()
                elif start == pos:
                    event = None  # an empty line (or the LF of a CRLF)
                elif start - pos > self._max:
                    event = self._too_long()
                else:  # a whole line inside this chunk: parse it without buffering
                    event = self.parse(data[pos:start])
                if event is not None:
                    events.append(event)
            else:
                self._take(data[pos:start])
                events.append(RealTime(byte))
            pos = start + 1
        if pos < len(data):
            self._take(data[pos:])
        return events

    def _lines(self, data: bytes) -> list:
        """`feed` for the usual chunk: whole LF-ended lines, nothing held, nothing odd."""
        events = []
        parse, most = self.parse, self._max
        for line in data.split(b"\n")[:-1]:
            if not line:
                continue
            event = parse(line) if len(line) <= most else self._too_long()
            if event is not None:
                events.append(event)
        return events

    def _too_long(self) -> BadLine:
        return BadLine(ErrorCode.LINE_TOO_LONG, f"line longer than {self._max} bytes")

    def _take(self, chunk: bytes) -> None:
        if self._overflow or not chunk:
            return
        if len(self._buf) + len(chunk) > self._max:
            self._overflow = True
            self._buf.clear()
        else:
            self._buf += chunk

    def _end_line(self):
        if self._overflow:
            self._overflow = False
            return self._too_long()
        if not self._buf:
            return None
        line = bytes(self._buf)
        self._buf.clear()
        return self.parse(line)

    def parse(self, line: bytes):
        raise NotImplementedError


class HostDecoder(_LineSplitter):
    """The device's decoder: host bytes in, `Frame`, `RealTime` and `BadLine` events out.

    `proto` is the version the device speaks. Protocol 1: ``?`` and ``!`` are real-time
    bytes. Protocol 2: ``?`` and `ESTOP_BYTE` always are; ``!`` is one too (a person typing
    the stop) except while `session` is set, when it is an ordinary byte of a line, so that
    noise on a host's lines cannot stop the chair. The device sets `session` before each
    feed (docs/protocol.md §10.1).
    """

    def __init__(self, proto: int = PROTOCOL_VERSION) -> None:
        if proto not in PROTOCOL_VERSIONS:
            raise ValueError(f"protocol {proto}: this codec speaks {PROTOCOL_VERSIONS}")
        self.proto = proto
        self._session = False
        super().__init__(MAX_HOST_LINE, _REALTIME[proto, False])

    @property
    def session(self) -> bool:
        """True while a host session is live: ``!`` is then line data (protocol 2)."""
        return self._session

    @session.setter
    def session(self, live: bool) -> None:
        if live != self._session:
            self._session = live
            self._realtime(_REALTIME[self.proto, live])

    parse = staticmethod(parse_host_line)


#: The real-time bytes by (protocol, host session live).
_REALTIME = {
    (1, False): bytes([STATUS_BYTE, TYPED_ESTOP_BYTE]),
    (1, True): bytes([STATUS_BYTE, TYPED_ESTOP_BYTE]),
    (2, False): bytes([STATUS_BYTE, ESTOP_BYTE, TYPED_ESTOP_BYTE]),
    (2, True): bytes([STATUS_BYTE, ESTOP_BYTE]),
}


class DeviceDecoder(_LineSplitter):
    """The host's decoder: device bytes in, `DeviceMessage` and `BadLine` events out."""

    def __init__(self) -> None:
        super().__init__(MAX_DEVICE_LINE)

    parse = staticmethod(parse_device_line)
