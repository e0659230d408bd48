"""The run's record: JSON Lines, flushed line by line (docs/trace.md is the contract).

Lines are encoded by orjson (UTF-8 bytes, the shortest float that reads back the same) and
written with one unbuffered write each, so every line is in the file once written.

A header first, then samples, events and one end line. Listeners (the terminal display)
receive the same records, so what a person sees and what a script reads never differ.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from typing import IO

import orjson

from chair import protocol as p
from chair.chairinfo import REFERENCE, Chair
from chair.errors import UsageError

Record = dict
Listener = Callable[[Record], None]

#: The reference encoder: for what orjson cannot say (a type it does not know, an integer
#: past 64 bits) and to check a line that holds ``null``, which is how orjson writes NaN and
#: Infinity. JSON has neither: a record holding one is refused, never written.
_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _line(record: Record) -> bytes:
    """`record` as one JSON line (UTF-8, no newline); ValueError naming the record if a
    number is not finite."""
    try:
        try:
            line = orjson.dumps(record)
        except orjson.JSONEncodeError:
            return _encode(record).encode()
        if b"null" in line:  # a None, a string holding "null", or a NaN orjson wrote as null
            _encode(record)
        return line
    except ValueError as exc:
        raise ValueError(f"trace record {record.get('type')!r} at t={record.get('t')} holds "
                         f"a number that is not finite ({exc}); JSON has no NaN or "
                         "Infinity, so it was not written") from None


#: The plausible thermistor range (°C, low and high) from the limits table, for a sample
#: made before the device has published its own.
PLAUSIBLE_C = (REFERENCE.limits["thermistor_c_min"], REFERENCE.limits["thermistor_c_max"])


def sample_record(t: float, state: str, status: p.StatusReport, step: int | None,
                  plausible_c: tuple[float, float] = PLAUSIBLE_C,
                  chair: Chair = REFERENCE) -> Record:
    """A `sample` line from one device status report of `chair` (its airbag and heat maps
    hold that chair's zones and heaters, by name).

    A heater reading outside `plausible_c` (°C; an open or shorted thermistor) is named in
    the sample's `implausible` list (``"heat_c.lumbar"``), present only when not empty.
    """
    heat = chair.heat(status)
    record = {
        "type": "sample",
        "t": round(t, 3),
        "state": state,
        "step": step,
        "roller": {"pos_mm": status.pos_mm, "depth": status.depth,
                   "technique": status.technique, "width": status.width,
                   "speed": status.speed, "force_n": status.force_n},
        "airbags": chair.air(status),
        "heat_c": heat,
        "foot": status.foot,
        "recline": {"back_pct": status.back_pct, "leg_pct": status.leg_pct},
        "occupied": status.occupied,
        "device_state": status.state,
        "faults": [f.wire for f in status.faults],
    }
    low, high = plausible_c
    bad = [f"heat_c.{zone}" for zone, c in heat.items() if not low <= c <= high]
    if bad:
        record["implausible"] = bad
    return record


class Trace:
    """Writes records to a file (or nowhere) and hands them to listeners.

    The header comes first whatever happens: records made before it (during the connect
    handshake) wait for it, and a run that ends before its header gets one made from
    `known`, marked incomplete.
    """

    def __init__(self, path: str | None = None, **known: object) -> None:
        self.path = path
        self.known = known
        self._file: IO[bytes] | None = None
        self.listeners: list[Listener] = []
        self.ended = False
        self._early: list[Record] | None = []
        if path == "":
            raise UsageError("--trace '': an empty path is not a file; name the trace file "
                             "or leave --trace out")
        if path:
            check_trace_path(path)
            try:
                self._file = open(path, "wb", buffering=0)  # noqa: SIM115
            except OSError as exc:
                raise UsageError(f"--trace {path}: cannot write it ({exc.strerror}); choose a "
                                 "writable path") from exc

    def emit(self, record: Record) -> None:
        if self._early is not None:
            if record["type"] != "header":
                self._early.append(record)
                return
            early, self._early = self._early, None
            self._write(record)
            for held in early:
                self._write(held)
            return
        self._write(record)

    def _write(self, record: Record) -> None:
        if self._file is not None:
            self._file.write(_line(record) + b"\n")
        for listener in self.listeners:
            listener(record)

    def header(self, **fields: object) -> None:
        self.emit({"type": "header", **self.known, **fields})

    def event(self, t: float, event: str, **fields: object) -> None:
        self.emit({"type": "event", "t": round(t, 3), "event": event, **fields})

    def end(self, t: float, state: str, reason: str, **fields: object) -> None:
        if not self.ended:
            self.ended = True
            if self._early is not None:
                self.header(incomplete=True)
            self.emit({"type": "end", "t": round(t, 3), "state": state, "reason": reason,
                       **fields})

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def special_kind(mode: int) -> str | None:
    """What a file of `mode` (`os.stat().st_mode`) is when it is neither a regular file nor
    a directory ("a FIFO", "a device", "a socket" ...), else None. Every file this project
    reads or writes by a user's name is refused when this is not None: a FIFO blocks, a
    device never ends (/dev/zero) or takes what is written (/dev/sda, a tty)."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "not a regular file"


#: How much of an existing file's first line is read to tell a trace from anything else.
HEAD_BYTES = 1 << 16


def check_trace_path(path: str) -> None:
    """Refuse (UsageError naming `path`) to write a trace over anything but a trace.

    Writing is allowed to a new file, an empty one, or an existing trace (its first line a
    `header` record: docs/trace.md). Refused: a regular file whose first line is not a
    trace header (a program file, say), and anything that is not a regular file (a FIFO
    would block the run, a device would take the trace: /dev/sda, a tty).
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"--trace {path}: cannot use it ({exc.strerror}); choose a "
                         "writable path") from exc
    if stat.S_ISDIR(info.st_mode):
        return  # open() says "Is a directory", with the usual advice
    kind = special_kind(info.st_mode)
    if kind:
        raise UsageError(f"--trace {path}: refusing to write a trace to {kind}; choose a "
                         "file name")
    if info.st_size == 0:
        return
    try:
        with open(path, "rb") as handle:
            first = handle.readline(HEAD_BYTES)
    except OSError as exc:
        raise UsageError(f"--trace {path}: cannot read what is there ({exc.strerror}); "
                         "choose another path") from exc
    try:
        record = json.loads(first)
    except ValueError:  # also a UnicodeDecodeError: a binary file
        record = None
    if not (isinstance(record, dict) and record.get("type") == "header"):
        raise UsageError(f"--trace {path}: refusing to overwrite it: it exists and is not a "
                         "trace (its first line is not a trace header); choose another "
                         "path or remove it")


def read_trace(path: str) -> list[Record]:
    """Every record of a trace file; a line that is not JSON raises naming its number."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path}:{number}: not a trace line ({exc.msg})") from exc
    return records
