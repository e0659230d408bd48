"""The checker's end of the wire: raw lines out, decoded device lines in, on one clock.

Framing is the host codec's (`chair.protocol`: `encode_command`, `DeviceDecoder`), the same
the link (`chair.link`) uses; the checker reads the port without blocking, keeps every line
the device sent in a log the checks search, and numbers its own lines so that it can also
send what a link never would (a gap, a duplicate, a damaged line). Errors: `CheckFailed`
(the device broke a rule), `CheckSkipped` (the check could not run), `chair.errors.LinkError`
(the port failed).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import serial

from chair import protocol as p
from chair.clock import Clock
from chair.conformance.rules import REPLY_S
from chair.errors import LinkError

EPS = 0.0011  # status `t` has 3 decimals: two readings differ by at most 1 ms of rounding
QUERY_TAGS = (50000, 60000)  # queries carry a tag (never sequenced) so replies match
READ_CHUNK = 4096  # a non-blocking read returns at most this much


class CheckFailed(Exception):
    """The device broke the rule: what was expected, what was seen, and what to fix."""

    def __init__(self, expected: str, seen: str, hint: str, figure: str = "") -> None:
        super().__init__(f"expected {expected}; saw {seen}")
        self.expected, self.seen, self.hint, self.figure = expected, seen, hint, figure


class CheckSkipped(Exception):
    """The check could not run; the reason says why (the run is then incomplete)."""




def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def is_status(m: object) -> bool:
    return isinstance(m, p.StatusReport)


class Wire:
    """The checker's end of the link: raw lines out, decoded device lines in, one clock."""

    def __init__(self, port: serial.SerialBase, clock: Clock) -> None:
        self.port = port
        self.clock = clock
        self.poll_s = 0.01 if getattr(clock, "virtual", False) else 0.005
        self._decoder = p.DeviceDecoder()
        self.log: list[p.DeviceMessage] = []
        self.bad_lines = 0  # device lines that failed their CRC or did not parse
        self.banners = 0
        self.banners_asked = 0  # answers to INFO; any other banner means a restart
        self.seq = 0
        self.tag = QUERY_TAGS[0]  # the last query tag used
        self.last_bad_sent = -math.inf  # when we last sent a damaged line (F03 window)

    def now(self) -> float:
        return self.clock.now()

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"writing to {self.port.port}: {exc}; the port vanished or was "
                            "unplugged") from exc

    def pump(self) -> None:
        """Read and decode whatever has arrived (never blocks)."""
        try:
            waiting = self.port.in_waiting  # socket:// only says 0 or 1: read what is there
            data = self.port.read(max(waiting, READ_CHUNK)) if waiting else b""
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"reading from {self.port.port}: {exc}; the port vanished or "
                            "was unplugged") from exc
        for message in self._decoder.feed(data) if data else ():
            if isinstance(message, p.BadLine):
                self.bad_lines += 1
                continue
            if isinstance(message, p.Banner):
                self.banners += 1
            self.log.append(message)

    def mark(self) -> int:
        """A position in the log: what arrives from now on comes after it."""
        self.pump()
        return len(self.log)

    def since(self, mark: int, kind: type | tuple = object) -> list:
        self.pump()
        return [m for m in self.log[mark:] if isinstance(m, kind)]

    def sleep(self, seconds: float) -> None:
        self.sleep_until(self.now() + seconds)

    def sleep_until(self, deadline: float) -> None:
        """Wait on the clock in poll steps, reading as we go."""
        while True:
            self.pump()
            now = self.now()
            if now >= deadline:
                return
            self.clock.sleep_until(min(now + self.poll_s, deadline))

    def wait(self, predicate: Callable[[object], bool], timeout_s: float,
             mark: int) -> p.DeviceMessage | None:
        """The first message after `mark` that satisfies `predicate`, or None in time."""
        deadline = self.now() + timeout_s
        i = mark
        while True:
            self.pump()
            while i < len(self.log):
                i += 1
                if predicate(self.log[i - 1]):
                    return self.log[i - 1]
            now = self.now()
            if now >= deadline:
                return None
            self.clock.sleep_until(min(now + self.poll_s, deadline))

    def next_seq(self) -> int:
        self.seq = p.seq_after(self.seq)
        return self.seq

    def next_tag(self) -> int:
        low, high = QUERY_TAGS
        self.tag = low + (self.tag + 1 - low) % (high - low)
        return self.tag

    def line(self, data: bytes, seq: int | None, *, loose: bool = False,
             timeout_s: float = REPLY_S) -> p.Ok | p.Error | None:
        """Send raw bytes; the reply tagged `seq` (an untagged error always counts)."""
        mark = self.mark()
        self.write(data)

        def answers(m: object) -> bool:
            if isinstance(m, p.Ok):
                return m.seq == seq or (loose and m.seq is None)
            return isinstance(m, p.Error) and (m.seq == seq or m.seq is None)

        return self.wait(answers, timeout_s, mark)  # type: ignore[return-value]

    def send(self, command: p.Command, *, seq: int | None = None, crc: bool = True,
             timeout_s: float = REPLY_S) -> p.Ok | p.Error:
        """One command (a fresh seq for control and actuate lines); its reply, or fail."""
        if seq is None and command.KIND in (p.Kind.CONTROL, p.Kind.ACTUATE):
            seq = self.next_seq()
        data = p.encode_command(command, seq, crc=crc)
        reply = self.line(data, seq, timeout_s=timeout_s)
        if reply is None:
            raise CheckFailed(f"a reply to {data.decode().strip()!r}", f"none within "
                              f"{ms(timeout_s)}", "the device stopped answering lines: "
                              "check that its main loop never blocks")
        return reply

    def query(self, command: p.Command, *, tag: bool = True, crc: bool = True,
              timeout_s: float = REPLY_S) -> tuple[list, p.Ok | p.Error]:
        """A query: the messages that came before its reply, and the reply."""
        seq = self.next_tag() if tag else None
        mark = self.mark()
        reply = self.line(p.encode_command(command, seq, crc=crc), seq, loose=not tag,
                          timeout_s=timeout_s)
        if reply is None:
            raise CheckFailed(f"a reply to {command.VERB}", f"none within {ms(timeout_s)}",
                              "queries are answered in every state: check the parser")
        before = self.log[mark:self.log.index(reply, mark)]
        return before, reply

    def status(self) -> p.StatusReport:
        """``STATUS`` with a CRC (it restarts the dead-man): the status line it returns."""
        before, reply = self.query(p.QueryStatus())
        statuses = [m for m in before if isinstance(m, p.StatusReport)]
        if not isinstance(reply, p.Ok) or not statuses:
            raise CheckFailed("a status line, then ok, in answer to STATUS",
                              text(reply) if statuses else "no status line",
                              "STATUS sends one <...> line, then ok <tag>")
        return statuses[-1]

    def keepalive(self) -> None:
        """A CRC'd STATUS without waiting for it: restarts the dead-man, renews nothing."""
        self.write(p.encode_command(p.QueryStatus(), self.next_tag()))


def text(message: object) -> str:
    if isinstance(message, p.Ok | p.Error | p.FaultReport | p.Banner | p.Info):
        return message.payload()
    return repr(message)

