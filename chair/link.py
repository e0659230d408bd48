"""The host end of the wire: owns one pyserial port, numbers and resends commands.

Commands go out with a sequence number and a CRC, at most `window` unanswered at a time.
A gap error (`E05 ... expect=N`) or a reply that does not come within `ack_timeout_s` makes
the link resend from the oldest unanswered line (go-back-N); the device answers duplicates
from memory, so nothing is executed twice. Pushed messages are handed up by `poll`.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

import serial

from chair import protocol as p
from chair.clock import Clock
from chair.errors import LinkError
from chair.limits import Limit, table_crc


@dataclass(frozen=True)
class Refused:
    """The device executed our command and refused it (its reply was an error)."""

    command: p.Command
    error: p.Error


@dataclass
class _Pending:
    seq: int
    command: p.Command
    frame: bytes
    sent_at: float
    tries: int = 0


@dataclass(frozen=True)
class DeviceInfo:
    """What the connect handshake learned: the banner and the verified limits table."""

    banner: p.Banner
    limits: dict[str, float]


READ_CHUNK = 4096
#: Tagged refusals our own well-formed lines can only earn when damaged on the way: resend.
GARBLED = frozenset({p.ErrorCode.NEED_CRC, p.ErrorCode.BAD_ARGS, p.ErrorCode.UNKNOWN_COMMAND})
#: Untagged refusals of a line the device could not read at all: resend what is unanswered.
DAMAGED = frozenset({p.ErrorCode.BAD_CRC, p.ErrorCode.BAD_BYTE, p.ErrorCode.LINE_TOO_LONG})
MAX_TRIES = 5
REPORT_MS = 100
_EXPECT = re.compile(r"expect=(\d+)")


class Link:
    """Sequenced, checked, resent commands over any pyserial port."""

    def __init__(self, port: serial.SerialBase, clock: Clock, *, window: int = 8,
                 ack_timeout_s: float = 0.3, first_seq: int = 1) -> None:
        self.port = port
        self.clock = clock
        self.window = window
        self.ack_timeout_s = ack_timeout_s
        self._decoder = p.DeviceDecoder()
        self._next_seq = first_seq
        self._queue: deque[p.Command] = deque()
        self._pending: deque[_Pending] = deque()
        self.last_rx = clock.now()
        self.bytes_out = 0
        self.bytes_in = 0
        self.bad_lines = 0
        self.resends = 0
        # A port on this very (virtual) clock that can move time on to its next byte: the
        # simulated chair can, so fast-forward sleeps from event to event (see `wait`).
        waiter = getattr(port, "wait_for_input", None)
        self._waiter = waiter if getattr(port, "clock", None) is clock else None
        self._held: list[p.DeviceMessage | Refused] = []  # read by `wait`, for `poll`
        self.proto: int | None = None  # the device's protocol version, from its banner

    # ------------------------------------------------------------------ sending

    def send(self, command: p.Command) -> None:
        """Queue a control or actuate command; it goes out as the window allows."""
        self._queue.append(command)
        self._transmit()

    def estop(self) -> None:
        """The emergency-stop byte of the device's protocol, ahead of everything queued.

        Before the banner has told the version, both: protocol 2's byte and ``!``."""
        if self.proto is None:
            self._write(bytes([p.ESTOP_BYTE, p.TYPED_ESTOP_BYTE]))
        else:
            self._write(bytes([p.estop_byte(self.proto)]))

    def request_status(self) -> None:
        """The real-time status byte: the device answers with one status line."""
        self._write(bytes([p.STATUS_BYTE]))

    @property
    def idle(self) -> bool:
        """True when every command sent has been answered."""
        return not self._queue and not self._pending

    def _transmit(self) -> None:
        while self._queue and len(self._pending) < self.window:
            command = self._queue.popleft()
            seq = self._next_seq
            self._next_seq = p.seq_after(seq)
            pending = _Pending(seq, command, p.encode_command(command, seq), self.clock.now())
            self._pending.append(pending)
            self._write(pending.frame)

    def _resend_from(self, seq: int | None) -> None:
        """Go back N: resend every unanswered line from `seq` (or the oldest)."""
        now = self.clock.now()
        for pending in self._pending:
            if seq is None or p.seq_distance(pending.seq, seq) >= 0:
                pending.sent_at = now
                pending.tries += 1
                self.resends += 1
                self._write(pending.frame)

    def _write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"writing to {self.port.port}: {exc}; check the cable and the "
                            "port, then run again") from exc
        self.bytes_out += len(data)

    # ------------------------------------------------------------------ waiting

    @property
    def can_wait(self) -> bool:
        """True when `wait` can end early because the port has something to read."""
        return self._waiter is not None

    def wait(self, deadline: float) -> None:
        """Sleep until `deadline`, or (when `can_wait`) until a message arrives before it.

        Replies to our own lines are settled on the way and do not end the wait: only what
        `poll` would hand up does (it is held for the next `poll`)."""
        waiter = self._waiter
        if waiter is None:
            self.clock.sleep_until(deadline)
            return
        while not self._held:
            waiter(deadline)
            if self.clock.now() >= deadline:
                return
            self._held = self.poll()

    def next_due(self) -> float:
        """When `poll` must run to resend an unanswered line if no reply comes (or `inf`)."""
        if self._pending:
            return self._pending[0].sent_at + self.ack_timeout_s
        return float("inf")

    # ------------------------------------------------------------------ receiving

    def poll(self) -> list[p.DeviceMessage | Refused]:
        """Read what has arrived; settle replies; return pushed messages and refusals."""
        if self._held:  # `wait` read the port at this very moment: hand up what it found
            events, self._held = self._held, []
            return events
        try:
            # read a whole chunk: socket:// reports in_waiting as 0 or 1, not a byte count
            data = self.port.read(READ_CHUNK) if self.port.in_waiting else b""
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"reading from {self.port.port}: {exc}; the port vanished or "
                            "was unplugged") from exc
        events: list[p.DeviceMessage | Refused] = []
        if data:
            self.bytes_in += len(data)
            for message in self._decoder.feed(data):
                events.extend(self._settle(message))
        if self._pending and self.clock.now() - self._pending[0].sent_at > self.ack_timeout_s:
            self._resend_from(None)
        self._transmit()
        return events

    def _settle(self, message: p.DeviceMessage | p.BadLine) -> list:
        if type(message) is p.StatusReport:  # the common case, ten a second
            self.last_rx = self.clock.now()
            return [message]
        if isinstance(message, p.BadLine):
            self.bad_lines += 1
            return []
        self.last_rx = self.clock.now()
        if isinstance(message, p.Ok) and message.seq is not None:
            self._drop(message.seq)
            return []
        if isinstance(message, p.Error) and message.seq is not None:
            if message.code is p.ErrorCode.SEQ_GAP:
                match = _EXPECT.search(message.detail)
                self._resend_from(int(match.group(1)) if match else None)
                return []
            pending = self._find(message.seq)
            if pending is None:
                return []
            if message.code in GARBLED and pending.tries < MAX_TRIES:
                self._resend_from(message.seq)  # we never send such a line: it was damaged
                return []
            self._pending.remove(pending)
            return [Refused(pending.command, message)]
        if isinstance(message, p.Error) and message.code in DAMAGED:
            self._resend_from(None)
            return []
        return [message]

    def _find(self, seq: int) -> _Pending | None:
        for pending in self._pending:
            if pending.seq == seq:
                return pending
        return None

    def _drop(self, seq: int) -> None:
        pending = self._find(seq)
        if pending is not None:
            self._pending.remove(pending)

    # ------------------------------------------------------------------ handshake

    def _exchange(self, line: bytes, timeout_s: float, what: str) -> list:
        """Send one unsequenced query; collect what arrives up to its (untagged) reply."""
        self._write(line)
        deadline = self.clock.now() + timeout_s
        seen: list = []
        while self.clock.now() < deadline:
            for message in self.poll():
                seen.append(message)
                if isinstance(message, p.Error) and message.seq is None:
                    raise LinkError(f"device refused {what}: {message.code.wire} "
                                    f"{message.detail}")
                if isinstance(message, p.Ok) and message.seq is None:
                    return seen
            self.clock.sleep_until(self.clock.now() + 0.01)
        raise _Garbled(f"no answer to {what} from {self.port.port} within {timeout_s:g} s: "
                       "is a chair (or `chair sim`) on that port, at the right baud rate?")

    def connect(self, timeout_s: float = 3.0, attempts: int = 3) -> DeviceInfo:
        """Check the banner, the protocol version and the limits table; start a session.

        A handshake garbled on the way (lines lost or damaged) is tried again, up to
        `attempts` times within `timeout_s`; a table that arrives whole but fails its CRC
        is corrupt, and that is final.
        """
        self.port.reset_input_buffer()
        self._decoder = p.DeviceDecoder()
        self._held = []
        problem = ""
        for _ in range(attempts):
            try:
                info = self._handshake(timeout_s / attempts)
                break
            except _Garbled as exc:
                problem = str(exc)
        else:
            raise LinkError(f"{problem}; gave up after {attempts} attempts: check the cable, "
                            "the baud rate and that a chair is on that port")
        self.send(p.Sync())  # SYNC first and alone: a resent SYNC would renumber what follows
        self._until_answered(timeout_s, "SYNC")
        self.send(p.SetReport(REPORT_MS))
        return info

    def _handshake(self, timeout_s: float) -> DeviceInfo:
        seen = self._exchange(p.encode_command(p.QueryInfo()), timeout_s, "INFO")
        banners = [m for m in seen if isinstance(m, p.Banner)]
        if not banners:
            raise _Garbled(f"{self.port.port} answered INFO without a banner")
        banner = banners[-1]
        if banner.proto not in p.PROTOCOL_VERSIONS:
            raise LinkError(f"device speaks protocol {banner.proto}, this host speaks "
                            f"{' and '.join(map(str, p.PROTOCOL_VERSIONS))}: update the "
                            "firmware or the host")
        self.proto = banner.proto  # which emergency-stop byte `estop` sends
        seen = self._exchange(p.encode_command(p.QueryLimits()), timeout_s, "LIMITS")
        lines = [m for m in seen if isinstance(m, p.LimitLine)]
        claimed = dict(pair.split("=", 1) for pair in seen[-1].data.split() if "=" in pair)
        if claimed.get("n") != str(len(lines)):
            raise _Garbled(f"device sent {len(lines)} limits lines but its reply claims "
                           f"{seen[-1].data!r}: lines were lost")
        crc = table_crc([Limit(m.name, m.value, "", "", "") for m in lines])
        if crc != banner.limits_crc or claimed.get("crc") != f"{crc:04X}":
            raise LinkError(f"device limits table CRC {crc:04X} does not match its banner's "
                            f"{banner.limits_crc:04X}: the table is corrupt; do not use it")
        return DeviceInfo(banner, {m.name: m.value for m in lines})

    def _until_answered(self, timeout_s: float, what: str) -> None:
        """Poll until every line sent has its reply (resending as needed)."""
        deadline = self.clock.now() + timeout_s
        while not self.idle:
            if self.clock.now() >= deadline:
                raise LinkError(f"no answer to {what} from {self.port.port} within "
                                f"{timeout_s:g} s")
            for message in self.poll():
                if isinstance(message, Refused):
                    raise LinkError(f"device refused {what}: {message.error.code.wire} "
                                    f"{message.error.detail}")
            self.clock.sleep_until(self.clock.now() + 0.01)


class _Garbled(Exception):
    """A handshake answer that lost or damaged lines on the way: worth another try."""
