"""Reading a trace back for a tool (`chair plot`): every line checked, any bad one named.

A trace file may be anything a user points at: a binary file, a program, a trace from
another version, a line edited by hand. `load_trace` reads it as bytes, line by line, and
raises UsageError naming the file and line for the first line that is not UTF-8 text, not
JSON, or not a record of the shape docs/trace.md gives (as far as the tools read it), so
no TypeError or UnicodeDecodeError reaches the user.
"""

from __future__ import annotations

import json
import math

from chair.errors import UsageError
from chair.trace import Record

TYPES = ("header", "sample", "event", "end")
#: Sample fields holding objects of numbers (None allowed: a value the device did not send).
SAMPLE_GROUPS = ("roller", "airbags", "heat_c", "recline")
#: Text fields inside those groups.
SAMPLE_TEXT = {("roller", "technique")}


def _number(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _problem(record: object) -> str | None:
    """What is wrong with one decoded line as a trace record, or None."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__} where a record (an object) belongs"
    kind = record.get("type")
    if kind not in TYPES:
        return f"record type {kind!r} is none of {', '.join(TYPES)}"
    if kind != "header" and not _number(record.get("t")):
        return f"{kind} record without a finite time 't' (got {record.get('t')!r})"
    if kind == "header":
        for name, shape in (("limits", dict), ("cautions", list), ("port", str)):
            if name in record and not isinstance(record[name], shape):
                return f"header field {name!r} is not a {shape.__name__}"
        if not all(isinstance(c, dict) for c in record.get("cautions", [])):
            return "header field 'cautions' holds something that is not an object"
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


def load_trace(path: str) -> list[Record]:
    """Every record of the trace at `path`, each checked.

    Raises UsageError (naming `path` and the line) when the file cannot be read, or a line
    is not UTF-8, not JSON, or not a trace record.
    """
    hint = "not a trace from `chair run --trace`"
    try:
        with open(path, "rb") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read the trace {path} ({exc.strerror}); make one with "
                         "`chair run PROGRAM --trace FILE`") from exc
    records = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise UsageError(f"{path}:{number}: not UTF-8 text (a binary file?): {hint}") \
                from None
        except ValueError as exc:
            raise UsageError(f"{path}:{number}: not a JSON line "
                             f"({getattr(exc, 'msg', exc)}): {hint}") from None
        problem = _problem(record)
        if problem:
            raise UsageError(f"{path}:{number}: {problem}: {hint}")
        records.append(record)
    return records
