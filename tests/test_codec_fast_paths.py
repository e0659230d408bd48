"""The codec's fast paths give exactly what its general paths give.

Status lines are formatted with one %-format and parsed with one byte pattern; host
commands parsed once are reused; whole LF-ended chunks skip the line buffer. Each is
checked here against the general path (or the plain formula it replaced) on random and
mutated input, so a fast path can never change what the wire means.
"""

from __future__ import annotations

import random
import re

import pytest

from chair import protocol as p
from chair import protocol_parse as pd


def _one(x: float) -> str:
    """One decimal, and a value that rounds to zero written as 0.0 (never -0.0)."""
    text = f"{x:.1f}"
    return "0.0" if text == "-0.0" else text


def _reference_payload(s: p.StatusReport) -> str:
    """The status line formatted one field at a time (f-strings)."""
    return (f"<{s.state} t={s.t:.3f} pos={_one(s.pos_mm)} tech={s.technique} "
            f"w={s.width} d={s.depth} spd={s.speed} force={_one(s.force_n)} "
            f"air={','.join(_one(x) for x in s.air_kpa)} "
            f"heat={','.join(_one(c) for c in s.heat_c)} foot={s.foot} "
            f"back={_one(s.back_pct)} leg={_one(s.leg_pct)} occ={int(s.occupied)} "
            f"pinch={int(s.pinch)} "
            f"flt={','.join(f'F{f.value:02d}' for f in s.faults) or '-'}>")


def _number(rng: random.Random) -> float:
    return rng.choice([0.0, -0.0, 0.05, 0.15, -0.25, 1e7, 123.456, rng.uniform(-1e3, 1e3),
                       float(rng.randint(-5, 5))])


def _report(rng: random.Random) -> p.StatusReport:
    return p.StatusReport(
        state=rng.choice(p.STATES), t=abs(_number(rng)), pos_mm=_number(rng),
        technique=rng.choice(["off", "knead", "roll"]), width=rng.randint(0, 5),
        depth=rng.randint(0, 5), speed=rng.randint(0, 6), force_n=_number(rng),
        air_kpa=tuple(_number(rng) for _ in range(rng.choice([0, 1, 6]))),
        heat_c=tuple(_number(rng) for _ in range(rng.choice([0, 2]))),
        foot=rng.randint(0, 3), back_pct=_number(rng), leg_pct=_number(rng),
        occupied=rng.random() < 0.5, pinch=rng.random() < 0.5,
        faults=tuple(sorted(rng.sample(list(p.FaultCode), rng.randint(0, 3)))))


def _general_device_line(line: bytes):
    """`parse_device_line` with its fast paths switched off (in the module that reads them,
    chair/protocol_parse.py: `chair.protocol` only re-exports them)."""
    fast = pd._STATUS_BYTES, pd._OK_BYTES
    try:
        pd._STATUS_BYTES = pd._OK_BYTES = re.compile(b"(?!)")  # never matches
        return pd.parse_device_line(line)
    finally:
        pd._STATUS_BYTES, pd._OK_BYTES = fast


def test_status_lines_are_formatted_as_before() -> None:
    rng = random.Random(1)
    for _ in range(3000):
        report = _report(rng)
        assert report.payload() == _reference_payload(report)


def test_status_lines_parse_as_the_general_parser_parses_them() -> None:
    rng = random.Random(2)
    words = [b"inf", b"-inf", b"nan", b"1_0", b"1e3", b"+1", b"-0", b"", b"1.5.5", b"F05",
             b"F99", b"F05,F07", b"-", b"1", b"0", b"2", b"a=b", b">", b"1,2", b",", b"1,,2",
             b" ", b"*", b"\xc3"]
    checked = 0
    for _ in range(2000):
        line = p.encode_device(_report(rng))[:-1]
        parts = line[:-5].split(b" ")
        for _ in range(rng.randint(0, 3)):
            i = rng.randrange(len(parts))
            key, eq, _ = parts[i].partition(b"=")
            parts[i] = key + b"=" + rng.choice(words) if eq else rng.choice([*words, b"<Run"])
        payload = b" ".join(parts)
        for candidate in (payload + b"*%04X" % p.crc16(payload), payload + b"*0000"):
            assert repr(p.parse_device_line(candidate)) == repr(_general_device_line(candidate))
            checked += 1
    assert checked == 4000


def test_reused_host_commands_are_the_commands_parsed_afresh() -> None:
    rng = random.Random(3)
    lines = []
    for _ in range(300):
        command = rng.choice([p.Renew(1500), p.SetAir("lumbar", 12.5, 1500),
                              p.SetRoller(512.0, "knead", 2, 3, 4, 1500), p.Stop(),
                              p.SetFoot(2, 1500), p.SetRecline(40.0, 60.0, 2000)])
        lines.append(p.encode_command(command, rng.randint(0, p.SEQ_MOD - 1))[:-1])
    lines += [b"1 renew 1500", b"2 RENEW  1500", b"3 RENEW 99999999999", b"4 ROLLER 1 x 1 1 1 1"]
    for line in lines * 2:  # the second time round, from the cache
        cached = p.parse_host_line(line)
        p._PARSED.clear()
        assert cached == p.parse_host_line(line)


@pytest.mark.parametrize("decoder", [p.HostDecoder, p.DeviceDecoder])
def test_whole_chunks_decode_as_byte_by_byte(decoder) -> None:
    rng = random.Random(4)
    pieces = [p.encode_device(_report(rng)), p.encode_device(p.Ok(5)), b"\r\n", b"\n", b"?",
              b"!", b"x" * 300, p.encode_command(p.Renew(1500), 4), b"\x00\xff"]
    for _ in range(500):
        stream = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
        whole = decoder().feed(stream)
        one = decoder()
        single = [event for i in range(len(stream)) for event in one.feed(stream[i:i + 1])]
        assert repr(whole) == repr(single)
