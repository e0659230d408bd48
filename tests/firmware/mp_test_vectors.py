"""docs/protocol.md §12, every vector a device honours, against the firmware's codec.

Plain `test_*` functions with `assert` only: they run under CPython (test_fw_mp_suite.py)
and under MicroPython (tests/test_micropython.py). The vectors are the published file
docs/protocol-vectors.json (`VECTORS_PATH` when a harness sets it, else the file of that name
in a directory of sys.path), read here as any implementer would read it: bytes as hex,
expected values as plain JSON objects, mapped onto the firmware codec's tuples below. The
random encodings beyond the document come from tests/firmware/vectors_json.py
(`ENCODINGS_PATH`, or `protocol_encodings.json` on sys.path).
"""

import binascii
import json
import struct
import sys

from firmware import codec

VECTORS_PATH = None
ENCODINGS_PATH = None
FILE_NAME = "protocol-vectors.json"
ENCODINGS_NAME = "protocol_encodings.json"
DEVICE_DIRECTIONS = ("host", "byte", "host-stream", "bad", "device")
_CACHE = {}


def _load(given, name):
    if name not in _CACHE:
        paths = [given] if given else [d + "/" + name for d in sys.path]
        for path in paths:
            try:
                with open(path) as f:
                    _CACHE[name] = json.load(f)
                break
            except OSError:
                continue
        assert name in _CACHE, "no %s on sys.path" % name
    return _CACHE[name]


def _document():
    return _load(VECTORS_PATH, FILE_NAME)


def _vectors(direction):
    return [v for v in _document()["vectors"] if v["direction"] == direction]


def _bytes(text):
    return binascii.unhexlify(text)


def _where(v):
    return "%s%s %s" % (v["direction"], "@" + v["mode"] if v["mode"] else "", v["bytes"])


def _code(text):
    """"E05" or "F05" as the int of firmware/codes.py."""
    return int(text[1:])


def _sequenced(line, seq):
    """The BAD event's `sequenced` flag of a bad line: a seq, and a verb that is a control
    or actuate verb, or none the device knows."""
    if seq is None:
        return False
    tokens = line.split(b"*")[0].split()
    verb = tokens[1].decode().upper() if len(tokens) > 1 else ""
    spec = codec.COMMANDS.get(verb)
    return spec is None or spec[0] not in (codec.QUERY, codec.MODE)


def _event(e, line=None):
    """A neutral event as the firmware decoder's tuple (a list). A bad line's `crc` and
    `sequenced` need the line; without one (a stream) only the first four fields."""
    kind = e["event"]
    if kind == "realtime":
        return [codec.RT, e["byte"]]
    if kind == "frame":
        names = codec.COMMANDS[e["verb"]][1]
        return [codec.FRAME, e["seq"], e["crc"], e["verb"],
                [e["args"][name] for name, _ in names]]
    head = [codec.BAD, _code(e["code"]), e["detail"], e["seq"]]
    if line is None:
        return head
    return head + [b"*" in line, _sequenced(line, e["seq"])]


def _call(m):
    """The firmware encoder call [name, args] that writes the neutral message `m`."""
    kind = m["message"]
    if kind == "ok":
        return "ok", [m["seq"], m["data"]]
    if kind == "error":
        return "error", [m["seq"], _code(m["code"]), m["detail"]]
    if kind == "fault":
        return "fault", [_code(m["code"]), m["detail"]]
    if kind == "info":
        return "info", [m["text"]]
    if kind == "limit":
        return "limit", [m["name"], float(m["value"])]
    if kind == "banner":
        extra = ""
        for key in ("axes", "sensors"):
            if m[key] is not None:
                extra += " %s=%s" % (key, ",".join(m[key]))
        return "banner", [m["proto"], m["fw"], m["zones"], m["heaters"], float(m["track"]),
                          float(m["seat"]), int(m["limits"], 16), extra]
    assert kind == "status", kind
    return "status", [m["state"], float(m["t"]), float(m["pos"]), m["tech"], m["w"], m["d"],
                      m["spd"], float(m["force"]), [float(x) for x in m["air"]],
                      [float(x) for x in m["heat"]], m["foot"], float(m["back"]),
                      float(m["leg"]), m["occ"], m["pinch"], [_code(f) for f in m["flt"]]]


def _value(x):
    """An encodings value with its floats ({"f": hex of the double}) made floats."""
    if isinstance(x, dict):
        return struct.unpack("<d", _bytes(x["f"]))[0]
    if isinstance(x, list):
        return [_value(e) for e in x]
    return x


def _plain(x):
    """A decoder event as plain lists (tuples made lists)."""
    if isinstance(x, (tuple, list)):
        return [_plain(e) for e in x]
    return x


def _equal(got, want):
    """Equal, floats to 1e-9 of their size (a JSON parser need not round as CPython's)."""
    if isinstance(want, list):
        return (isinstance(got, list) and len(got) == len(want)
                and all(_equal(a, b) for a, b in zip(got, want)))
    if isinstance(want, float) or isinstance(got, float):
        if isinstance(got, bool) or isinstance(want, bool):
            return False
        return abs(got - want) <= 1e-9 * max(1.0, abs(want))
    return type(got) is type(want) and got == want


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
        got = _plain(event)
        if got[0] == codec.BAD and len(want) == 4:
            got = got[:4]
        if not _equal(got, want):
            return False
    return True


def _check_decoding(direction):
    """Each vector of `direction`: whole, byte by byte, and split at every point."""
    failed = []
    vectors = _vectors(direction)
    for v in vectors:
        data = _bytes(v["bytes"])
        line = data.rstrip(b"\r\n") if direction == "bad" else None
        want = [_event(e, line) for e in v["events"]]
        ways = [(), range(1, len(data))] + [(i,) for i in range(1, len(data))]
        for cuts in ways:
            events = _decode(data, v["mode"], cuts)
            if not _same(events, want):
                failed.append("%s cut at %s: %r" % (_where(v), list(cuts), events))
                break
    assert not failed, "\n".join(failed)
    return vectors


def _count(vectors, direction):
    assert len(vectors) > 0, direction


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
        e = v["events"][0]
        line = codec.error(e["seq"], _code(e["code"]), e["detail"])
        if line != _bytes(v["reply"]):
            failed.append("%s: %r" % (_where(v), line))
    assert not failed, "\n".join(failed)


def test_device_vectors_encode_to_their_bytes():
    vectors = _vectors("device")
    _count(vectors, "device")
    failed = []
    for v in vectors:
        name, args = _call(v["message"])
        line = getattr(codec, name)(*args)
        if line != _bytes(v["bytes"]):
            failed.append("%s: %r" % (_where(v), line))
    assert not failed, "\n".join(failed)
    assert set(v["message"]["message"] for v in vectors) == {
        "ok", "error", "fault", "info", "limit", "banner", "status"}


def test_transcript_host_lines_decode_to_one_event_and_device_lines_carry_their_crc():
    transcripts = _document()["transcripts"]
    assert len(transcripts) >= 4
    failed = []
    for t in transcripts:
        decoder = codec.HostDecoder(2)
        for x in t["lines"]:
            if "side" not in x:
                continue
            data = _bytes(x["bytes"])
            if x["side"] == ">":
                decoder.session = False
                if len(decoder.feed(data)) != 1:
                    failed.append("section %s: %r" % (t["section"], data))
            else:
                payload, _, tail = data.rstrip(b"\n").rpartition(b"*")
                if "%04X" % codec.crc16(payload) != tail.decode():
                    failed.append("section %s: %r" % (t["section"], data))
    assert not failed, "\n".join(failed)


def test_more_device_lines_encode_as_chair_protocol_does():
    """Random messages (ties, -0.0, nan, inf, huge values): the bytes chair.protocol gives
    under CPython, or its refusal (None: ValueError)."""
    cases = _load(ENCODINGS_PATH, ENCODINGS_NAME)["encodings"]
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
    vectors = _document()["vectors"]
    mine = [v for v in vectors if v["direction"] in DEVICE_DIRECTIONS]
    assert sum(len(_vectors(d)) for d in DEVICE_DIRECTIONS) == len(mine) > 100
    assert set(v["direction"] for v in vectors) == set(DEVICE_DIRECTIONS) | {"device-stream"}
