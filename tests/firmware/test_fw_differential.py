"""The firmware codec against chair.protocol, the reference: for any host byte stream, however
it is split, in protocol 1 and 2, within a host session or not, the firmware's decoder gives
the same events (same codes, detail text and seq); the device encoders give the same bytes.
"""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from chair import protocol as p
from firmware import codec, crc, encode

# --------------------------------------------------------------------------- the reference


class Reference(p.HostDecoder):
    """chair.protocol's decoder, with the `crc` and `sequenced` flags of a refused line that
    carried a sequence number worked out as sim.device's decoder did (issue 11's API)."""

    def parse(self, line: bytes):  # type: ignore[override]
        event = p.parse_host_line(line)
        if type(event) is p.BadLine and event.seq is not None:
            tokens = line.split(b"*")[0].split()
            verb = tokens[1].decode().upper() if len(tokens) > 1 else ""
            cls = p.COMMANDS.get(verb)
            sequenced = cls is None or cls.KIND not in (p.Kind.QUERY, p.Kind.MODE)
            return (event, b"*" in line, sequenced)
        return event


def as_tuple(event: object) -> tuple:
    """A reference event in the firmware's tuple form (a BAD without a seq: 4 fields and
    `sequenced`, the line's `*` being unknown to the reference)."""
    if type(event) is p.RealTime:
        return (codec.RT, event.byte)
    if type(event) is p.Frame:
        args = tuple(getattr(event.command, name) for name, _ in p.ARGUMENTS[event.command.VERB])
        return (codec.FRAME, event.seq, event.crc, event.command.VERB, args)
    if type(event) is tuple:
        bad, has_star, sequenced = event
        return (codec.BAD, int(bad.code), bad.detail, bad.seq, has_star, sequenced)
    return (codec.BAD, int(event.code), event.detail, None, False)


def comparable(event: tuple) -> tuple:
    if event[0] == codec.BAD and event[3] is None:
        return (*event[:4], event[5])  # `crc` of a seq-less line: checked by mp_test_vectors
    return event


def typed(events: list) -> list:
    """Events with each number's type beside it, so that 12 and 12.0 differ."""
    return [(e, [type(a) for a in e[4]] if e[0] == codec.FRAME else None) for e in events]


# --------------------------------------------------------------------------- host streams

TOKENS = ["lumbar", "seat", "knead", "off", "tap", "shoulders", "calves", "x", "a-1"]
words = st.one_of(st.sampled_from(TOKENS), st.text(string.ascii_lowercase, min_size=1,
                                                   max_size=18))
ints = st.one_of(st.integers(0, 3000), st.integers(-999_999_999, 999_999_999))
floats = st.one_of(st.integers(-5000, 5000).map(lambda n: n / 4),
                   st.floats(-1e8, 1e8, allow_nan=False, allow_infinity=False))


@st.composite
def commands(draw) -> p.Command:
    cls = draw(st.sampled_from(list(p.COMMANDS.values())))
    values = []
    for _, kind in p.ARGUMENTS[cls.VERB]:
        values.append(draw(ints if kind is int else floats if kind is float else words))
    return cls(*values)


def mangle_case(draw, data: bytes) -> bytes:
    flips = draw(st.lists(st.booleans(), min_size=len(data), max_size=len(data)))
    return bytes(b ^ 0x20 if flip and chr(b).isalpha() else b for b, flip in zip(data, flips,
                                                                                  strict=True))


@st.composite
def pieces(draw) -> bytes:
    kind = draw(st.integers(0, 9))
    end = draw(st.sampled_from([b"\n", b"\r", b"\r\n", b"\n\n", b""]))
    if kind <= 3:  # a valid line, sometimes bare, in any case, sometimes a bit flipped
        seq = draw(st.one_of(st.none(), st.integers(0, 65535)))
        line = p.encode_command(draw(commands()), seq, crc=draw(st.booleans()))[:-1]
        if draw(st.booleans()):
            line = mangle_case(draw, line)
        if draw(st.integers(0, 4)) == 0 and line:
            i = draw(st.integers(0, len(line) - 1))
            line = line[:i] + bytes([line[i] ^ (1 << draw(st.integers(0, 7)))]) + line[i + 1:]
        return line + end
    if kind == 4:  # a bare line of words and numbers
        parts = draw(st.lists(st.one_of(words, ints.map(str), floats.map(str),
                                        st.sampled_from(["1e1", "+1", "nan", ".5", "*", "7",
                                                         "70000", "00007", "STATUS"])),
                              max_size=8))
        return " ".join(parts).encode() + end
    if kind == 5:
        return draw(st.binary(max_size=40))
    if kind == 6:
        return draw(st.sampled_from([b"?", b"\x9e", b"!", b"\r", b"\n", b"*", b" "]))
    if kind == 7:
        return draw(st.sampled_from([b"A", b"7 ", b"R", b"!"])) * draw(st.integers(80, 220)) + end
    if kind == 8:
        return draw(st.text(string.printable, max_size=60)).encode() + end
    return draw(st.binary(max_size=4)) + p.encode_command(draw(commands()), draw(
        st.integers(0, 65535)))


@st.composite
def feeds(draw) -> list[tuple[bytes, bool]]:
    """The stream cut into feeds, each with the `session` flag set before it."""
    data = b"".join(draw(st.lists(pieces(), max_size=12)))
    how = draw(st.sampled_from(["whole", "random", "bytes"]))
    if how == "whole":
        chunks = [data]
    elif how == "bytes":
        chunks = [data[i:i + 1] for i in range(len(data))]
    else:
        cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    session = draw(st.sampled_from(["on", "off", "mixed"]))
    return [(c, draw(st.booleans()) if session == "mixed" else session == "on") for c in chunks]


@settings(max_examples=400, deadline=None)
@given(feeds(), st.sampled_from([1, 2]))
def test_the_decoder_gives_the_reference_events(chunks, proto) -> None:
    mine, ref = codec.HostDecoder(proto), Reference(proto)
    for chunk, session in chunks:
        mine.session = ref.session = session
        got = mine.feed(chunk)
        want = [as_tuple(e) for e in ref.feed(chunk)]
        assert [comparable(e) for e in got] == want, chunk
        assert typed([comparable(e) for e in got]) == typed(want)


@given(st.binary(max_size=120))
def test_a_line_gives_the_reference_event(line) -> None:
    line = line.replace(b"\n", b"").replace(b"\r", b"")
    got = codec.HostDecoder().parse(line)
    want = as_tuple(Reference().parse(line))
    assert comparable(got) == want
    if got[0] == codec.BAD:
        assert got[4] == (b"*" in line)


@given(st.binary(max_size=200))
def test_the_printable_check_agrees_with_its_loop(line) -> None:
    assert codec.first_bad_byte(line) == codec.first_bad_byte_loop(line)


# --------------------------------------------------------------------------- device lines

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=150)
numbers = st.one_of(floats, st.floats(), st.sampled_from([0.25, -0.25, 2.75, 1e9, -0.04,
                                                          999_999_999.96, 0.0625]))
codes_e = st.sampled_from(list(p.ErrorCode))
codes_f = st.sampled_from(list(p.FaultCode))
seqs = st.one_of(st.none(), st.integers(0, 65535))
names = st.lists(words, max_size=7).map(tuple)


def reference_line(message) -> bytes | type:
    try:
        return p.encode_device(message)
    except ValueError:
        return ValueError


def firmware_line(call) -> bytes | type:
    try:
        return call()
    except ValueError:
        return ValueError


@given(seqs, texts)
def test_ok_lines(seq, data) -> None:
    assert codec.ok(seq, data) == reference_line(p.Ok(seq, data))
    assert codec.ok(seq) == reference_line(p.Ok(seq))


@given(seqs, codes_e, codes_f, texts)
def test_error_fault_and_info_lines(seq, code, fault, text) -> None:
    assert codec.error(seq, int(code), text) == reference_line(p.Error(seq, code, text))
    assert codec.fault(int(fault), text) == reference_line(p.FaultReport(fault, text))
    assert codec.info(text) == reference_line(p.Info(text))


@given(words, numbers, st.integers(1, 2), texts, names, names, numbers, numbers,
       st.integers(0, 0xFFFF))
def test_limit_and_banner_lines(name, value, proto, fw, zones, heaters, track, seat, crc16):
    assert firmware_line(lambda: codec.limit(name, value)) == reference_line(
        p.LimitLine(name, value))
    fw = fw.replace(" ", "")
    assert firmware_line(lambda: codec.banner(proto, fw, list(zones), list(heaters), track,
                                              seat, crc16)) == reference_line(
        p.Banner(proto, fw, zones, heaters, track, seat, crc16))


@given(st.sampled_from(p.STATES), numbers, numbers, words, ints, ints, ints, numbers,
       st.lists(numbers, max_size=7), st.lists(numbers, max_size=3), ints, numbers, numbers,
       st.booleans(), st.booleans(), st.lists(codes_f, max_size=4, unique=True))
def test_status_lines(state, t, pos, tech, w, d, spd, force, air, heat, foot, back, leg,
                      occ, pinch, faults) -> None:
    faults = sorted(faults)
    want = reference_line(p.StatusReport(state, t, pos, tech, w, d, spd, force, tuple(air),
                                         tuple(heat), foot, back, leg, occ, pinch,
                                         tuple(faults)))
    assert firmware_line(lambda: codec.status(
        state, t, pos, tech, w, d, spd, force, air, heat, foot, back, leg, occ, pinch,
        [int(f) for f in faults])) == want


@given(st.one_of(st.integers(-40000, 40000).map(lambda n: n / 16),
                st.builds(lambda n, k: n / 2 ** k, st.integers(-10**9, 10**9), st.integers(0, 12)),
                numbers))
def test_the_micropython_tie_rounding_gives_cpython_digits(value) -> None:
    """The tie correction MicroPython uses (see encode._fixed), checked here on CPython."""
    saved = encode._TIES_AWAY
    encode._TIES_AWAY = True
    try:
        for places in (0, 1, 3, 5):
            assert encode._fixed(value, places) == (f"{value:.{places}f}"), (value, places)
        assert encode._gtext(value) == f"{value:g}", value
    finally:
        encode._TIES_AWAY = saved


@given(st.binary(max_size=300), st.integers(0, 0xFFFF))
def test_crc16_is_crc_hqx(data, start) -> None:
    import binascii

    assert crc.crc16_table(data, start) == binascii.crc_hqx(data, start)
    assert crc.crc16(data, start) == binascii.crc_hqx(data, start)
    assert crc.crc16_table(data) == p.crc16(data)
