"""The wire's ground, shared by both directions: constants, sequence numbers, CRC framing,
the number grammar, error and fault codes, and the `BadLine` event (see chair/protocol.py)."""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from enum import IntEnum

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
_CRC_BYTES = re.compile(rb"[0-9A-F]{4}")

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


def _unframed(line: bytes) -> tuple[str, bool] | BadLine:
    """(payload, has_crc) of one line of either side, or the BadLine that says why not: a
    byte that is not printable ASCII (E09), then a malformed or wrong CRC (E01)."""
    where = _printable(line)
    if where:
        return BadLine(ErrorCode.BAD_BYTE, where)
    split = _split_crc(line)
    if isinstance(split, str):
        return BadLine(ErrorCode.BAD_CRC, split)
    return split
