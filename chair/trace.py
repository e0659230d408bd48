"""The run's record: JSON Lines, flushed line by line (docs/trace.md is the contract).

A header first, then samples, events and one end line. Listeners (the terminal display)
receive the same records, so what a person sees and what a script reads never differ.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO

from chair import protocol as p
from chair.errors import UsageError
from chair.limits import HEATERS, ZONES

Record = dict
Listener = Callable[[Record], None]

#: One encoder for every line (`json.dumps` with separators builds a new one each call).
#: JSON has no NaN or Infinity: a record holding one is refused, never written as `NaN`.
_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _line(record: Record) -> str:
    """`record` as one JSON line; ValueError naming the record if a number is not finite."""
    try:
        return _encode(record)
    except ValueError as exc:
        raise ValueError(f"trace record {record.get('type')!r} at t={record.get('t')} holds "
                         f"a number that is not finite ({exc}); JSON has no NaN or "
                         "Infinity, so it was not written") from None


def sample_record(t: float, state: str, status: p.StatusReport, step: int | None) -> Record:
    """A `sample` line from one device status report."""
    return {
        "type": "sample",
        "t": round(t, 3),
        "state": state,
        "step": step,
        "roller": {"pos_mm": status.pos_mm, "depth": status.depth,
                   "technique": status.technique, "width": status.width,
                   "speed": status.speed, "force_n": status.force_n},
        "airbags": dict(zip(ZONES, status.air_kpa, strict=False)),
        "heat_c": dict(zip(HEATERS, status.heat_c, strict=False)),
        "foot": status.foot,
        "recline": {"back_pct": status.back_pct, "leg_pct": status.leg_pct},
        "occupied": status.occupied,
        "device_state": status.state,
        "faults": [f.wire for f in status.faults],
    }


class Trace:
    """Writes records to a file (or nowhere) and hands them to listeners.

    The header comes first whatever happens: records made before it (during the connect
    handshake) wait for it, and a run that ends before its header gets one made from
    `known`, marked incomplete.
    """

    def __init__(self, path: str | None = None, **known: object) -> None:
        self.path = path
        self.known = known
        self._file: IO[str] | None = None
        self.listeners: list[Listener] = []
        self.ended = False
        self._early: list[Record] | None = []
        if path:
            try:
                self._file = open(path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115
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
            self._file.write(_line(record) + "\n")
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
