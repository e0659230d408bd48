"""The host end of the wire: owns one pyserial port, numbers and resends commands.

Commands go out with a sequence number and a CRC, at most `window` unanswered at a time.
A gap error (`E05 ... expect=N`) or a reply that does not come within `ack_timeout_s` makes
the link resend from the oldest unanswered line (go-back-N); the device answers duplicates
from memory, so nothing is executed twice. Pushed messages are handed up by `poll`.

Resends are bounded three ways: a line is resent at most `MAX_TRIES` times (then the link
has failed: `LinkError`); later `E05`s naming a number already resent are answers to lines
sent before the resend and are not acted on (docs/protocol.md section 2.2); and all resends
together stay within `RESEND_SHARE` of the line's bytes per second (`ResendBudget`). An
`E05` naming a number that is not in flight (never sent, already answered, or given up) is
a desync: nothing the host can resend helps, so it is a `LinkError`, not a resend.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import serial

from chair import protocol as p
from chair.clock import Clock, ProgressGuard
from chair.errors import LinkError
from chair.handshake import GARBLED, identify
from chair.handshake import DeviceInfo as DeviceInfo  # importable from here, as before
from chair.ports import DEFAULT_BAUD, PORT_ERRORS, baud_of
from chair.resend import RESEND_BACKOFF_MAX as RESEND_BACKOFF_MAX
from chair.resend import RESEND_SHARE as RESEND_SHARE
from chair.resend import ResendBudget as ResendBudget


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


READ_CHUNK = 4096
#: Untagged refusals of a line the device could not read at all: resend what is unanswered.
DAMAGED = frozenset({p.ErrorCode.BAD_CRC, p.ErrorCode.BAD_BYTE, p.ErrorCode.LINE_TOO_LONG})
#: Resends of one line before the link gives up on it (a refused-as-damaged line is then
#: handed up as refused; one that is never answered is a LinkError).
MAX_TRIES = 5
REPORT_MS = 100  # the host's report period, within p.REPORT_MIN_MS .. p.REPORT_MAX_MS


class Link:
    """Sequenced, checked, resent commands over any pyserial port."""

    def __init__(self, port: serial.SerialBase, clock: Clock, *, window: int = 8,
                 ack_timeout_s: float = 0.3, first_seq: int = 1) -> None:
        if not 1 <= window <= p.REPLY_MEMORY:  # a resent line must still be remembered
            raise ValueError(f"window {window} not in 1..{p.REPLY_MEMORY}")
        self.port = port
        self.clock = clock
        self.window = window
        self.ack_timeout_s = ack_timeout_s
        self._decoder = p.DeviceDecoder()
        self._next_seq = first_seq
        self._queue: deque[p.Command] = deque()
        self._pending: deque[_Pending] = deque()
        self.last_rx = clock.now()  # the last line the host could read, of any kind
        #: The last readable status report: the host's link timeout (safety.md rule 1) runs
        #: from it, as replies to our own lines say nothing about the chair.
        self.last_report = clock.now()
        #: Our SYNC has been answered: a gap error (E05) from now on is about our lines;
        #: one before it is the tail of an earlier session (another client, a TCP server's
        #: backlog) and says nothing about ours. A link made without `connect` (tests, a
        #: session set up by hand) counts as synced.
        self._synced = True
        self.bytes_out = 0
        self.bytes_in = 0
        self.bad_lines = 0
        self.resends = 0
        self.damaged = 0  # untagged E01/E09/E13: a line of ours arrived damaged
        self._gave_up: deque[int] = deque(maxlen=window)  # refused-as-damaged, not resent
        baud = getattr(port, "baudrate", None)
        line_bps = (baud if isinstance(baud, int) and baud > 0 else DEFAULT_BAUD) / 10
        self.resend_budget = ResendBudget(RESEND_SHARE * line_bps,
                                          window * (p.MAX_HOST_LINE + 1), clock.now())
        #: Stops a fast-forward wait that makes no progress in simulated time (see `wait`).
        self.progress = ProgressGuard(clock)
        # A port on this very virtual clock that can move time on to its next byte: the
        # simulated chair can, so fast-forward sleeps from event to event (see `wait`). A
        # real (or scaled) clock keeps its fixed ticks, even one the port shares.
        waiter = getattr(port, "wait_for_input", None)
        shared = getattr(port, "clock", None) is clock and getattr(clock, "virtual", False)
        self._waiter = waiter if shared else None
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
        """Go back N: resend every unanswered line from `seq` (or the oldest), if the resend
        budget allows (if not, the reply timeout tries again once it does).

        Raises LinkError when one of them has been resent `MAX_TRIES` times already."""
        lines = [q for q in self._pending if seq is None or p.seq_distance(q.seq, seq) >= 0]
        for pending in lines:
            if pending.tries >= MAX_TRIES:
                self._end_session()
                raise LinkError(
                    f"line {pending.seq} ({pending.command.VERB}) still unanswered after "
                    f"{MAX_TRIES} resends to {self.port.port}: the device no longer hears "
                    "this host or its replies are lost; check the cable and the baud rate "
                    f"({baud_of(self.port) or 'the port default'} tried)")
        now = self.clock.now()
        if not lines or not self.resend_budget.take(sum(len(q.frame) for q in lines), now):
            return
        for pending in lines:
            pending.sent_at = now
            pending.tries += 1
            self.resends += 1
            self._write(pending.frame)

    def _end_session(self) -> None:
        """The link has failed: drop what is unsent and unanswered (nothing more is resent;
        `connect` starts a new session)."""
        self._queue.clear()
        self._pending.clear()

    def _patience(self, pending: _Pending) -> float:
        """How long `pending` waits for its reply before it is resent (backing off)."""
        return self.ack_timeout_s * min(2 ** pending.tries, RESEND_BACKOFF_MAX)

    def write_query(self, query: p.Command, *, flush: bool = False) -> None:
        """An unsequenced query line (INFO, LIMITS); `flush` puts an LF before it."""
        self._write((b"\n" if flush else b"") + p.encode_command(query))

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
        `poll` would hand up does (it is held for the next `poll`).

        Every turn counts on `progress`: a wait that keeps turning without the virtual clock
        moving (a port that wakes it for ever at one instant) raises `chair.errors.Stalled`.
        """
        waiter = self._waiter
        if waiter is None:
            self.clock.sleep_until(deadline)
            return
        while True:
            self.progress.turn(self._waiting, deadline)
            if self._held:
                return
            waiter(deadline)
            if self.clock.now() >= deadline:
                return
            self._held = self.poll()

    def _waiting(self, deadline: float) -> str:
        """What the link was doing, for the no-progress error."""
        what = f"the link was waiting for the device until t={deadline:.3f} s"
        if self._pending:
            oldest = self._pending[0]
            what += (f", {len(self._pending)} lines unanswered (oldest {oldest.seq} "
                     f"{oldest.command.VERB}, sent at t={oldest.sent_at:.3f} s, "
                     f"{oldest.tries} resends)")
        return f"{what}, {len(self._queue)} queued, {self.resends} resends in all"

    def next_due(self) -> float:
        """When `poll` must run to resend an unanswered line if no reply comes (or `inf`)."""
        if self._pending:
            oldest = self._pending[0]
            size = sum(len(q.frame) for q in self._pending)
            return max(oldest.sent_at + self._patience(oldest),
                       self.resend_budget.ready_at(size, self.clock.now()))
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
        if self._pending:
            oldest = self._pending[0]
            if self.clock.now() - oldest.sent_at > self._patience(oldest):
                self._resend_from(None)
        self._transmit()
        return events

    def _settle(self, message: p.DeviceMessage | p.BadLine) -> list:
        if type(message) is p.StatusReport:  # the common case, ten a second
            self.last_rx = self.last_report = self.clock.now()
            return [message]
        if isinstance(message, p.BadLine):
            self.bad_lines += 1
            return []
        self.last_rx = self.clock.now()
        if isinstance(message, p.Ok) and message.seq is not None:
            answered = self._find(message.seq)
            if answered is not None and isinstance(answered.command, p.Sync):
                self._synced = True  # what the device says from now on is about our lines
            self._drop(message.seq)
            return []
        if isinstance(message, p.Error) and message.seq is not None:
            if message.code is p.ErrorCode.SEQ_GAP:
                self._gap(message)
                return []
            pending = self._find(message.seq)
            if pending is None:
                return []
            if message.code in GARBLED and pending.tries < MAX_TRIES:
                self._resend_from(message.seq)  # we never send such a line: it was damaged
                return []
            self._pending.remove(pending)
            if message.code in GARBLED:
                self._gave_up.append(pending.seq)
            return [Refused(pending.command, message)]
        if isinstance(message, p.Error) and message.code in DAMAGED:
            self.damaged += 1
            self._resend_from(None)
            return []
        return [message]

    def _gap(self, error: p.Error) -> None:
        """`E05 expect=N`: resend from N the first time; a desync if N is not in flight."""
        expect = error.expect
        if expect is None:  # not what the protocol says: go back to the oldest, once
            if self._pending and self._pending[0].tries == 0:
                self._resend_from(None)
            return
        if not self._synced:  # said before our SYNC renumbered the device: not about us
            return
        pending = self._find(expect)
        if pending is None:
            why = self._desync(expect)
            self._end_session()
            raise LinkError(why)
        if pending.tries == 0:  # later E05s naming it answer lines sent before the resend
            self._resend_from(expect)

    def _desync(self, expect: int) -> str:
        if expect in self._gave_up:
            why = f"which this host gave up after {MAX_TRIES} resends refused as damaged"
        elif p.seq_distance(expect, self._pending[0].seq if self._pending
                            else self._next_seq) < 0:
            why = "which it has answered already"
        else:
            why = "which this host never sent"
        return (f"link out of step with the device on {self.port.port}: the device expects "
                f"line {expect}, {why}, so no resend can help. Another program may have "
                "written to the port (a SYNC) or the device was re-synced; close other "
                "programs using the port, then run again")

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

    def connect(self, timeout_s: float = 3.0,
                accept: Callable[[DeviceInfo], None] | None = None) -> DeviceInfo:
        """Check the banner, the protocol version and the limits table; start a session.

        `accept` is shown what the device said before the session starts (before SYNC):
        it raises to refuse the chair (chair.controller: a table lacking a cap), and
        nothing is sent after that.

        Each step (INFO, LIMITS, SYNC, REPORT) is tried again until answered, within
        `timeout_s` in all: queries with a growing wait for their answer (`handshake.ask`),
        SYNC and REPORT by the link's resends with their backoff. A limits table is put
        together from the lines of every answer (`chair.handshake.LimitsTable`); one that
        arrives whole but fails its CRC is corrupt, and that is final. A new session: lines
        still unanswered from an earlier one are dropped (SYNC renumbers, stops everything).
        """
        deadline = self.clock.now() + timeout_s
        info = self._identify(deadline)
        if accept is not None:
            accept(info)
        self.send(p.Sync())  # SYNC first and alone: a resent SYNC would renumber what follows
        self._until_answered(deadline, timeout_s, "SYNC")
        self.send(p.SetReport(REPORT_MS))
        self._until_answered(deadline, timeout_s, "REPORT")
        return info

    def identify(self, timeout_s: float = 3.0) -> DeviceInfo:
        """The device's banner and limits table (INFO, LIMITS), without starting a session
        (no SYNC, no REPORT): what `chair show --port` needs. Raises LinkError."""
        return self._identify(self.clock.now() + timeout_s)

    def _identify(self, deadline: float) -> DeviceInfo:
        try:
            self.port.reset_input_buffer()
        except PORT_ERRORS as exc:  # a tty that vanished raises termios.error here
            raise LinkError(f"cannot use {self.port.port}: {exc}; the port vanished or is "
                            "not a serial port") from exc
        self._decoder = p.DeviceDecoder()
        self._held = []
        self.last_report = self.clock.now()
        self._end_session()
        self._gave_up.clear()
        self._synced = False
        info = identify(self, deadline)
        self.proto = info.banner.proto  # which emergency-stop byte `estop` sends
        return info

    def _until_answered(self, deadline: float, timeout_s: float, what: str) -> None:
        """Poll until every line sent has its reply (resending as needed), or `deadline`."""
        while not self.idle:
            if self.clock.now() >= deadline:
                raise LinkError(f"no answer to {what} from {self.port.port} within "
                                f"{timeout_s:g} s")
            for message in self.poll():
                if isinstance(message, Refused):
                    raise LinkError(f"device refused {what}: {message.error.code.wire} "
                                    f"{message.error.detail}")
            self.clock.sleep_until(self.clock.now() + 0.01)

