"""Host to device: the commands, their encoding and `parse_host_line` (see chair/protocol.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from enum import Enum
from typing import ClassVar

from chair.protocol_wire import (
    _FLOAT,
    _INT,
    SEQ_MOD,
    BadLine,
    ErrorCode,
    _checked,
    _framed,
    _unframed,
)


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


_TOKEN = re.compile(r"[a-z][a-z0-9-]{0,15}")


def _parse_arg(text: str, kind: type) -> object:
    if kind is int and _INT.fullmatch(text):
        return int(text)
    if kind is float and _FLOAT.fullmatch(text):
        return float(text)
    if kind is str and _TOKEN.fullmatch(text):
        return text
    raise ValueError(text)


def parse_host_line(line: bytes) -> Frame | BadLine:
    """Parse one host line (without its terminator). Never raises."""
    split = _unframed(line)
    if isinstance(split, BadLine):
        return split
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
