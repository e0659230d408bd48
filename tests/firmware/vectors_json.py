"""The test vectors of docs/protocol.md §12 that concern a device, as neutral JSON.

MicroPython has no `ast`, so CPython parses the vectors (as tests/test_protocol_vectors.py
does) and writes them here in the firmware's own terms: bytes as hex, events as the tuples
of firmware/codec.py (as lists), device messages as encoder calls, every float as the hex of
its IEEE-754 double (so no float parser stands between the document and the test).
tests/firmware/mp_test_vectors.py reads the file, under CPython and under MicroPython.
"""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path

from chair import protocol as p
from tests import test_protocol_vectors as doc

#: The directions (and modes) whose vectors a device must honour: everything but the host's
#: decoding of device bytes (`device-stream`).
DEVICE_DIRECTIONS = ("host", "byte", "host-stream", "bad", "device")
FILE_NAME = "protocol_vectors.json"


def neutral(value: object) -> object:
    """`value` as JSON: floats as {"f": hex of the double}, tuples as lists."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return int(value) if isinstance(value, p.ErrorCode | p.FaultCode) else value
    if isinstance(value, float):
        return {"f": struct.pack("<d", value).hex()}
    if isinstance(value, (tuple, list)):
        return [neutral(x) for x in value]
    raise TypeError(f"no neutral form for {value!r}")


def sequenced(line: bytes, seq: int | None) -> bool:
    """sim.device's rule for a bad line's `sequenced` flag (False without a seq)."""
    if seq is None:
        return False
    tokens = line.split(b"*")[0].split()
    verb = tokens[1].decode().upper() if len(tokens) > 1 else ""
    cls = p.COMMANDS.get(verb)
    return cls is None or cls.KIND not in (p.Kind.QUERY, p.Kind.MODE)


def event(e: object, line: bytes | None = None) -> list:
    """A chair.protocol decoder event in the firmware's tuple form (as a list).

    A BadLine's `crc` and `sequenced` need its line; without one (a stream) they are left
    out, and the test compares the first four fields."""
    if isinstance(e, p.RealTime):
        return [0, e.byte]
    if isinstance(e, p.Frame):
        values = [getattr(e.command, name) for name, _ in p.ARGUMENTS[e.command.VERB]]
        return [1, e.seq, e.crc, e.command.VERB, neutral(values)]
    if isinstance(e, p.BadLine):
        head = [2, int(e.code), e.detail, e.seq]
        if line is None:
            return head
        return [*head, b"*" in line, sequenced(line, e.seq)]
    raise TypeError(e)


def call(message: object) -> list:
    """The firmware encoder call [name, args] that writes `message`."""
    m = message
    if isinstance(m, p.Ok):
        return ["ok", [m.seq, m.data]]
    if isinstance(m, p.Error):
        return ["error", [m.seq, int(m.code), m.detail]]
    if isinstance(m, p.FaultReport):
        return ["fault", [int(m.code), m.detail]]
    if isinstance(m, p.Info):
        return ["info", [m.text]]
    if isinstance(m, p.LimitLine):
        return ["limit", [m.name, neutral(m.value)]]
    if isinstance(m, p.Banner):
        extra = "".join(f" {key}={','.join(value)}" for key, value in
                        (("axes", m.axes), ("sensors", m.sensors)) if value is not None)
        return ["banner", [m.proto, m.firmware, list(m.zones), list(m.heaters),
                           neutral(m.track_mm), neutral(m.seat_mm), m.limits_crc, extra]]
    if isinstance(m, p.StatusReport):
        return ["status", [m.state, neutral(m.t), neutral(m.pos_mm), m.technique, m.width,
                           m.depth, m.speed, neutral(m.force_n), neutral(list(m.air_kpa)),
                           neutral(list(m.heat_c)), m.foot, neutral(m.back_pct),
                           neutral(m.leg_pct), m.occupied, m.pinch, [int(f) for f in m.faults]]]
    raise TypeError(m)


def entries() -> list[dict]:
    """Every device-side vector of the document, in order."""
    out = []
    for v in doc.VECTORS:
        if v.direction not in DEVICE_DIRECTIONS:
            continue
        entry = {"where": str(v), "direction": v.direction, "mode": v.mode,
                 "data": v.data.hex()}
        if v.direction == "host":
            frame = doc.host_frame(v)
            entry["events"] = [event(frame)]
        elif v.direction == "byte":
            entry["events"] = [event(doc.expected(v.expected))]
        elif v.direction == "host-stream":
            entry["events"] = [event(e) for e in doc.expected(v.expected)]
        elif v.direction == "bad":
            entry["events"] = [event(doc.expected(v.expected), v.data.rstrip(b"\r\n"))]
            entry["reply"] = v.reply.hex()
        else:
            entry["call"] = call(doc.expected(v.expected))
        out.append(entry)
    return out


def encodings(n: int = 300, seed: int = 11) -> list[dict]:
    """Device messages beyond the document's, with chair.protocol's bytes for each (None
    when it refuses the message: ValueError): numbers of every kind, exact decimal ties
    (which MicroPython's formatting rounds differently), "-0.0", nan, inf, huge values."""
    rng = random.Random(seed)

    def number() -> float:
        pick = rng.randrange(7)
        if pick == 0:
            return rng.randrange(-4000, 4000) / 4
        if pick == 1:
            return rng.randrange(-40000, 40000) / 16
        if pick == 2:
            return rng.uniform(-0.05, 0.05)
        if pick == 3:
            return rng.choice([float("nan"), float("inf"), -float("inf"), 1e9, 12345.25,
                               999999.5, 0.0625, 2.25, -2.25])
        if pick == 4:
            return rng.randrange(-10**9, 10**9) / 2 ** rng.randrange(8)
        return rng.uniform(-2000, 2000)

    def line(message: object) -> str | None:
        try:
            return p.encode_device(message).hex()
        except ValueError:
            return None

    out = []
    for _ in range(n):
        status = p.StatusReport(
            rng.choice(p.STATES), abs(number()), number(), "knead", rng.randrange(1, 4),
            rng.randrange(0, 4), rng.randrange(1, 6), number(),
            tuple(number() for _ in range(rng.randrange(7))),
            tuple(number() for _ in range(rng.randrange(3))), rng.randrange(4), number(),
            number(), rng.random() < 0.5, rng.random() < 0.1,
            tuple(sorted(rng.sample(list(p.FaultCode), rng.randrange(3)))))
        limit = p.LimitLine("x_max", number())
        banner = p.Banner(2, "fw-1", ("lumbar", "seat"), ("seat",), number(), number(),
                          rng.randrange(0x10000))
        out.extend({"call": call(m), "line": line(m)} for m in (status, limit, banner))
    return out


def write(folder: Path) -> Path:
    """Write the JSON file into `folder`; its path. Every device-side vector is in it."""
    vectors = entries()
    expected = [v for v in doc.VECTORS if v.direction in DEVICE_DIRECTIONS]
    assert len(vectors) == len(expected) > 100
    counts: dict[str, int] = {}
    for v in vectors:
        key = v["direction"] + ("@" + v["mode"] if v["mode"] else "")
        counts[key] = counts.get(key, 0) + 1
    path = Path(folder) / FILE_NAME
    path.write_text(json.dumps({"count": len(vectors), "counts": counts,
                                "vectors": vectors, "encodings": encodings()}, indent=0),
                    encoding="utf-8")
    return path
