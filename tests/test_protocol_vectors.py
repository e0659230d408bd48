"""docs/protocol.md is the contract: its test vectors and transcripts must match the codec.

The vectors (§12) are read out of the document and checked in both directions: encoding
gives exactly the bytes, decoding gives exactly the message. The transcripts (§2.2, §8, §9,
§10) must decode line by line, every host line must get exactly one reply tagged with its
sequence number, and every framed line quoted in the prose must carry a valid CRC.
"""

from __future__ import annotations

import ast
import codecs
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from chair import limits
from chair import protocol as p

DOC = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"
TEXT = DOC.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- reading the doc


def fenced(tag: str) -> list[list[tuple[int, str]]]:
    """The blocks fenced with ```tag, each as (line number, line) pairs."""
    blocks, current = [], None
    for number, line in enumerate(TEXT.splitlines(), start=1):
        if current is None and line.strip() == f"```{tag}":
            current = []
        elif current is not None and line.strip() == "```":
            blocks.append(current)
            current = None
        elif current is not None:
            current.append((number, line))
    assert current is None, f"unclosed ```{tag} block in {DOC}"
    return blocks


#: Every class the notation may name: the commands, the decoder events, the device messages.
CLASSES: dict[str, type] = {
    **{cls.__name__: cls for cls in p.COMMANDS.values()},
    **{cls.__name__: cls for cls in (p.Frame, p.RealTime, p.BadLine, p.Ok, p.Error,
                                     p.FaultReport, p.Banner, p.LimitLine, p.Info,
                                     p.StatusReport)},
}
ENUMS = {"ErrorCode": p.ErrorCode, "FaultCode": p.FaultCode}


def value(node: ast.AST) -> object:
    """Evaluate the vector notation: constructor calls with keywords, literals, enum members.

    Nothing else is accepted, so the document can never run code.
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, type(None))):
        return node.value
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, (int, float))):
        return -node.operand.value
    if isinstance(node, ast.Tuple):
        return tuple(value(e) for e in node.elts)
    if isinstance(node, ast.List):
        return [value(e) for e in node.elts]
    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id in ENUMS):
        return ENUMS[node.value.id][node.attr]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in CLASSES and not node.args):
        return CLASSES[node.func.id](**{kw.arg: value(kw.value) for kw in node.keywords})
    raise ValueError(f"not allowed in a vector: {ast.dump(node)}")


def expected(text: str) -> object:
    return value(ast.parse(text.strip(), mode="eval").body)


def unescape(text: str) -> bytes:
    """The bytes column: ASCII with C-style escapes (\\n, \\r, \\xNN, \\\\)."""
    return codecs.escape_decode(text.encode("ascii"))[0]


@dataclass(frozen=True)
class Vector:
    line: int
    direction: str
    data: bytes
    expected: str
    reply: bytes | None = None
    mode: str = ""  # "" protocol 2 outside a host session, "v1", or "session" (§12)

    def __str__(self) -> str:
        return f"{DOC.name}:{self.line} {self.direction}{'@' + self.mode if self.mode else ''}"


DIRECTIONS = {"host", "byte", "host-stream", "bad", "device", "device-stream"}
#: The decoder states a `byte` or `host-stream` vector may name after `@`.
MODES = {"v1", "session"}


def read_vectors() -> list[Vector]:
    vectors = []
    for block in fenced("vectors"):
        for number, line in block:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            columns = line.split(" | ")
            direction, _, mode = columns[0].strip().partition("@")
            assert direction in DIRECTIONS, f"{DOC.name}:{number}: direction {direction!r}"
            assert not mode or (mode in MODES and direction in ("byte", "host-stream")), \
                f"{DOC.name}:{number}: mode {mode!r}"
            assert len(columns) == (4 if direction == "bad" else 3), f"{DOC.name}:{number}"
            reply = unescape(columns[3]) if direction == "bad" else None
            vectors.append(Vector(number, direction, unescape(columns[1]), columns[2], reply,
                                  mode))
    return vectors


VECTORS = read_vectors()
HOST_FORM = re.compile(r"(?P<command>.+\))(?: seq=(?P<seq>\d+))?")


def host_frame(vector: Vector) -> p.Frame:
    match = HOST_FORM.fullmatch(vector.expected.strip())
    assert match, f"{vector}: expected 'Command(...)[ seq=N]'"
    command = expected(match["command"])
    assert isinstance(command, p.Command), vector
    seq = int(match["seq"]) if match["seq"] else None
    return p.Frame(seq, command, b"*" in vector.data)


def decode_host(data: bytes, mode: str = "") -> list:
    """What a device decodes: protocol 2 outside a host session unless `mode` says."""
    decoder = p.HostDecoder(1 if mode == "v1" else 2)
    decoder.session = mode == "session"
    return decoder.feed(data)


def decode_device(data: bytes) -> list:
    return p.DeviceDecoder().feed(data)


# --------------------------------------------------------------------------- the vectors


REAL_TIME = {p.STATUS_BYTE, p.ESTOP_BYTE, p.TYPED_ESTOP_BYTE}


def test_the_document_has_vectors_of_every_direction():
    assert {v.direction for v in VECTORS} == DIRECTIONS
    assert len(VECTORS) > 100


@pytest.mark.parametrize("vector", VECTORS, ids=str)
def test_vector(vector: Vector):
    if vector.direction == "host":
        frame = host_frame(vector)
        assert p.encode_command(frame.command, frame.seq, crc=frame.crc) == vector.data
        assert decode_host(vector.data) == [frame]
        assert vector.data.endswith(b"\n") and vector.data.count(b"\n") == 1
    elif vector.direction == "byte":
        event = expected(vector.expected)
        assert len(vector.data) == 1 and vector.data[0] in REAL_TIME
        assert decode_host(vector.data, vector.mode) == [event]
    elif vector.direction == "host-stream":
        assert decode_host(vector.data, vector.mode) == expected(vector.expected)
    elif vector.direction == "device-stream":
        assert decode_device(vector.data) == expected(vector.expected)
    elif vector.direction == "bad":
        bad = expected(vector.expected)
        assert isinstance(bad, p.BadLine)
        assert decode_host(vector.data) == [bad]
        assert p.encode_device(p.Error(bad.seq, bad.code, bad.detail)) == vector.reply
        assert decode_device(vector.reply) == [p.Error(bad.seq, bad.code, bad.detail)]
    else:
        message = expected(vector.expected)
        assert p.encode_device(message) == vector.data
        assert decode_device(vector.data) == [message]


def test_the_vectors_cover_every_message_kind():
    host = [host_frame(v) for v in VECTORS if v.direction == "host"]
    for cls in p.COMMANDS.values():
        kinds = {(f.seq is not None, f.crc) for f in host if type(f.command) is cls}
        assert (True, True) in kinds, f"{cls.VERB} with seq and CRC"
        assert any(not crc for _, crc in kinds), f"{cls.VERB} without CRC"
    device = [expected(v.expected) for v in VECTORS if v.direction == "device"]
    kinds = {type(m) for m in device}
    assert kinds == {p.Ok, p.Error, p.FaultReport, p.Banner, p.LimitLine, p.Info,
                     p.StatusReport}
    oks = [m for m in device if isinstance(m, p.Ok)]
    assert any(m.seq is None for m in oks) and any(m.seq is not None for m in oks)
    assert any(m.data for m in oks)
    assert {m.code for m in device if isinstance(m, p.Error)} == set(p.ErrorCode)
    assert {m.code for m in device if isinstance(m, p.FaultReport)} == set(p.FaultCode)
    assert {m.state for m in device if isinstance(m, p.StatusReport)} == set(p.STATES)
    for mode, stops in (("", {p.ESTOP_BYTE, p.TYPED_ESTOP_BYTE}), ("v1", {p.TYPED_ESTOP_BYTE}),
                        ("session", {p.ESTOP_BYTE})):
        rt = {expected(v.expected).byte for v in VECTORS
              if v.direction == "byte" and v.mode == mode}
        assert rt == {p.STATUS_BYTE} | stops, mode
    streams = {v.mode for v in VECTORS if v.direction == "host-stream"}
    assert streams == {"", *MODES}
    bad = {expected(v.expected).code for v in VECTORS if v.direction == "bad"}
    assert bad == {p.ErrorCode.BAD_CRC, p.ErrorCode.UNKNOWN_COMMAND, p.ErrorCode.BAD_ARGS,
                   p.ErrorCode.LINE_TOO_LONG, p.ErrorCode.BAD_BYTE}
    streams = [expected(v.expected) for v in VECTORS if v.direction == "device-stream"]
    codes = {e.code for events in streams for e in events if isinstance(e, p.BadLine)}
    assert {p.ErrorCode.NEED_CRC, p.ErrorCode.BAD_CRC} <= codes


def test_every_single_bit_flip_of_a_vector_is_caught():
    """No flipped bit turns a documented frame into a different valid one (exhaustive)."""
    sentinel = p.encode_command(p.QueryInfo(), 1)
    for vector in VECTORS:
        if vector.direction == "host" and b"*" in vector.data:
            frame = host_frame(vector)
            decoder, bare = p.HostDecoder, p.Frame(frame.seq, frame.command, False)
        elif vector.direction == "device":
            decoder, bare = p.DeviceDecoder, None
        else:
            continue
        for index in range(len(vector.data) - 1):
            for bit in range(8):
                flipped = bytearray(vector.data)
                flipped[index] ^= 1 << bit
                events = decoder().feed(bytes(flipped) + sentinel)
                assert events[-1] == decoder().feed(sentinel)[0], (vector, index, bit)
                for event in events[:-1]:
                    ok = isinstance(event, (p.BadLine, p.RealTime)) or event == bare
                    assert ok, f"{vector}: flip of bit {bit} at {index} gave {event}"


# --------------------------------------------------------------------------- the transcripts


def transcript_lines(block: list[tuple[int, str]]) -> list[tuple[int, str, bytes]]:
    lines = []
    for number, line in block:
        if line.startswith("-- ") or not line.strip():
            continue
        assert line[:2] in ("> ", "< "), f"{DOC.name}:{number}: {line!r}"
        body = unescape(line[2:])  # a real-time byte stands alone: `?`, `!` or `\x9e`
        lines.append((number, line[0], body if body in REAL_TIME_ALONE else body + b"\n"))
    return lines


TRANSCRIPTS = fenced("transcript")
REAL_TIME_ALONE = {bytes([b]) for b in (p.STATUS_BYTE, p.ESTOP_BYTE, p.TYPED_ESTOP_BYTE)}


def test_the_document_has_transcripts():
    assert len(TRANSCRIPTS) >= 4


@pytest.mark.parametrize("block", TRANSCRIPTS, ids=lambda b: f"{DOC.name}:{b[0][0]}")
def test_transcript(block):
    """Every line decodes, and every host line gets exactly one reply, tagged with its seq."""
    asked: list[tuple[int, p.Frame | p.BadLine]] = []
    replies: list[tuple[int, p.Ok | p.Error]] = []
    for number, side, data in transcript_lines(block):
        if side == ">":
            (event,) = decode_host(data)
            if not isinstance(event, p.RealTime):
                asked.append((number, event))
        else:
            (message,) = decode_device(data)
            assert not isinstance(message, p.BadLine), f"{DOC.name}:{number}: {message}"
            if isinstance(message, (p.Ok, p.Error)):
                replies.append((number, message))
    assert len(asked) == len(replies), f"{DOC.name}:{block[0][0]}: one reply per line"
    for (line, question), (reply_line, reply) in zip(asked, replies, strict=True):
        where = f"{DOC.name}:{line} answered at {reply_line}"
        assert question.seq == reply.seq, where
        if isinstance(question, p.BadLine):
            assert reply == p.Error(question.seq, question.code, question.detail), where


def test_the_transcript_limits_table_is_the_device_table():
    lines = [decode_device(data)[0] for block in TRANSCRIPTS
             for _, side, data in transcript_lines(block) if side == "<"]
    table = [m for m in lines if isinstance(m, p.LimitLine)]
    assert [(m.name, m.value) for m in table] == [(x.name, x.value)
                                                  for x in limits.DEVICE_TABLE]
    crc = limits.table_crc([limits.Limit(m.name, m.value, "", "", "") for m in table])
    assert p.Ok(None, f"crc={crc:04X} n={len(table)}") in lines
    banner = next(m for m in lines if isinstance(m, p.Banner))
    assert banner.limits_crc == crc == limits.DEVICE_TABLE_CRC


# --------------------------------------------------------------------------- the prose


def test_every_framed_line_quoted_in_the_prose_is_valid():
    """Inline `...*XXXX` lines in the text carry the right CRC (or are documented bad input)."""
    bad_inputs = {v.data.rstrip(b"\n") for v in VECTORS if v.direction == "bad"}
    quoted = re.findall(r"`(?:[<>] )?([^`*][^`]*\*[0-9A-Fa-f]{4})`", TEXT)
    assert len(quoted) > 40
    for text in quoted:
        data = text.encode("ascii")
        host = decode_host(data + b"\n")
        device = p.parse_device_line(data)
        valid = isinstance(host[-1], p.Frame) or not isinstance(device, p.BadLine)
        assert valid or data in bad_inputs, f"{text!r}: {host} / {device}"


def test_the_worked_crc_example():
    row = re.search(r"\| CRC after it \|(.*)\|", TEXT)
    assert row, "the worked CRC example's table"
    shown = [int(cell.strip(" *"), 16) for cell in row.group(1).split("|")]
    payload = b"1 SYNC"
    running = [crc16_bitwise(payload[:n]) for n in range(1, len(payload) + 1)]
    assert shown == running and running[-1] == p.crc16(payload)
    assert p.encode_command(p.Sync(), 1) == b"1 SYNC*1454\n"
    assert "31 20 53 59 4E 43 2A 31 34 35 34 0A" in TEXT
    assert f"is 0x{limits.DEVICE_TABLE_CRC:04X}" in TEXT


def crc16_bitwise(data: bytes) -> int:
    """The document's C function, line for line."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def test_the_documented_c_crc_matches_the_codec():
    assert crc16_bitwise(b"123456789") == 0x29B1
    for vector in VECTORS:
        payload, star, tail = vector.data.rstrip(b"\r\n").rpartition(b"*")
        if star and vector.direction in ("host", "device"):
            assert crc16_bitwise(payload) == int(tail, 16) == p.crc16(payload), vector


def test_the_documented_limits_match_the_code():
    assert "at most 96 bytes before the terminator" in TEXT and p.MAX_HOST_LINE == 96
    assert "at most 256 bytes before its\nterminator" in TEXT and p.MAX_DEVICE_LINE == 256
    assert "`lease_ms` is 1..2000 (`lease_ms_max`)" in TEXT
    assert limits.DEVICE["lease_ms_max"] == 2000
    assert limits.DEVICE["deadman_ms"] == 500
    for name in limits.DEVICE:
        base = name.split(".")[0]
        assert f"`{base}" in TEXT, f"limits entry {name} is not named in the document"
    for code in p.ErrorCode:
        assert f"| {code.wire.replace(' ', ' | ')} |" in TEXT, code
    for code in p.FaultCode:
        assert f"| {code.wire.replace(' ', ' | ')} |" in TEXT, code
