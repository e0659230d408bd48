"""Reading a trace back for a tool (`chair plot`): every line checked, any bad one named.

A trace file may be anything a user points at: a binary file, a program, a trace from
another version, a line edited by hand. `load_trace` reads it as bytes, line by line, and
raises UsageError naming the file and line for the first line that is not UTF-8 text, not
JSON, or not a record of the shape docs/trace.md gives (as far as the tools read it), so
no TypeError or UnicodeDecodeError reaches the user. It reads only a regular file of at most
`MAX_TRACE_BYTES` (a FIFO would block, /dev/zero never ends, a directory is not a trace),
and control characters in its text (ESC, NUL ...) come back escaped, never drawn raw.
"""

from __future__ import annotations

import json
import math
import os
import stat

from chair.chairinfo import REFERENCE
from chair.errors import UsageError
from chair.program import CONTROL_CHARS
from chair.trace import Record, special_kind

#: The largest trace `chair plot` reads, in bytes (32 MiB): a 14-minute `sciatica` run
#: writes about 3.2 MB, so the longest session (30 min) fits about 4 times; reading one
#: takes about 10 times its size in memory.
MAX_TRACE_BYTES = 32 * 1024 * 1024
_HINT = "not a trace from `chair run --trace`"

TYPES = ("header", "sample", "event", "end")
#: The latest time a record may carry (s since the run began): a day, far past the longest
#: session (30 min) and its parking; beyond it a damaged time stretches the drawing's axis
#: past what the renderer can draw (matplotlib: "raster overflow").
MAX_T_S = 86_400.0
#: Sample fields holding objects of numbers (None allowed: a value the device did not send).
SAMPLE_GROUPS = ("roller", "airbags", "heat_c", "recline")
#: Text fields inside those groups.
SAMPLE_TEXT = {("roller", "technique")}


def _number(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def trace_chair(header: Record, samples: list[Record]) -> dict:
    """The chair a trace was recorded on: its header's `chair` object (`zones`, `heaters`,
    `axes`, `sensors`, `track_mm`, `seat_mm`). A trace written before the header carried
    it was recorded on the reference chair: its geometry, and the zones and heaters its
    first sample names."""
    chair = header.get("chair")
    if isinstance(chair, dict):
        return chair
    first = samples[0] if samples else {}
    return {**REFERENCE.header(), "zones": list(first.get("airbags", REFERENCE.zones)),
            "heaters": list(first.get("heat_c", REFERENCE.heaters))}


def _chair_problem(chair: object) -> str | None:
    """What is wrong with a header's `chair` object, or None."""
    if not isinstance(chair, dict):
        return "header field 'chair' is not an object"
    for name in ("zones", "heaters", "axes", "sensors"):
        names = chair.get(name)
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            return f"header field chair.{name} is not a list of names"
    for name in ("track_mm", "seat_mm"):
        if not _number(chair.get(name)):
            return f"header field chair.{name} is not a finite number"
    return None


def _zone_problem(record: Record, chair: dict) -> str | None:
    """A sample's airbag or heater name that the header's chair does not have, or None."""
    for group, names in (("airbags", "zones"), ("heat_c", "heaters")):
        for name in record.get(group, {}):
            if name not in chair[names]:
                return (f"sample field {group}.{name}: the header's chair has no such "
                        f"{names[:-1]} ({', '.join(chair[names]) or 'none'})")
    return None


def _problem(record: object) -> str | None:
    """What is wrong with one decoded line as a trace record, or None."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__} where a record (an object) belongs"
    kind = record.get("type")
    if kind not in TYPES:
        return f"record type {kind!r} is none of {', '.join(TYPES)}"
    if kind != "header" and not _number(record.get("t")):
        return f"{kind} record without a finite time 't' (got {record.get('t')!r})"
    if kind != "header" and not 0 <= record["t"] <= MAX_T_S:
        return f"{kind} record at t={record['t']!r} s, outside 0..{MAX_T_S:g} s"
    if kind == "header":
        for name, shape in (("limits", dict), ("cautions", list), ("port", str)):
            if name in record and not isinstance(record[name], shape):
                return f"header field {name!r} is not a {shape.__name__}"
        if not all(isinstance(c, dict) for c in record.get("cautions", [])):
            return "header field 'cautions' holds something that is not an object"
        skipped = record.get("skipped", [])
        if not (isinstance(skipped, list) and all(isinstance(s, dict) for s in skipped)):
            return "header field 'skipped' is not a list of objects"
        if "chair" in record:
            return _chair_problem(record["chair"])
    elif kind == "event":
        return _event_problem(record)
    elif kind == "sample":
        for group in SAMPLE_GROUPS:
            values = record.get(group, {})
            if not isinstance(values, dict):
                return f"sample field {group!r} is not an object"
            for key, value in values.items():
                want_text = (group, key) in SAMPLE_TEXT
                if value is not None and not (isinstance(value, str) if want_text
                                              else _number(value)):
                    return f"sample field {group}.{key} = {value!r} is not a " + \
                        ("text" if want_text else "finite number")
        if record.get("foot") is not None and not _number(record["foot"]):
            return f"sample field foot = {record['foot']!r} is not a finite number"
    return None


def _event_problem(record: Record) -> str | None:
    event = record.get("event")
    if not isinstance(event, str):
        return f"event record whose 'event' is not a name (got {event!r})"
    needs = {"state": ("source", "dest"), "step": ("zone",)}.get(event, ())
    for name in needs:
        if not isinstance(record.get(name), str):
            return f"{event} event without a text {name!r}"
    if event == "scan":
        landmarks = record.get("landmarks")
        if not (isinstance(landmarks, dict) and all(map(_number, landmarks.values()))):
            return "scan event whose 'landmarks' are not names with numbers"
    return None


def _escape(value: object) -> object:
    """`value` with every control character in its text written as an escape (``\\x1b``)."""
    if isinstance(value, str):
        return CONTROL_CHARS.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    if isinstance(value, list):
        return [_escape(v) for v in value]
    if isinstance(value, dict):
        return {_escape(k): _escape(v) for k, v in value.items()}
    return value


def check_trace_input(path: str) -> None:
    """Refuse (UsageError naming `path`) what is not a trace file to read: an empty path,
    a directory, a FIFO, a device or a socket. A missing file is left to `load_trace`."""
    if not path:
        raise UsageError("an empty path is not a trace file; name one from "
                         "`chair run --trace FILE`")
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    _refuse_mode(path, mode)


def _refuse_mode(path: str, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise UsageError(f"{path} is a directory, not a trace: name a trace file from "
                         "`chair run --trace FILE`")
    kind = special_kind(mode)
    if kind:
        raise UsageError(f"{path} is {kind}, not a trace file: refusing to read it; name a "
                         "trace file from `chair run --trace FILE`")


def _read_capped(path: str) -> bytes:
    """The bytes of the regular file at `path`, at most MAX_TRACE_BYTES; UsageError naming
    it otherwise. Opened without blocking and checked on the open file (no race)."""
    check_trace_input(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise UsageError(f"cannot read the trace {path} ({exc.strerror}); make one with "
                         "`chair run PROGRAM --trace FILE`") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        _refuse_mode(path, info.st_mode)
        too_big = (f"{path} is over the {MAX_TRACE_BYTES} bytes `chair plot` reads "
                   f"(a 30-minute session writes about 7 MB): {_HINT}")
        if info.st_size > MAX_TRACE_BYTES:
            raise UsageError(too_big)
        try:
            data = handle.read(MAX_TRACE_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"cannot read the trace {path} ({exc.strerror})") from exc
    if len(data) > MAX_TRACE_BYTES:
        raise UsageError(too_big)
    return data


def load_trace(path: str) -> list[Record]:
    """Every record of the trace at `path`, each checked, control characters escaped.

    Raises UsageError (naming `path` and the line) when the file cannot be read, is not a
    regular file, is over MAX_TRACE_BYTES, or a line is not UTF-8, not JSON, or not a trace
    record.
    """
    records = []
    chair: dict | None = None  # the header's, once read: samples hold its zones only
    for number, raw in enumerate(_read_capped(path).splitlines(), 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise UsageError(f"{path}:{number}: not UTF-8 text (a binary file?): {_HINT}") \
                from None
        except ValueError as exc:
            raise UsageError(f"{path}:{number}: not a JSON line "
                             f"({getattr(exc, 'msg', exc)}): {_HINT}") from None
        problem = _problem(record)
        if problem is None and record["type"] == "header" and "chair" in record:
            chair = record["chair"]
        elif problem is None and record["type"] == "sample" and chair is not None:
            problem = _zone_problem(record, chair)
        if problem:
            raise UsageError(f"{path}:{number}: {problem}: {_HINT}")
        records.append(_escape(record))
    return records
