"""Device lines beyond docs/protocol.md's vectors, with the bytes chair.protocol writes for
each, as JSON for the firmware's tests (tests/firmware/mp_test_vectors.py, under CPython and
MicroPython): messages as the firmware's encoder calls, every float as the hex of its
IEEE-754 double (exact ties, -0.0, nan and inf must survive). The document's own vectors are
published as docs/protocol-vectors.json (tests/vectors_doc.py), which the same tests read.
"""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path

from chair import protocol as p
from tests import vectors_doc

FILE_NAME = "protocol_encodings.json"
#: The published vectors (docs/protocol-vectors.json), copied next to this file's output.
DOC_VECTORS = vectors_doc.JSON_PATH


def neutral(value: object) -> object:
    """`value` as JSON: floats as {"f": hex of the double}, tuples as lists."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return int(value) if isinstance(value, p.ErrorCode | p.FaultCode) else value
    if isinstance(value, float):
        return {"f": struct.pack("<d", value).hex()}
    if isinstance(value, (tuple, list)):
        return [neutral(x) for x in value]
    raise TypeError(f"no neutral form for {value!r}")


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
    """Write the encodings' JSON file into `folder`; its path."""
    path = Path(folder) / FILE_NAME
    path.write_text(json.dumps({"encodings": encodings()}, indent=0), encoding="utf-8")
    return path
