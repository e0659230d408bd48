"""docs/protocol.md is the contract: its test vectors and transcripts must match the codec.

The vectors (§12) and transcripts (§2.2, §8, §9, §10) are published as neutral JSON,
docs/protocol-vectors.json, generated from the document by tests/vectors_doc.py: the file
must equal what the document gives. This test reads the file, as a codec in another language
would, and checks the reference codec against it in both directions: encoding gives exactly
the bytes, decoding gives exactly the message. The transcripts must decode line by line,
every host line must get exactly one reply tagged with its sequence number, and every framed
line quoted in the prose must carry a valid CRC.
"""

from __future__ import annotations

import json
import re

import pytest

from chair import limits
from chair import protocol as p
from tests import vectors_doc
from tests.vectors_doc import DOC, JSON_PATH, TEXT, from_json

PUBLISHED = json.loads(JSON_PATH.read_text(encoding="ascii"))


def test_the_published_vectors_are_the_documents():
    """docs/protocol-vectors.json is protocol.md's fenced blocks, byte for byte."""
    assert JSON_PATH.read_text(encoding="ascii") == vectors_doc.dumps(vectors_doc.document()), (
        f"{JSON_PATH.name} differs from {DOC.name}: run `python -m tests.vectors_doc`")


def test_each_text_is_its_bytes():
    """`text` is `bytes` made readable, nothing more."""
    entries = PUBLISHED["vectors"] + [x for t in PUBLISHED["transcripts"] for x in t["lines"]
                                      if "side" in x]
    for x in entries:
        assert vectors_doc.unescape(x["text"]) == bytes.fromhex(x["bytes"]), x["text"]
    assert vectors_doc.escape(bytes(range(256))).isascii()
    assert vectors_doc.unescape(vectors_doc.escape(bytes(range(256)))) == bytes(range(256))


def test_the_neutral_encoding_round_trips():
    """Every expected value of the file is a codec object and back, unchanged."""
    for v in PUBLISHED["vectors"]:
        for x in v.get("events", []) + ([v["message"]] if "message" in v else []):
            assert vectors_doc.to_json(from_json(x)) == x


def decode_host(data: bytes, mode: str = "") -> list:
    """What a device decodes: protocol 2 outside a host session unless `mode` says."""
    decoder = p.HostDecoder(1 if mode == "v1" else 2)
    decoder.session = mode == "session"
    return decoder.feed(data)


def decode_device(data: bytes) -> list:
    return p.DeviceDecoder().feed(data)


class Vector:
    """One vector of the file, its expected values made codec objects."""

    def __init__(self, index: int, entry: dict) -> None:
        self.index, self.direction, self.mode = index, entry["direction"], entry["mode"]
        self.data = bytes.fromhex(entry["bytes"])
        self.events = [from_json(e) for e in entry.get("events", [])]
        self.message = from_json(entry["message"]) if "message" in entry else None
        self.reply = bytes.fromhex(entry["reply"]) if "reply" in entry else None

    def __str__(self) -> str:
        return (f"{JSON_PATH.name}[{self.index}] {self.direction}"
                f"{'@' + self.mode if self.mode else ''} {self.data!r}")


VECTORS = [Vector(i, entry) for i, entry in enumerate(PUBLISHED["vectors"])]
DIRECTIONS = vectors_doc.DIRECTIONS
MODES = vectors_doc.MODES


# --------------------------------------------------------------------------- the vectors


REAL_TIME = {p.STATUS_BYTE, p.ESTOP_BYTE, p.TYPED_ESTOP_BYTE}


def test_the_document_has_vectors_of_every_direction():
    assert {v.direction for v in VECTORS} == DIRECTIONS
    assert len(VECTORS) > 100


@pytest.mark.parametrize("vector", VECTORS, ids=str)
def test_vector(vector: Vector):
    if vector.direction == "host":
        (frame,) = vector.events
        assert frame.crc == (b"*" in vector.data)
        assert p.encode_command(frame.command, frame.seq, crc=frame.crc) == vector.data
        assert decode_host(vector.data) == [frame]
        assert vector.data.endswith(b"\n") and vector.data.count(b"\n") == 1
    elif vector.direction == "byte":
        assert len(vector.data) == 1 and vector.data[0] in REAL_TIME
        assert decode_host(vector.data, vector.mode) == vector.events
    elif vector.direction == "host-stream":
        assert decode_host(vector.data, vector.mode) == vector.events
    elif vector.direction == "device-stream":
        assert decode_device(vector.data) == vector.events
    elif vector.direction == "bad":
        (bad,) = vector.events
        assert isinstance(bad, p.BadLine)
        assert decode_host(vector.data) == [bad]
        assert p.encode_device(p.Error(bad.seq, bad.code, bad.detail)) == vector.reply
        assert decode_device(vector.reply) == [p.Error(bad.seq, bad.code, bad.detail)]
    else:
        assert p.encode_device(vector.message) == vector.data
        assert decode_device(vector.data) == [vector.message]


def test_the_vectors_cover_every_message_kind():
    host = [v.events[0] for v in VECTORS if v.direction == "host"]
    for cls in p.COMMANDS.values():
        kinds = {(f.seq is not None, f.crc) for f in host if type(f.command) is cls}
        assert (True, True) in kinds, f"{cls.VERB} with seq and CRC"
        assert any(not crc for _, crc in kinds), f"{cls.VERB} without CRC"
    device = [v.message for v in VECTORS if v.direction == "device"]
    kinds = {type(m) for m in device}
    assert kinds == {p.Ok, p.Error, p.FaultReport, p.Banner, p.LimitLine, p.Info,
                     p.StatusReport}
    oks = [m for m in device if isinstance(m, p.Ok)]
    assert any(m.seq is None for m in oks) and any(m.seq is not None for m in oks)
    assert any(m.data for m in oks) and any(m.table for m in oks)
    assert {m.code for m in device if isinstance(m, p.Error)} == set(p.ErrorCode)
    assert any(m.expect is not None for m in device if isinstance(m, p.Error))
    assert {m.code for m in device if isinstance(m, p.FaultReport)} == set(p.FaultCode)
    assert {m.state for m in device if isinstance(m, p.StatusReport)} == set(p.STATES)
    for mode, stops in (("", {p.ESTOP_BYTE, p.TYPED_ESTOP_BYTE}), ("v1", {p.TYPED_ESTOP_BYTE}),
                        ("session", {p.ESTOP_BYTE})):
        rt = {v.events[0].byte for v in VECTORS if v.direction == "byte" and v.mode == mode}
        assert rt == {p.STATUS_BYTE} | stops, mode
    streams = {v.mode for v in VECTORS if v.direction == "host-stream"}
    assert streams == {"", *MODES}
    bad = {v.events[0].code for v in VECTORS if v.direction == "bad"}
    assert bad == {p.ErrorCode.BAD_CRC, p.ErrorCode.UNKNOWN_COMMAND, p.ErrorCode.BAD_ARGS,
                   p.ErrorCode.LINE_TOO_LONG, p.ErrorCode.BAD_BYTE}
    codes = {e.code for v in VECTORS if v.direction == "device-stream" for e in v.events
             if isinstance(e, p.BadLine)}
    assert {p.ErrorCode.NEED_CRC, p.ErrorCode.BAD_CRC} <= codes


def test_every_single_bit_flip_of_a_vector_is_caught():
    """No flipped bit turns a documented frame into a different valid one (exhaustive)."""
    sentinel = p.encode_command(p.QueryInfo(), 1)
    for vector in VECTORS:
        if vector.direction == "host" and b"*" in vector.data:
            frame = vector.events[0]
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


TRANSCRIPTS = PUBLISHED["transcripts"]


def transcript_lines(transcript: dict) -> list[tuple[int, str, bytes]]:
    """(index, side, bytes) of a transcript's host and device lines, notes left out."""
    return [(i, x["side"], bytes.fromhex(x["bytes"]))
            for i, x in enumerate(transcript["lines"]) if "side" in x]


def test_the_document_has_transcripts():
    assert len(TRANSCRIPTS) >= 4
    assert {t["section"] for t in TRANSCRIPTS} >= {"2.2", "8", "9", "10"}


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=lambda t: f"section {t['section']}")
def test_transcript(transcript):
    """Every line decodes, and every host line gets exactly one reply, tagged with its seq."""
    where = f"{JSON_PATH.name} transcript of section {transcript['section']}"
    asked: list[tuple[int, p.Frame | p.BadLine]] = []
    replies: list[tuple[int, p.Ok | p.Error]] = []
    for number, side, data in transcript_lines(transcript):
        if side == ">":
            (event,) = decode_host(data)
            if not isinstance(event, p.RealTime):
                asked.append((number, event))
        else:
            (message,) = decode_device(data)
            assert not isinstance(message, p.BadLine), f"{where}, line {number}: {message}"
            if isinstance(message, (p.Ok, p.Error)):
                replies.append((number, message))
    assert len(asked) == len(replies), f"{where}: one reply per line"
    for (line, question), (reply_line, reply) in zip(asked, replies, strict=True):
        at = f"{where}: line {line} answered at {reply_line}"
        assert question.seq == reply.seq, at
        if isinstance(question, p.BadLine):
            assert reply == p.Error(question.seq, question.code, question.detail), at


def test_the_transcript_limits_table_is_the_device_table():
    lines = [decode_device(data)[0] for t in TRANSCRIPTS
             for _, side, data in transcript_lines(t) if side == "<"]
    table = [m for m in lines if isinstance(m, p.LimitLine)]
    assert [(m.name, m.value) for m in table] == [(x.name, x.value)
                                                  for x in limits.DEVICE_TABLE]
    crc = p.table_crc((m.name, m.value) for m in table)
    assert p.Ok(None, f"crc={crc:04X} n={len(table)}") in lines
    assert (len(table), crc) in [m.table for m in lines if isinstance(m, p.Ok)]
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
