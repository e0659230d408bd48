"""The host's status-line fast path against its generic parser, on lines hypothesis makes.

`parse_device_line` reads a status line spelled as the codec writes it with one byte
pattern and converts its fields through small bounded caches (the same few values come
ten times a second). Whatever the line, valid or not, the answer must be the generic
parser's, to the repr (so ``-0.0`` against ``0.0`` and every error detail count), the
first time a value is seen and again when it comes from a cache; and the caches stay
bounded however many different values go through them.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chair import protocol as p
from chair import protocol_parse as pd


def _general(line: bytes):
    """`parse_device_line` with its fast paths (status and ``ok``) switched off."""
    fast = pd._STATUS_BYTES, pd._OK_BYTES
    try:
        pd._STATUS_BYTES = pd._OK_BYTES = re.compile(b"(?!)")  # never matches
        return pd.parse_device_line(line)
    finally:
        pd._STATUS_BYTES, pd._OK_BYTES = fast


_DIGITS = st.text("0123456789", min_size=1, max_size=10)
#: a decimal of the grammar or just outside it (10 digits, 4 places, a sign, nothing)
_DECIMAL = st.one_of(
    st.builds(lambda sign, whole, frac: sign + whole + frac, st.sampled_from(["", "-"]),
              _DIGITS, st.one_of(st.just(""), st.builds(lambda d: "." + d,
                                                         st.text("0123456789", max_size=4)))),
    st.sampled_from(["0.0", "-0.0", "12.5", "1e3", "+1", "nan", "inf", ".5", "5.", "1_0", ""]))
_INTEGER = st.one_of(st.builds(lambda sign, d: sign + d, st.sampled_from(["", "-"]), _DIGITS),
                     st.sampled_from(["0", "3", "-0", "+3", "1.0", "x", ""]))
_LIST = st.one_of(st.lists(_DECIMAL, max_size=7).map(",".join),
                  st.sampled_from(["", ",", "1.0,", ",1.0", "1.0,,2.0"]))
_WORD = st.one_of(st.sampled_from(["off", "knead", "roll", "-", "", "a=b", "x>y", "*"]),
                  st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=6))
_FLAG = st.sampled_from(["0", "1", "2", "", "01", "-0"])
_FAULTS = st.one_of(st.just("-"), st.lists(st.integers(0, 120), min_size=1, max_size=3).map(
    lambda codes: ",".join(f"F{c:02d}" for c in codes)),
    st.sampled_from(["F5", "F05,", "f05", "", "--"]))
_STATE = st.sampled_from([*p.STATES, "run", "Idle ", "Walk", ""])
#: any byte at all, to put somewhere in a line
_NOISE = st.sampled_from([b" ", b"  ", b"*", b"\x00", b"\xc3", b"\t", b">", b"<", b"="])


@st.composite
def _status_lines(draw) -> bytes:
    """A status line, each field valid or not, with a right CRC, a wrong one or none."""
    fields = [("t", draw(_DECIMAL)), ("pos", draw(_DECIMAL)), ("tech", draw(_WORD)),
              ("w", draw(_INTEGER)), ("d", draw(_INTEGER)), ("spd", draw(_INTEGER)),
              ("force", draw(_DECIMAL)), ("air", draw(_LIST)), ("heat", draw(_LIST)),
              ("foot", draw(_INTEGER)), ("back", draw(_DECIMAL)), ("leg", draw(_DECIMAL)),
              ("occ", draw(_FLAG)), ("pinch", draw(_FLAG)), ("flt", draw(_FAULTS))]
    payload = ("<" + draw(_STATE) + " " + " ".join(f"{k}={v}" for k, v in fields)
               + ">").encode()
    if draw(st.booleans()):  # a byte of noise in or over the line
        at = draw(st.integers(0, len(payload)))
        payload = payload[:at] + draw(_NOISE) + payload[at + draw(st.integers(0, 1)):]
    crc = draw(st.sampled_from(["right", "wrong", "none", "lower"]))
    if crc == "right":
        return payload + b"*%04X" % p.crc16(payload)
    if crc == "lower":
        return payload + b"*%04x" % p.crc16(payload)
    if crc == "wrong":
        return payload + b"*%04X" % (p.crc16(payload) ^ 1)
    return payload


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_status_lines())
@example(b"<Run t=0.000 pos=-0.0 tech=off w=0 d=0 spd=0 force=0.0 air=-0.0,0.0 heat= "
         b"foot=0 back=0.0 leg=-0.0 occ=0 pinch=0 flt=->*0000")
def test_the_fast_path_answers_as_the_generic_parser(line: bytes) -> None:
    if line.endswith(b"*0000"):  # the example: give it its right CRC
        line = line[:-4] + b"%04X" % p.crc16(line[:-5])
    general = repr(_general(line))
    assert repr(pd.parse_device_line(line)) == general  # maybe the first time
    assert repr(pd.parse_device_line(line)) == general  # its values now cached


def test_a_valid_status_line_takes_the_fast_path() -> None:
    """The test above would pass with no fast path at all: show that it runs."""
    line = p.encode_device(p.StatusReport(
        state="Run", t=1.0, pos_mm=-0.0, technique="knead", width=1, depth=2, speed=3,
        force_n=4.5, air_kpa=(0.0, 12.5), heat_c=(31.0,), foot=0, back_pct=10.0,
        leg_pct=20.0, occupied=True, pinch=False, faults=(p.FaultCode.OVERTEMP,)))[:-1]
    assert pd._STATUS_BYTES.fullmatch(line) is not None
    pd._DECIMALS.clear()
    report = pd.parse_device_line(line)
    assert report.air_kpa == (0.0, 12.5) and report.faults == (p.FaultCode.OVERTEMP,)
    assert pd._DECIMALS  # went through the caches


def test_the_caches_stay_bounded() -> None:
    """Ten thousand different positions and pressures: each cache holds at most its bound."""
    for i in range(10_000):
        report = p.StatusReport(
            state="Run", t=i / 10, pos_mm=i / 10, technique="roll", width=i, depth=1, speed=1,
            force_n=i / 10, air_kpa=(i / 10, 0.0), heat_c=(i / 10,), foot=0, back_pct=i / 10,
            leg_pct=0.0, occupied=True, pinch=False, faults=())
        parsed = pd.parse_device_line(p.encode_device(report)[:-1])
        assert parsed.width == i and parsed.pos_mm == round(i / 10, 1)
        assert parsed.air_kpa[0] == round(i / 10, 1)
        assert len(pd._DECIMALS) <= pd._CACHE_MAX and len(pd._LISTS) <= pd._CACHE_MAX
        assert len(pd._INTS) <= pd._CACHE_MAX
    assert len(pd._WORDS) <= pd._CACHE_MAX


@st.composite
def _ok_lines(draw) -> bytes:
    """An ``ok`` line: a sequence number in range or not, maybe data, any CRC."""
    seq = draw(st.one_of(st.integers(0, 70_000).map(str), st.sampled_from(
        ["-", "", "00042", "065535", "65535", "65536", "99999", "123456", "+1", "1 ", "x"])))
    data = draw(st.sampled_from(["", " n=3 crc=ABCD", " ", " x", "*"]))
    payload = draw(st.sampled_from(["ok ", "ok  ", "OK ", "ok", "okay "])).encode() + \
        seq.encode() + data.encode()
    crc = draw(st.sampled_from(["right", "wrong", "none", "lower"]))
    if crc == "right":
        return payload + b"*%04X" % p.crc16(payload)
    if crc == "lower":
        return payload + b"*%04x" % p.crc16(payload)
    if crc == "wrong":
        return payload + b"*%04X" % (p.crc16(payload) ^ 0x100)
    return payload


@settings(max_examples=1000, deadline=None)
@given(_ok_lines())
def test_the_ok_fast_path_answers_as_the_generic_parser(line: bytes) -> None:
    assert repr(pd.parse_device_line(line)) == repr(_general(line))


def test_a_plain_ok_takes_the_fast_path() -> None:
    line = p.encode_device(p.Ok(65535))[:-1]
    assert pd._OK_BYTES.fullmatch(line) is not None
    assert pd.parse_device_line(line) == p.Ok(65535)
