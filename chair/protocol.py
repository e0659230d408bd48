"""The wire protocol: a sans-I/O codec used by both ends (docs/protocol.md is its contract).

Bytes go in, small frozen messages come out, and back. Nothing here reads a port or a
clock, and the decoders never raise on input: a bad line becomes a `BadLine` event.

Host to device: ``[seq ]VERB[ arg...][*CRC]`` lines, plus the real-time bytes that are acted
on wherever they appear: ``?`` (status) and the emergency stops, 0x9E in protocol 2 and the
``!`` a person types (protocol 1's only stop; see `HostDecoder`). Device to host: every
line ends in ``*CRC`` and its first character says what it is (``o``k, ``e``rror, ``<``
status, ``!`` fault, ``#`` banner, ``$`` limit, ``[`` info).
"""

from __future__ import annotations

import binascii
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from enum import Enum, IntEnum
from typing import ClassVar

PROTOCOL_VERSION = 2
#: Every version this codec speaks (docs/protocol.md, "Versions").
PROTOCOL_VERSIONS = (1, 2)
CRC_INIT = 0xFFFF
SEQ_MOD = 1 << 16
MAX_HOST_LINE = 96
MAX_DEVICE_LINE = 256
STATUS_BYTE = ord("?")
#: Protocol 2's emergency stop. Its bit-7-clear neighbour 0x1E and its other single-bit
#: neighbours (all >= 0x80) are none of them line traffic (printable ASCII, CR, LF), so no
#: single bit error in a line can make it (docs/protocol.md §10.1 has the table).
ESTOP_BYTE = 0x9E
#: The emergency stop a person types: protocol 1's only one, one bit from ' ' and '1'. In
#: protocol 2 it stops only outside a host session (`HostDecoder.session`).
TYPED_ESTOP_BYTE = ord("!")
#: REPORT's period bounds, ms: 0 turns reports off, anything else outside them is E04; the
#: shortest period is also how often a device answers `?` at most (docs/protocol.md §2.1, §3).
REPORT_MIN_MS = 20
REPORT_MAX_MS = 5000
#: How many sequenced replies a device remembers for replay (§2.2): a host keeps at most
#: this many lines unanswered.
REPLY_MEMORY = 32


def estop_byte(proto: int) -> int:
    """The emergency-stop byte a host sends to a device that speaks protocol `proto`."""
    return TYPED_ESTOP_BYTE if proto < 2 else ESTOP_BYTE


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection."""
    return binascii.crc_hqx(data, CRC_INIT)


_crc_hqx = binascii.crc_hqx  # `crc16` without the call, on the hot paths


def seq_after(seq: int, n: int = 1) -> int:
    """The sequence number `n` places after `seq`, wrapping at 65536."""
    return (seq + n) % SEQ_MOD


def seq_distance(newer: int, older: int) -> int:
    """How far `newer` is ahead of `older`, in (-32768, 32768], across the wrap."""
    d = (newer - older) % SEQ_MOD
    return d - SEQ_MOD if d > SEQ_MOD // 2 else d


class ErrorCode(IntEnum):
    """Why the device refused a line. On the wire: ``E`` and two digits, then the name."""

    BAD_CRC = 1
    UNKNOWN_COMMAND = 2
    BAD_ARGS = 3
    OUT_OF_RANGE = 4
    SEQ_GAP = 5
    NEED_CRC = 6
    FAULTED = 7
    ESTOPPED = 8
    LINE_TOO_LONG = 9
    NOT_SYNCED = 10
    RESET_REFUSED = 11
    UNOCCUPIED = 12
    BAD_BYTE = 13
    LIMITS_INVALID = 14

    @property
    def wire(self) -> str:
        return f"E{self.value:02d} {self.name.lower().replace('_', '-')}"


class FaultCode(IntEnum):
    """Latched faults. On the wire: ``F`` and two digits, then the name."""

    ESTOP = 1
    DEADMAN = 2
    BAD_FRAMES = 3
    SESSION_CAP = 4
    OVERPRESSURE = 5
    INFLATE_TIMEOUT = 6
    OVERTEMP = 7
    THERMISTOR = 8
    HEAT_RUNAWAY = 9
    STALL = 10
    TRACK_TIMEOUT = 11
    OVERCURRENT = 12
    PINCH = 13
    LIMITS_CRC = 14
    RECLINE_TIMEOUT = 15
    VACANT = 16
    STUCK_ON = 17  # an output draws current while commanded off (pump, heater relay)
    AIR_HOLD = 18  # a bag held inflated too long or for too much of a window
    NOT_VENTING = 19  # a bag told to vent does not lose its pressure (stuck vent valve)

    @property
    def wire(self) -> str:
        return f"F{self.value:02d} {self.name.lower().replace('_', '-')}"

    @classmethod
    def parse(cls, token: str) -> FaultCode:
        """``F05`` to `FaultCode.OVERPRESSURE`; raises ValueError."""
        if not re.fullmatch(r"F\d\d", token):
            raise ValueError(f"not a fault code: {token!r}")
        return cls(int(token[1:]))


# --------------------------------------------------------------------------- host -> device


class Kind(Enum):
    """What a command may do, which decides whether it needs a CRC and a sequence number."""

    QUERY = "query"  # reads only: allowed without CRC
    MODE = "mode"  # switches console mode: allowed without CRC
    CONTROL = "control"  # changes device state: CRC and seq unless in console mode
    ACTUATE = "actuate"  # moves something: CRC and seq unless in console mode


@dataclass(frozen=True)
class Command:
    """A host command. Subclasses name their verb and kind; their fields are the arguments."""

    VERB: ClassVar[str] = ""
    KIND: ClassVar[Kind] = Kind.QUERY

    def wire(self) -> str:
        """The verb and arguments as they stand on the wire."""
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in fields(self))
        if not names:
            return self.VERB
        return " ".join([self.VERB, *[_format(getattr(self, name)) for name in names]])


#: Each command class's field names, in wire order (filled as classes are first encoded).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


@dataclass(frozen=True)
class QueryStatus(Command):
    VERB = "STATUS"


@dataclass(frozen=True)
class QueryLimits(Command):
    VERB = "LIMITS"


@dataclass(frozen=True)
class QueryInfo(Command):
    VERB = "INFO"


@dataclass(frozen=True)
class SetConsole(Command):
    VERB = "CONSOLE"
    KIND = Kind.MODE
    on: int


@dataclass(frozen=True)
class Sync(Command):
    VERB = "SYNC"
    KIND = Kind.CONTROL


@dataclass(frozen=True)
class Reset(Command):
    VERB = "RESET"
    KIND = Kind.CONTROL


@dataclass(frozen=True)
class SetReport(Command):
    VERB = "REPORT"
    KIND = Kind.CONTROL
    period_ms: int


@dataclass(frozen=True)
class Renew(Command):
    VERB = "RENEW"
    KIND = Kind.CONTROL
    lease_ms: int


@dataclass(frozen=True)
class Stop(Command):
    VERB = "STOP"
    KIND = Kind.CONTROL


@dataclass(frozen=True)
class SetRoller(Command):
    VERB = "ROLLER"
    KIND = Kind.ACTUATE
    pos_mm: float
    technique: str
    width: int
    depth: int
    speed: int
    lease_ms: int


@dataclass(frozen=True)
class SetAir(Command):
    VERB = "AIR"
    KIND = Kind.ACTUATE
    zone: str
    kpa: float
    lease_ms: int


@dataclass(frozen=True)
class SetHeat(Command):
    VERB = "HEAT"
    KIND = Kind.ACTUATE
    zone: str
    target_c: float
    lease_ms: int


@dataclass(frozen=True)
class SetFoot(Command):
    VERB = "FOOT"
    KIND = Kind.ACTUATE
    speed: int
    lease_ms: int


@dataclass(frozen=True)
class SetRecline(Command):
    VERB = "RECLINE"
    KIND = Kind.ACTUATE
    back_pct: float
    leg_pct: float
    lease_ms: int


COMMANDS: dict[str, type[Command]] = {
    cls.VERB: cls
    for cls in (QueryStatus, QueryLimits, QueryInfo, SetConsole, Sync, Reset, SetReport,
                Renew, Stop, SetRoller, SetAir, SetHeat, SetFoot, SetRecline)
}


_TYPES = {"int": int, "float": float, "str": str}
#: Each verb's arguments as (name, type), in wire order.
ARGUMENTS: dict[str, tuple[tuple[str, type], ...]] = {
    verb: tuple((f.name, _TYPES[f.type]) for f in fields(cls)) for verb, cls in COMMANDS.items()
}


def _format(value: object) -> str:
    """An argument as the wire writes it; ValueError for a number outside the grammar."""
    kind = type(value)
    if kind is float and -_BIG < value < _BIG:  # finite, at most 9 digits before the point
        return f"{value:.1f}"
    if kind is int and -_IBIG < value < _IBIG:
        return str(value)
    if isinstance(value, float):
        return _checked(f"{value:.1f}", _FLOAT, value)
    if isinstance(value, int):  # a bool as 0 or 1
        return _checked(str(int(value)), _INT, value)
    return str(value)


_IBIG = 1_000_000_000
_BIG = 999_999_999.9  # a float below this in magnitude prints inside the grammar


def _checked(text: str, grammar: re.Pattern, value: object) -> str:
    """`text` if it is in `grammar`; else ValueError (nan, inf, too many digits ...)."""
    if grammar.fullmatch(text) is None:
        raise ValueError(f"{value!r} cannot go on the wire: not a number of the protocol's "
                         "grammar (finite, at most 9 digits before the point)")
    return text


def _framed(payload: str) -> bytes:
    """``payload*CRC`` and LF, as bytes."""
    data = payload.encode()
    return b"%s*%04X\n" % (data, _crc_hqx(data, CRC_INIT))


def encode_command(command: Command, seq: int | None = None, *, crc: bool = True) -> bytes:
    """One host line: ``seq VERB args*CRC`` and LF."""
    payload = command.wire() if seq is None else f"{seq} {command.wire()}"
    return _framed(payload) if crc else (payload + "\n").encode()


@dataclass(frozen=True)
class Frame:
    """A whole, well-formed host line."""

    seq: int | None
    command: Command
    crc: bool


@dataclass(frozen=True)
class RealTime:
    """A real-time byte (``?`` or an emergency stop), reported where it stood in the stream."""

    byte: int


@dataclass(frozen=True)
class BadLine:
    """A line that was discarded; `code` and `detail` say why, `seq` if it was trustworthy."""

    code: ErrorCode
    detail: str
    seq: int | None = None


#: The number grammar of docs/protocol.md §1.1, for every number in either direction: an
#: optional '-', 1 to 9 ASCII digits, and (decimals only) a point and 1 to 3 digits. Nothing
#: else: no '+', exponent, '_', hex, space, 'nan' or 'inf', no leading or trailing point.
INT_GRAMMAR = r"-?[0-9]{1,9}"
DECIMAL_GRAMMAR = r"-?[0-9]{1,9}(?:\.[0-9]{1,3})?"
_INT = re.compile(INT_GRAMMAR)
_FLOAT = re.compile(DECIMAL_GRAMMAR)
_TOKEN = re.compile(r"[a-z][a-z0-9-]{0,15}")
_CRC_BYTES = re.compile(rb"[0-9A-F]{4}")


def _parse_arg(text: str, kind: type) -> object:
    if kind is int and _INT.fullmatch(text):
        return int(text)
    if kind is float and _FLOAT.fullmatch(text):
        return float(text)
    if kind is str and _TOKEN.fullmatch(text):
        return text
    raise ValueError(text)


_NOT_PRINTABLE = re.compile(rb"[^\x20-\x7e]")


def _printable(line: bytes) -> str | None:
    """None when the line is printable ASCII, else where the first bad byte stands."""
    bad = _NOT_PRINTABLE.search(line)
    if bad is None:
        return None
    column = bad.start()
    return f"byte 0x{line[column]:02X} at column {column + 1}"


def _split_crc(line: bytes) -> tuple[str, bool] | str:
    """(payload, has_crc) of a printable line, or an error detail when its CRC is wrong."""
    payload, star, tail = line.rpartition(b"*")
    if not star:
        return line.decode("ascii"), False
    if not _CRC_BYTES.fullmatch(tail):
        return f"malformed crc {tail.decode('ascii')[:8]!r}"
    crc = _crc_hqx(payload, CRC_INIT)
    if crc != int(tail, 16):
        return f"crc {tail.decode('ascii')} does not match {crc:04X}"
    return payload.decode("ascii"), True


def parse_host_line(line: bytes) -> Frame | BadLine:
    """Parse one host line (without its terminator). Never raises."""
    where = _printable(line)
    if where:
        return BadLine(ErrorCode.BAD_BYTE, where)
    split = _split_crc(line)
    if isinstance(split, str):
        return BadLine(ErrorCode.BAD_CRC, split)
    payload, has_crc = split
    tokens = payload.split()
    seq = None
    if tokens and tokens[0].isdigit():
        if len(tokens[0]) > 5 or int(tokens[0]) >= SEQ_MOD:
            return BadLine(ErrorCode.BAD_ARGS, f"sequence number {tokens[0][:8]} above 65535")
        seq = int(tokens.pop(0))
    if not tokens:
        return BadLine(ErrorCode.UNKNOWN_COMMAND, "no command", seq)
    words = tuple(tokens)
    command = _PARSED.get(words)  # the same few commands come again and again (RENEW ...)
    if command is not None:
        return Frame(seq, command, has_crc)
    verb = tokens[0].upper()
    cls = COMMANDS.get(verb)
    if cls is None:
        return BadLine(ErrorCode.UNKNOWN_COMMAND, f"unknown command {tokens[0][:16]!r}", seq)
    specs = ARGUMENTS[verb]
    if len(tokens) - 1 != len(specs):
        usage = " ".join([verb, *(name for name, _ in specs)])
        return BadLine(ErrorCode.BAD_ARGS, f"expected '{usage}'", seq)
    values = []
    for (name, kind), text in zip(specs, tokens[1:], strict=True):
        try:
            values.append(_parse_arg(text, kind))
        except ValueError:
            return BadLine(ErrorCode.BAD_ARGS, f"{verb} {name}={text[:16]!r}", seq)
    command = cls(*values)
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[words] = command
    return Frame(seq, command, has_crc)


#: Commands already parsed, by their words after the sequence number (commands are frozen,
#: so one object serves every frame that spells it the same way). Bounded: cleared when full.
_PARSED: dict[tuple[str, ...], Command] = {}
_PARSED_MAX = 256


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


# --------------------------------------------------------------------------- device -> host


@dataclass(frozen=True)
class Ok:
    """The line `seq` was accepted. `data` carries a query's answer as ``key=value`` pairs."""

    seq: int | None
    data: str = ""

    @property
    def fields(self) -> dict[str, str]:
        """`data` as its ``key=value`` pairs, in order (a token without ``=`` is left out)."""
        return dict(pair.split("=", 1) for pair in self.data.split() if "=" in pair)

    @property
    def table(self) -> tuple[int, int] | None:
        """A `LIMITS` answer's ``(n, crc)``: the number of ``$`` lines and the table CRC;
        None for any other `ok` (no ``n=`` and ``crc=``, or not numbers as §2.1 writes them)."""
        fields = self.fields
        n, crc = fields.get("n", ""), fields.get("crc", "")
        if not (n.isascii() and n.isdigit() and _HEX4.fullmatch(crc)):
            return None
        return int(n), int(crc, 16)

    def payload(self) -> str:
        if not self.data:  # the common reply, no answer data
            return "ok -" if self.seq is None else f"ok {self.seq}"
        return " ".join(filter(None, ["ok", _seq_text(self.seq), self.data]))


@dataclass(frozen=True)
class Error:
    """The line `seq` was refused and had no effect."""

    seq: int | None
    code: ErrorCode
    detail: str = ""

    @property
    def expect(self) -> int | None:
        """An `E05`'s next expected sequence number, from its detail ``expect=N`` (the one
        detail a host reads, §5.1); None for other codes or a detail not of that form."""
        if self.code is not ErrorCode.SEQ_GAP or not self.detail.startswith("expect="):
            return None
        digits = self.detail[7:]
        if not (0 < len(digits) <= 5 and digits.isascii() and digits.isdigit()):
            return None
        n = int(digits)
        return n if n < SEQ_MOD else None

    def payload(self) -> str:
        return " ".join(filter(None, ["error", _seq_text(self.seq), self.code.wire,
                                      _clean(self.detail)]))


@dataclass(frozen=True)
class FaultReport:
    """Pushed when a fault latches."""

    code: FaultCode
    detail: str = ""

    def payload(self) -> str:
        return " ".join(filter(None, ["!" + self.code.wire, _clean(self.detail)]))


@dataclass(frozen=True)
class Banner:
    """Pushed at every start of the device and sent in answer to ``INFO``."""

    proto: int
    firmware: str
    zones: tuple[str, ...]
    heaters: tuple[str, ...]
    track_mm: float
    seat_mm: float
    limits_crc: int
    #: The drives present (carriage, back, leg, foot) and the optional sensors present
    #: (force, pinch, seat); None when the banner does not say (a protocol 1 device).
    axes: tuple[str, ...] | None = None
    sensors: tuple[str, ...] | None = None

    def payload(self) -> str:
        extra = "".join(f" {key}={','.join(value)}" for key, value in
                        (("axes", self.axes), ("sensors", self.sensors)) if value is not None)
        return (f"#CHAIR proto={_checked(str(self.proto), _INT, self.proto)} "
                f"fw={self.firmware} zones={','.join(self.zones)} "
                f"heaters={','.join(self.heaters)} track={_g(self.track_mm)} "
                f"seat={_g(self.seat_mm)} limits={self.limits_crc:04X}{extra}")


@dataclass(frozen=True)
class LimitLine:
    """One entry of the device's limits table, sent in answer to ``LIMITS``."""

    name: str
    value: float

    def payload(self) -> str:
        return f"${self.name}={_g(self.value)}"


def table_crc(entries: Iterable[tuple[str, float]]) -> int:
    """The limits-table CRC (§7): CRC-16 over the ``$name=value`` lines (`LimitLine`'s
    payload, as `%g` writes the value) of `entries`, each followed by LF, in table order.
    Raises ValueError for a value outside the number grammar."""
    return crc16("".join(LimitLine(name, value).payload() + "\n"
                         for name, value in entries).encode("ascii"))


def _g(value: float) -> str:
    """`value` as C's %g writes it, checked against the number grammar (ValueError)."""
    return _checked(f"{value:g}", _FLOAT, value)


@dataclass(frozen=True)
class Info:
    """Free text for a person at a terminal."""

    text: str

    def payload(self) -> str:
        return f"[{_clean(self.text)}]"


STATES = ("Idle", "Run", "Fault", "Estop")


@dataclass(frozen=True, init=False)
class StatusReport:
    """One status line: pushed at the report rate, and the answer to ``?`` and ``STATUS``."""

    state: str
    t: float
    pos_mm: float
    technique: str
    width: int
    depth: int
    speed: int
    force_n: float
    air_kpa: tuple[float, ...]
    heat_c: tuple[float, ...]
    foot: int
    back_pct: float
    leg_pct: float
    occupied: bool
    pinch: bool
    faults: tuple[FaultCode, ...]

    def __init__(self, state: str, t: float, pos_mm: float, technique: str, width: int,
                 depth: int, speed: int, force_n: float, air_kpa: tuple[float, ...],
                 heat_c: tuple[float, ...], foot: int, back_pct: float, leg_pct: float,
                 occupied: bool, pinch: bool, faults: tuple[FaultCode, ...]) -> None:
        # The dataclass __init__ of a frozen class sets 16 fields one object.__setattr__ at
        # a time; ten reports a second make that the codec's largest cost. Same fields,
        # set once; the instance stays frozen.
        self.__dict__.update(
            state=state, t=t, pos_mm=pos_mm, technique=technique, width=width, depth=depth,
            speed=speed, force_n=force_n, air_kpa=air_kpa, heat_c=heat_c, foot=foot,
            back_pct=back_pct, leg_pct=leg_pct, occupied=occupied, pinch=pinch,
            faults=faults)

    def payload(self) -> str:
        # one %-format for the whole line (the hot path: ten of these a second)
        air, heat, faults = self.air_kpa, self.heat_c, self.faults
        if not _hypot(self.t, self.pos_mm, self.force_n, self.back_pct, self.leg_pct,
                      self.width, self.depth, self.speed, self.foot, *air, *heat) < _SMALL:
            _check_numbers(self)  # nan, inf or a huge value: raise unless it still fits
        form = _STATUS_FORMATS.get((len(air), len(heat)))
        if form is None:
            form = _status_format(len(air), len(heat))
        line = form % (
            self.state, self.t, self.pos_mm, self.technique, self.width, self.depth,
            self.speed, self.force_n, *air, *heat, self.foot, self.back_pct, self.leg_pct,
            int(self.occupied), int(self.pinch),
            ",".join([f"F{f.value:02d}" for f in faults]) if faults else "-")
        # sensor noise just under zero rounds to "-0.0": print it as the zero it is
        return _NEGATIVE_ZERO.sub("0.0", line) if "-0.0" in line else line


_STATUS_FORMATS: dict[tuple[int, int], str] = {}
_hypot = math.hypot  # nan or inf anywhere makes it nan or inf; each |value| <= hypot
_SMALL = 1e8  # values this small always fit the number grammar, once formatted


def _check_numbers(status: StatusReport) -> None:
    """ValueError unless every number of `status` fits the grammar once formatted."""
    for name in ("t", "pos_mm", "force_n", "back_pct", "leg_pct", "air_kpa", "heat_c"):
        value = getattr(status, name)
        for x in value if isinstance(value, tuple) else (value,):
            _checked(f"{x:.3f}" if name == "t" else f"{x:.1f}", _FLOAT, x)
    for name in ("width", "depth", "speed", "foot"):
        _checked(str(getattr(status, name)), _INT, getattr(status, name))
_NEGATIVE_ZERO = re.compile(r"(?<=[=,])-0\.0(?=[ ,>])")


def _status_format(n_air: int, n_heat: int) -> str:
    """The %-format of a status line with `n_air` pressures and `n_heat` temperatures."""
    form = _STATUS_FORMATS[n_air, n_heat] = (
        "<%s t=%.3f pos=%.1f tech=%s w=%s d=%s spd=%s force=%.1f "
        f"air={','.join(['%.1f'] * n_air)} heat={','.join(['%.1f'] * n_heat)} "
        "foot=%s back=%.1f leg=%.1f occ=%d pinch=%d flt=%s>")
    return form


DeviceMessage = Ok | Error | FaultReport | Banner | LimitLine | Info | StatusReport


def _seq_text(seq: int | None) -> str:
    return "-" if seq is None else str(seq)


def _clean(text: str) -> str:
    """Free text made safe for one line: printable ASCII without ``*``."""
    return "".join(c if " " <= c <= "~" and c != "*" else "_" for c in text)[:120]


def encode_device(message: DeviceMessage) -> bytes:
    """One device line: payload, ``*CRC`` and LF."""
    return _framed(message.payload())


def _pairs(text: str) -> dict[str, str]:
    pairs = {}
    for token in text.split():
        key, eq, value = token.partition("=")
        if not eq:
            raise ValueError(f"expected key=value, got {token!r}")
        pairs[key] = value
    return pairs


def _parse_seq(token: str) -> int | None:
    if token == "-":
        return None
    if _SEQ.fullmatch(token) is None or int(token) >= SEQ_MOD:
        raise ValueError(f"bad sequence number {token[:16]!r}")
    return int(token)


_SEQ = re.compile(r"[0-9]{1,5}")


def _dec(text: str, what: str) -> float:
    """A decimal of the number grammar; ValueError naming `what` for anything else."""
    if _FLOAT.fullmatch(text) is None:
        raise ValueError(f"{what}={text[:16]!r} is not a number")
    return float(text)


def _int(text: str, what: str) -> int:
    """An integer of the number grammar; ValueError naming `what` for anything else."""
    if _INT.fullmatch(text) is None:
        raise ValueError(f"{what}={text[:16]!r} is not an integer")
    return int(text)


def _flag(text: str, what: str) -> bool:
    """``0`` or ``1``; ValueError for anything else."""
    if text != "0" and text != "1":
        raise ValueError(f"{what}={text[:16]!r} is not 0 or 1")
    return text == "1"


def _floats(text: str, what: str) -> tuple[float, ...]:
    return tuple(_dec(x, what) for x in text.split(",")) if text else ()


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split(",")) if text else ()


#: A status line exactly as `StatusReport.payload` writes it (the fast path; any other
#: spelling the generic parser accepts still parses, the slow way, to the same message).
_STATUS_LINE = re.compile(
    r"<(Idle|Run|Fault|Estop) t=(\S*) pos=(\S*) tech=(\S*) w=(\S*) d=(\S*) spd=(\S*) "
    r"force=(\S*) air=(\S*) heat=(\S*) foot=(\S*) back=(\S*) leg=(\S*) occ=(\S*) "
    r"pinch=(\S*) flt=(\S*)>")


def _parse_status_line(text: str) -> StatusReport:
    """``<...>``: the fast path when the line is spelled as the codec writes it."""
    match = _STATUS_LINE.fullmatch(text)
    if match is None:
        return _parse_status(text[1:-1])
    (state, t, pos, tech, w, d, spd, force, air, heat, foot, back, leg, occ, pinch,
     flt) = match.groups()
    # converted in the generic parser's order, so a bad value fails the same way
    return StatusReport(
        state=state, t=_dec(t, "t"), pos_mm=_dec(pos, "pos"), technique=tech,
        width=_int(w, "w"), depth=_int(d, "d"), speed=_int(spd, "spd"),
        force_n=_dec(force, "force"), air_kpa=_floats(air, "air"),
        heat_c=_floats(heat, "heat"), foot=_int(foot, "foot"), back_pct=_dec(back, "back"),
        leg_pct=_dec(leg, "leg"), occupied=_flag(occ, "occ"), pinch=_flag(pinch, "pinch"),
        faults=() if flt == "-" else tuple(FaultCode.parse(f) for f in flt.split(",")))


def _parse_status(body: str) -> StatusReport:
    state, _, rest = body.partition(" ")
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}")
    kv = _pairs(rest)
    flt = kv["flt"]
    return StatusReport(
        state=state, t=_dec(kv["t"], "t"), pos_mm=_dec(kv["pos"], "pos"),
        technique=kv["tech"], width=_int(kv["w"], "w"), depth=_int(kv["d"], "d"),
        speed=_int(kv["spd"], "spd"), force_n=_dec(kv["force"], "force"),
        air_kpa=_floats(kv["air"], "air"), heat_c=_floats(kv["heat"], "heat"),
        foot=_int(kv["foot"], "foot"), back_pct=_dec(kv["back"], "back"),
        leg_pct=_dec(kv["leg"], "leg"), occupied=_flag(kv["occ"], "occ"),
        pinch=_flag(kv["pinch"], "pinch"),
        faults=() if flt == "-" else tuple(FaultCode.parse(f) for f in flt.split(",")))


def _parse_device_payload(text: str) -> DeviceMessage:
    head = text[:1]
    if head == "<" and text.endswith(">"):
        return _parse_status_line(text)
    if text.startswith("ok "):
        _, _, rest = text.partition(" ")
        seq_token, _, data = rest.partition(" ")
        return Ok(_parse_seq(seq_token), data)
    if text.startswith("error "):
        parts = text.split(" ", 4)
        code = ErrorCode(int(parts[2][1:])) if re.fullmatch(r"E\d\d", parts[2]) else None
        if code is None:
            raise ValueError(f"bad error code {parts[2]!r}")
        return Error(_parse_seq(parts[1]), code, parts[4] if len(parts) > 4 else "")
    if head == "!":
        parts = text[1:].split(" ", 2)
        return FaultReport(FaultCode.parse(parts[0]), parts[2] if len(parts) > 2 else "")
    if text.startswith("#CHAIR "):
        kv = _pairs(text[7:])
        if _HEX4.fullmatch(kv["limits"]) is None:
            raise ValueError(f"limits={kv['limits'][:16]!r} is not four upper-case hex digits")
        return Banner(_int(kv["proto"], "proto"), kv["fw"], _names(kv["zones"]),
                      _names(kv["heaters"]), _dec(kv["track"], "track"),
                      _dec(kv["seat"], "seat"), int(kv["limits"], 16),
                      _names(kv["axes"]) if "axes" in kv else None,
                      _names(kv["sensors"]) if "sensors" in kv else None)
    if head == "$":
        name, _, value = text[1:].partition("=")
        return LimitLine(name, _dec(value, name))
    if head == "[" and text.endswith("]"):
        return Info(text[1:-1])
    raise ValueError(f"unknown message {text[:16]!r}")


_HEX4 = re.compile(r"[0-9A-F]{4}")
_V = rb"([!-)+-~]*)"  # a value: printable, no space, no '*'
# The grammar again, with possessive quantifiers (the same language; no backtracking)
_DP = rb"-?+[0-9]{1,9}+(?:\.[0-9]{1,3}+)?+"
_D = rb"(%s)" % _DP  # a decimal of the number grammar
_I = rb"(-?+[0-9]{1,9}+)"  # an integer of the number grammar
_DS = rb"((?:%s(?:,%s)*+)?+)" % (_DP, _DP)  # a list of decimals
#: A whole status line as `encode_device` writes it, CRC included (the fast path). A match
#: is printable, its numbers are in the grammar and its only '*' is the CRC's, so it parses
#: as the generic path would.
_STATUS_BYTES = re.compile(
    rb"<(Idle|Run|Fault|Estop) t=%s pos=%s tech=%s w=%s d=%s spd=%s force=%s air=%s heat=%s "
    rb"foot=%s back=%s leg=%s occ=([01]) pinch=([01]) flt=%s>\*([0-9A-F]{4})"
    % (_D, _D, _V, _I, _I, _I, _D, _DS, _DS, _I, _D, _D, _V))


def _status_from(groups: tuple[bytes, ...]) -> StatusReport:
    """The report of a `_STATUS_BYTES` match; ValueError as `_parse_status_line` would."""
    (state, t, pos, tech, w, d, spd, force, air, heat, foot, back, leg, occ, pinch, flt,
     _) = groups
    return StatusReport(
        state=state.decode(), t=float(t), pos_mm=float(pos), technique=tech.decode(),
        width=int(w), depth=int(d), speed=int(spd), force_n=float(force),
        air_kpa=tuple(map(float, air.split(b","))) if air else (),
        heat_c=tuple(map(float, heat.split(b","))) if heat else (), foot=int(foot),
        back_pct=float(back), leg_pct=float(leg), occupied=occ == b"1", pinch=pinch == b"1",
        faults=() if flt == b"-" else tuple(FaultCode.parse(f) for f in
                                            flt.decode().split(",")))


def parse_device_line(line: bytes) -> DeviceMessage | BadLine:
    """Parse one device line (without its terminator). Never raises."""
    status = _STATUS_BYTES.fullmatch(line)
    if status is not None and _crc_hqx(line[:-5], CRC_INIT) == int(status[17], 16):
        try:
            return _status_from(status.groups())
        except ValueError:
            pass  # the generic path below says why, in its own words
    where = _printable(line)
    if where:
        return BadLine(ErrorCode.BAD_BYTE, where)
    split = _split_crc(line)
    if isinstance(split, str):
        return BadLine(ErrorCode.BAD_CRC, split)
    payload, has_crc = split
    if not has_crc:
        return BadLine(ErrorCode.NEED_CRC, f"device line without crc: {payload[:24]!r}")
    try:
        return _parse_device_payload(payload)
    except (ValueError, KeyError, IndexError) as exc:
        return BadLine(ErrorCode.BAD_ARGS, str(exc)[:80])


class DeviceDecoder(_LineSplitter):
    """The host's decoder: device bytes in, `DeviceMessage` and `BadLine` events out."""

    def __init__(self) -> None:
        super().__init__(MAX_DEVICE_LINE)

    parse = staticmethod(parse_device_line)
