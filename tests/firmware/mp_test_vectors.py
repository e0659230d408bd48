"""docs/protocol.md §12, every vector a device honours, against the firmware's codec.

Plain `test_*` functions with `assert` only: they run under CPython (test_fw_mp_suite.py)
and under MicroPython (tests/test_micropython.py). The vectors come as JSON written by
tests/firmware/vectors_json.py: `VECTORS_PATH` when a harness sets it, else the file
`protocol_vectors.json` in a directory of sys.path.
"""

import binascii
import json
import struct
import sys

from firmware import codec

VECTORS_PATH = None
FILE_NAME = "protocol_vectors.json"
_CACHE = []


def _document():
    if not _CACHE:
        paths = [VECTORS_PATH] if VECTORS_PATH else [d + "/" + FILE_NAME for d in sys.path]
        for path in paths:
            try:
                with open(path) as f:
                    _CACHE.append(json.load(f))
                break
            except OSError:
                continue
        assert _CACHE, "no %s on sys.path" % FILE_NAME
    return _CACHE[0]


def _vectors(direction):
    return [v for v in _document()["vectors"] if v["direction"] == direction]


def _bytes(text):
    return binascii.unhexlify(text)


def _value(x):
    """A JSON value with its floats ({"f": hex of the double}) made floats."""
    if isinstance(x, dict):
        return struct.unpack("<d", _bytes(x["f"]))[0]
    if isinstance(x, list):
        return [_value(e) for e in x]
    return x


def _neutral(x):
    """A codec value in the JSON's form: floats as the hex of their double, tuples as lists."""
    if isinstance(x, float):
        return {"f": binascii.hexlify(struct.pack("<d", x)).decode()}
    if isinstance(x, (tuple, list)):
        return [_neutral(e) for e in x]
    return x


def _decode(data, mode, cuts=()):
    decoder = codec.HostDecoder(1 if mode == "v1" else 2)
    decoder.session = mode == "session"
    events = []
    start = 0
    for cut in list(cuts) + [len(data)]:
        events.extend(decoder.feed(data[start:cut]))
        start = cut
    return events


def _same(events, expected):
    """The decoder's events equal the expected ones (a stream's BAD events: 4 fields)."""
    if len(events) != len(expected):
        return False
    for event, want in zip(events, expected):
        got = _neutral(event)
        if got[0] == codec.BAD and len(want) == 4:
            got = got[:4]
        if got != want:
            return False
    return True


def _check_decoding(direction):
    """Each vector of `direction`: whole, byte by byte, and split at every point."""
    failed = []
    vectors = _vectors(direction)
    for v in vectors:
        data = _bytes(v["data"])
        ways = [(), range(1, len(data))] + [(i,) for i in range(1, len(data))]
        for cuts in ways:
            events = _decode(data, v["mode"], cuts)
            if not _same(events, v["events"]):
                failed.append("%s cut at %s: %r" % (v["where"], list(cuts), events))
                break
    assert not failed, "\n".join(failed)
    return vectors


def _count(vectors, direction):
    counts = _document()["counts"]
    want = sum(n for key, n in counts.items() if key.split("@")[0] == direction)
    assert len(vectors) == want > 0, (direction, len(vectors), want)


def test_host_vectors():
    _count(_check_decoding("host"), "host")


def test_byte_vectors_in_every_mode():
    vectors = _check_decoding("byte")
    _count(vectors, "byte")
    assert set(v["mode"] for v in vectors) == {"", "v1", "session"}


def test_host_stream_vectors_in_every_mode():
    vectors = _check_decoding("host-stream")
    _count(vectors, "host-stream")
    assert set(v["mode"] for v in vectors) == {"", "v1", "session"}


def test_bad_vectors_and_their_replies():
    vectors = _check_decoding("bad")
    _count(vectors, "bad")
    failed = []
    for v in vectors:
        _, code, detail, seq, _, _ = v["events"][0]
        line = codec.error(seq, code, detail)
        if line != _bytes(v["reply"]):
            failed.append("%s: %r" % (v["where"], line))
    assert not failed, "\n".join(failed)


def test_device_vectors_encode_to_their_bytes():
    vectors = _vectors("device")
    _count(vectors, "device")
    failed = []
    for v in vectors:
        name, args = v["call"]
        line = getattr(codec, name)(*_value(args))
        if line != _bytes(v["data"]):
            failed.append("%s: %r" % (v["where"], line))
    assert not failed, "\n".join(failed)
    assert set(v["call"][0] for v in vectors) == {
        "ok", "error", "fault", "info", "limit", "banner", "status"}


def test_more_device_lines_encode_as_chair_protocol_does():
    """Random messages (ties, -0.0, nan, inf, huge values): the bytes chair.protocol gives
    under CPython, or its refusal (None: ValueError)."""
    cases = _document()["encodings"]
    assert len(cases) >= 300
    failed = []
    for case in cases:
        name, args = case["call"]
        try:
            line = getattr(codec, name)(*_value(args))
        except ValueError:
            line = None
        want = None if case["line"] is None else _bytes(case["line"])
        if line != want:
            failed.append("%s%r: %r, not %r" % (name, _value(args), line, want))
    assert not failed, "\n".join(failed[:10])
    assert [c for c in cases if c["line"] is None], "no refused message was tried"


def test_every_vector_was_checked():
    doc = _document()
    directions = ("host", "byte", "host-stream", "bad", "device")
    assert sum(len(_vectors(d)) for d in directions) == doc["count"] == len(doc["vectors"])
    assert sum(doc["counts"].values()) == doc["count"] > 100
