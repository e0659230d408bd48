"""Device lines parsed: `parse_device_line`, with fast paths for the two lines a session
is made of (status lines and plain ``ok``s) in front of the generic parser of
chair/protocol_device.py, which decides every other line and says why a bad one is bad.
"""

from __future__ import annotations

import re

from chair.protocol_device import DeviceMessage, Ok, StatusReport, _parse_device_payload
from chair.protocol_wire import (
    CRC_INIT,
    SEQ_MOD,
    BadLine,
    ErrorCode,
    FaultCode,
    _crc_hqx,
    _unframed,
)

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


class _Cache(dict):
    """bytes -> value, computed by `convert` on a miss; cleared when `_CACHE_MAX` are held.

    A status line repeats most of its fields from the line before (the same pressures,
    temperatures, technique, ten times a second): a hit is one dict lookup instead of a
    conversion. Only text the byte pattern has already checked goes in."""

    def __init__(self, convert) -> None:
        super().__init__()
        self._convert = convert

    def __missing__(self, key: bytes):
        if len(self) >= _CACHE_MAX:
            self.clear()
        value = self[key] = self._convert(key)
        return value


_CACHE_MAX = 4096
_WORDS = _Cache(bytes.decode)  # a state or a technique: bytes -> str
_DECIMALS = _Cache(float)  # one decimal of the grammar: bytes -> float
_INTS = _Cache(int)  # one integer of the grammar: bytes -> int
_LISTS = _Cache(lambda text: tuple(map(float, text.split(b","))) if text else ())


def _status_from(groups: tuple[bytes, ...]) -> StatusReport:
    """The report of a `_STATUS_BYTES` match; ValueError as `_parse_status_line` would.

    `t` changes every line, so it is converted afresh; the other fields come through
    the caches."""
    (state, t, pos, tech, w, d, spd, force, air, heat, foot, back, leg, occ, pinch, flt,
     _) = groups
    words, decimals, ints, lists = _WORDS, _DECIMALS, _INTS, _LISTS
    return StatusReport(
        words[state], float(t), decimals[pos], words[tech], ints[w], ints[d], ints[spd],
        decimals[force], lists[air], lists[heat], ints[foot], decimals[back], decimals[leg],
        occ == b"1", pinch == b"1",
        () if flt == b"-" else tuple(FaultCode.parse(f) for f in flt.decode().split(",")))


#: An ``ok`` with a sequence number and no data, CRC included: a third of a session's
#: device lines (the fast path; the generic one gives the same `Ok`).
_OK_BYTES = re.compile(rb"ok ([0-9]{1,5})\*([0-9A-F]{4})")


def parse_device_line(line: bytes) -> DeviceMessage | BadLine:
    """Parse one device line (without its terminator). Never raises."""
    status = _STATUS_BYTES.fullmatch(line)
    if status is not None and _crc_hqx(line[:-5], CRC_INIT) == int(status[17], 16):
        try:
            return _status_from(status.groups())
        except ValueError:
            pass  # the generic path below says why, in its own words
    ok = _OK_BYTES.fullmatch(line)
    if ok is not None and _crc_hqx(line[:-5], CRC_INIT) == int(ok[2], 16):
        seq = int(ok[1])
        if seq < SEQ_MOD:
            return Ok(seq)
    split = _unframed(line)
    if isinstance(split, BadLine):
        return split
    payload, has_crc = split
    if not has_crc:
        return BadLine(ErrorCode.NEED_CRC, f"device line without crc: {payload[:24]!r}")
    try:
        return _parse_device_payload(payload)
    except (ValueError, KeyError, IndexError) as exc:
        return BadLine(ErrorCode.BAD_ARGS, str(exc)[:80])
