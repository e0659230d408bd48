"""A trace read for `chair plot`: the session's facts (header, samples, events, states,
steps, faults, the chair it ran on), sorted for drawing. The panels are chair/plot.py.
"""

from __future__ import annotations

import urllib.parse

from chair.trace import Record
from chair.trace_check import trace_chair


class _Session:
    """The facts of one trace, sorted for drawing."""

    def __init__(self, records: list[Record]) -> None:
        self.header: Record = next((r for r in records if r.get("type") == "header"), {})
        self.end: Record = next((r for r in records if r.get("type") == "end"), {})
        self.samples = [r for r in records if r.get("type") == "sample"]
        self.events = [r for r in records if r.get("type") == "event"]
        last = [r["t"] for r in records if "t" in r]
        self.end_t = max(last) if last else 1.0
        self.t = [s["t"] for s in self.samples]
        scan = next((e for e in self.events if e["event"] == "scan"), None)
        self.landmarks: dict[str, float] = dict(scan["landmarks"]) if scan else {}
        self.states = [(0.0, "disconnected")] + [
            (e["t"], e["dest"]) for e in self.events if e["event"] == "state"]
        self.steps = [e for e in self.events if e["event"] == "step"]
        self.marks = [e for e in self.events
                      if e["event"] in ("fault", "device-fault", "device-restart", "user")]
        self.injected = _injected(self.header.get("port", ""))
        #: The chair the run was on (its zones, heaters and geometry), from the header.
        self.chair = trace_chair(self.header, self.samples)
        self.zones: list[str] = list(self.chair["zones"])
        self.heaters: list[str] = list(self.chair["heaters"])
        self.track_mm = float(self.chair["track_mm"])
        self.seat_mm = float(self.chair["seat_mm"])

    def series(self, *path: str) -> list[float]:
        out = []
        for sample in self.samples:
            value: object = sample
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            out.append(float("nan") if value is None else float(value))
        return out


def _injected(url: str) -> list[tuple[float, str]]:
    """The simulator faults a run asked for (`fault=NAME@S` in a sim:// URL), by time."""
    if not url.startswith("sim://"):
        return []
    out = []
    for key, value in urllib.parse.parse_qsl(url.partition("?")[2]):
        name, _, at = value.partition("@")
        if key == "fault" and at:
            try:
                out.append((float(at), name))
            except ValueError:
                continue
    return sorted(out)
