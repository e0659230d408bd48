"""docs/protocol.md's test vectors and transcripts as neutral JSON: docs/protocol-vectors.json.

protocol.md is the one source: this module reads its fenced ``vectors`` and ``transcript``
blocks and writes them in the encoding its §12 describes (bytes as hex, expected values as
plain JSON objects), so that a codec in any language can run them. The file is generated:

    python -m tests.vectors_doc          # rewrite docs/protocol-vectors.json

and tests/test_protocol_vectors.py fails while the file and the document differ.
`to_json` and `from_json` map the reference codec's (`chair.protocol`) objects to that
encoding and back.
"""

from __future__ import annotations

import ast
import codecs
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from chair import protocol as p

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "protocol.md"
JSON_PATH = ROOT / "docs" / "protocol-vectors.json"
TEXT = DOC.read_text(encoding="utf-8")
FORMAT = 1

# --------------------------------------------------------------------------- reading the doc


def fenced(tag: str, text: str = TEXT) -> list[list[tuple[int, str]]]:
    """The blocks fenced with ```tag, each as (line number, line) pairs."""
    blocks, current = [], None
    for number, line in enumerate(text.splitlines(), start=1):
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


def read_vectors(text: str = TEXT) -> list[Vector]:
    vectors = []
    for block in fenced("vectors", text):
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


HOST_FORM = re.compile(r"(?P<command>.+\))(?: seq=(?P<seq>\d+))?")


def host_frame(vector: Vector) -> p.Frame:
    """A `host` vector's frame: its command, its ` seq=N`, a CRC when its bytes hold `*`."""
    match = HOST_FORM.fullmatch(vector.expected.strip())
    assert match, f"{vector}: expected 'Command(...)[ seq=N]'"
    command = expected(match["command"])
    assert isinstance(command, p.Command), vector
    seq = int(match["seq"]) if match["seq"] else None
    return p.Frame(seq, command, b"*" in vector.data)


def vector_events(vector: Vector) -> list | object:
    """What a vector expects, as codec objects: a list of events, or one device message."""
    if vector.direction == "host":
        return [host_frame(vector)]
    if vector.direction in ("byte", "bad"):
        return [expected(vector.expected)]
    if vector.direction == "device":
        return expected(vector.expected)
    return list(expected(vector.expected))


#: A real-time byte stands alone on a transcript line: `?`, `!` or `\x9e`.
REAL_TIME_ALONE = {bytes([b]) for b in (p.STATUS_BYTE, p.ESTOP_BYTE, p.TYPED_ESTOP_BYTE)}


def transcript_lines(block: list[tuple[int, str]]) -> list[tuple[int, str, bytes]]:
    """(line number, side, bytes) of a transcript: `>` host, `<` device, `--` a note."""
    lines = []
    for number, line in block:
        if not line.strip():
            continue
        if line.startswith("-- "):
            lines.append((number, "--", line[3:].encode("ascii")))
            continue
        assert line[:2] in ("> ", "< "), f"{DOC.name}:{number}: {line!r}"
        body = unescape(line[2:])
        lines.append((number, line[0], body if body in REAL_TIME_ALONE else body + b"\n"))
    return lines


# --------------------------------------------------------------------------- neutral JSON


def escape(data: bytes) -> str:
    """`data` readable: printable ASCII as it is, a backslash doubled, LF and CR as
    backslash-n and backslash-r, any other byte as backslash-x and two hex digits (the
    inverse of `unescape`)."""
    out = []
    for byte in data:
        if byte == 0x5C:
            out.append("\\\\")
        elif byte == 0x0A:
            out.append("\\n")
        elif byte == 0x0D:
            out.append("\\r")
        elif 0x20 <= byte <= 0x7E:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def _code(code: p.ErrorCode | p.FaultCode) -> str:
    return code.wire.split()[0]


def to_json(x: object) -> dict:
    """A decoder event or device message in the neutral encoding of protocol.md §12."""
    if isinstance(x, p.RealTime):
        return {"event": "realtime", "byte": x.byte}
    if isinstance(x, p.Frame):
        args = {name: getattr(x.command, name) for name, _ in p.ARGUMENTS[x.command.VERB]}
        return {"event": "frame", "seq": x.seq, "crc": x.crc, "verb": x.command.VERB,
                "args": args}
    if isinstance(x, p.BadLine):
        return {"event": "bad", "code": _code(x.code), "seq": x.seq, "detail": x.detail}
    if isinstance(x, p.Ok):
        return {"message": "ok", "seq": x.seq, "data": x.data, "fields": x.fields}
    if isinstance(x, p.Error):
        out = {"message": "error", "seq": x.seq, "code": _code(x.code), "detail": x.detail}
        if x.expect is not None:
            out["expect"] = x.expect
        return out
    if isinstance(x, p.FaultReport):
        return {"message": "fault", "code": _code(x.code), "detail": x.detail}
    if isinstance(x, p.Info):
        return {"message": "info", "text": x.text}
    if isinstance(x, p.LimitLine):
        return {"message": "limit", "name": x.name, "value": x.value}
    if isinstance(x, p.Banner):
        return {"message": "banner", "proto": x.proto, "fw": x.firmware,
                "zones": list(x.zones), "heaters": list(x.heaters), "track": x.track_mm,
                "seat": x.seat_mm, "limits": f"{x.limits_crc:04X}",
                "axes": None if x.axes is None else list(x.axes),
                "sensors": None if x.sensors is None else list(x.sensors)}
    if isinstance(x, p.StatusReport):
        return {"message": "status", "state": x.state, "t": x.t, "pos": x.pos_mm,
                "tech": x.technique, "w": x.width, "d": x.depth, "spd": x.speed,
                "force": x.force_n, "air": list(x.air_kpa), "heat": list(x.heat_c),
                "foot": x.foot, "back": x.back_pct, "leg": x.leg_pct, "occ": x.occupied,
                "pinch": x.pinch, "flt": [_code(f) for f in x.faults]}
    raise TypeError(f"no neutral form for {x!r}")


def _error_code(text: str) -> p.ErrorCode:
    return p.ErrorCode(int(text[1:]))


def _typed(verb: str, args: dict) -> dict:
    return {name: kind(args[name]) for name, kind in p.ARGUMENTS[verb]}


def from_json(d: dict) -> object:
    """The codec object a neutral JSON object stands for (the inverse of `to_json`)."""
    kind = d.get("event") or d.get("message")
    if kind == "realtime":
        return p.RealTime(d["byte"])
    if kind == "frame":
        return p.Frame(d["seq"], p.COMMANDS[d["verb"]](**_typed(d["verb"], d["args"])),
                       d["crc"])
    if kind == "bad":
        return p.BadLine(_error_code(d["code"]), d["detail"], d["seq"])
    if kind == "ok":
        return p.Ok(d["seq"], d["data"])
    if kind == "error":
        return p.Error(d["seq"], _error_code(d["code"]), d["detail"])
    if kind == "fault":
        return p.FaultReport(p.FaultCode(int(d["code"][1:])), d["detail"])
    if kind == "info":
        return p.Info(d["text"])
    if kind == "limit":
        return p.LimitLine(d["name"], float(d["value"]))
    if kind == "banner":
        return p.Banner(d["proto"], d["fw"], tuple(d["zones"]), tuple(d["heaters"]),
                        float(d["track"]), float(d["seat"]), int(d["limits"], 16),
                        None if d["axes"] is None else tuple(d["axes"]),
                        None if d["sensors"] is None else tuple(d["sensors"]))
    if kind == "status":
        return p.StatusReport(d["state"], float(d["t"]), float(d["pos"]), d["tech"], d["w"],
                              d["d"], d["spd"], float(d["force"]),
                              tuple(float(x) for x in d["air"]),
                              tuple(float(x) for x in d["heat"]), d["foot"],
                              float(d["back"]), float(d["leg"]), d["occ"], d["pinch"],
                              tuple(p.FaultCode(int(f[1:])) for f in d["flt"]))
    raise ValueError(f"not a neutral event or message: {d!r}")


def section(line: int, text: str = TEXT) -> str:
    """The number of the section of the document that holds `line` ("2.2", "12")."""
    found = ""
    for number, row in enumerate(text.splitlines()[:line], start=1):
        match = re.match(r"#{2,3} (\d+(?:\.\d+)*)\.? ", row)
        if match and number <= line:
            found = match[1]
    return found


def vector_json(vector: Vector) -> dict:
    """One vector in the neutral encoding."""
    out: dict = {"direction": vector.direction, "mode": vector.mode,
                 "bytes": vector.data.hex().upper(), "text": escape(vector.data)}
    want = vector_events(vector)
    if vector.direction == "device":
        out["message"] = to_json(want)
    else:
        out["events"] = [to_json(e) for e in want]
    if vector.reply is not None:
        out["reply"] = vector.reply.hex().upper()
    return out


def transcript_json(block: list[tuple[int, str]], text: str = TEXT) -> dict:
    """One transcript: its section, and its lines in order (a note, or a side and bytes)."""
    lines: list[dict] = []
    for _, side, data in transcript_lines(block):
        if side == "--":
            lines.append({"note": data.decode("ascii")})
        else:
            lines.append({"side": side, "bytes": data.hex().upper(), "text": escape(data)})
    return {"section": section(block[0][0], text), "lines": lines}


def document(text: str = TEXT) -> dict:
    """The whole file's content, from the document's text."""
    return {
        "format": FORMAT,
        "source": "docs/protocol.md",
        "note": "generated from docs/protocol.md by `python -m tests.vectors_doc`; "
                "the encoding is described in its section 12",
        "vectors": [vector_json(v) for v in read_vectors(text)],
        "transcripts": [transcript_json(b, text) for b in fenced("transcript", text)],
    }


def dumps(doc: dict) -> str:
    """The file's exact text: one vector or transcript line per line, keys in order."""
    def rows(items: list) -> str:
        return ",\n".join("    " + json.dumps(item, ensure_ascii=True) for item in items)

    head = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in doc.items()
                      if k not in ("vectors", "transcripts"))
    transcripts = ",\n".join(
        f'    {{"section": {json.dumps(t["section"])}, "lines": [\n'
        + ",\n".join("      " + json.dumps(x) for x in t["lines"]) + "\n    ]}"
        for t in doc["transcripts"])
    return (f'{{\n{head},\n  "vectors": [\n{rows(doc["vectors"])}\n  ],\n'
            f'  "transcripts": [\n{transcripts}\n  ]\n}}\n')


def main(argv: list[str] | None = None) -> int:
    text = dumps(document())
    JSON_PATH.write_text(text, encoding="ascii")
    print(f"wrote {JSON_PATH.relative_to(ROOT)} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
