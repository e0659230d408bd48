"""What a person sees: a live line while a run goes on, and a summary at the end.

Both are trace listeners: they see exactly the records the trace file gets. `--json`
prints those records instead, one per line.
"""

from __future__ import annotations

import json
import sys
from typing import IO, TextIO

from chair.landmarks import nearest_landmark
from chair.trace import Record


class Summary:
    """Collects the facts of a run from its records."""

    def __init__(self) -> None:
        self.header: Record = {}
        self.end: Record = {}
        self.peak_kpa: dict[str, float] = {}
        self.peak_c: dict[str, float] = {}
        self.zones: list[str] = []
        self.faults: list[str] = []
        self.samples = 0
        self.last_t = 0.0

    def __call__(self, record: Record) -> None:
        kind = record["type"]
        if kind == "header":
            self.header = record
        elif kind == "sample":
            self.samples += 1
            self.last_t = record["t"]
            for zone, kpa in record["airbags"].items():
                self.peak_kpa[zone] = max(kpa, self.peak_kpa.get(zone, 0.0))
            for zone, temp in record["heat_c"].items():
                self.peak_c[zone] = max(temp, self.peak_c.get(zone, 0.0))
        elif kind == "event":
            if record["event"] == "step" and record["zone"] not in self.zones:
                self.zones.append(record["zone"])
            elif record["event"] in ("fault", "device-fault"):
                self.faults.append(record.get("detail") or record.get("code", ""))
        elif kind == "end":
            self.end = record

    def render(self, wall_s: float | None = None) -> str:
        limits = self.header.get("limits", {})
        caps = limits.get("airbag_kpa_max", {})
        lines = [f"program   {self.header.get('program', '?')}: {self.header.get('title', '')}"]
        sim = self.end.get("t", self.last_t)
        timing = f"simulated {sim / 60:.1f} min"
        if wall_s:
            timing += f" in {wall_s:.2f} s wall ({sim / wall_s:,.0f}x real time)"
        lines.append(f"time      {timing}")
        lines.append(f"zones     {', '.join(self.zones) or 'none'}")
        if self.peak_kpa:
            lines.append("airbags   " + "  ".join(
                f"{z} {kpa:.1f}/{caps.get(z, 0):g}" for z, kpa in self.peak_kpa.items())
                + " kPa (peak/cap)")
        if self.peak_c:
            lines.append("heat      " + "  ".join(f"{z} {c:.1f}" for z, c in self.peak_c.items())
                         + f" °C (cap {limits.get('heat_c_max', '?')})")
        for caution in self.header.get("cautions", []):
            lines.append(f"caution   {caution['text']}")
        if self.faults:
            lines.append(f"faults    {'; '.join(dict.fromkeys(self.faults))}")
        lines.append(f"end       {self.end.get('state', '?')}: {self.end.get('reason', '?')}")
        return "\n".join(lines)


class LiveDisplay:
    """One line, redrawn in place on a terminal, with events printed above it."""

    def __init__(self, stream: TextIO = sys.stdout) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.header: Record = {}
        self.landmarks: dict[str, float] = {}
        self.step = ""
        self._last_draw = -1.0

    def __call__(self, record: Record) -> None:
        kind = record["type"]
        if kind == "header":
            self.header = record
            self._print(f"running {record['program']} on {record['port']}")
            for caution in record.get("cautions", []):
                self._print(f"caution: {caution['text']}")
        elif kind == "event":
            self._event(record)
        elif kind == "sample" and self.tty and record["t"] - self._last_draw >= 0.2:
            self._last_draw = record["t"]
            self.stream.write("\r\x1b[2K" + self._line(record))
            self.stream.flush()

    def _event(self, record: Record) -> None:
        name = record["event"]
        if name == "scan":
            self.landmarks = record["landmarks"]
            self._print(f"{record['t']:7.1f}s scan: shoulder line at {record['shoulder_mm']} mm")
        elif name == "step":
            self.step = f"{record['number']} {record['zone']}: {record['name']}"
            self._print(f"{record['t']:7.1f}s step {self.step}")
        elif name == "state":
            self._print(f"{record['t']:7.1f}s {record['source']} -> {record['dest']}"
                        + (f" ({record['reason']})" if "reason" in record else ""))
        elif name in ("fault", "device-fault", "refused", "user"):
            detail = record.get("detail") or record.get("why") or record.get("action", "")
            self._print(f"{record['t']:7.1f}s {name}: {detail}")

    def _line(self, record: Record) -> str:
        total = self.header.get("program_seconds", 0) or 1
        session = self.header.get("limits", {}).get("session_s_max", total)
        done = min(1.0, record["t"] / min(total, session))
        bar = "#" * int(done * 20)
        roller = record["roller"]
        where = nearest_landmark(roller["pos_mm"], self.landmarks) if self.landmarks else "-"
        air = " ".join(f"{z[:3]}{kpa:.0f}" for z, kpa in record["airbags"].items() if kpa >= 1)
        heat = " ".join(f"{z[:3]}{c:.0f}°" for z, c in record["heat_c"].items())
        left = max(0.0, min(total, session) - record["t"])
        return (f"[{bar:<20}] {left / 60:4.1f} min left | {self.step[:28]:<28} | roller "
                f"{roller['technique']} @{where} | air {air or '-'} | heat {heat}")

    def _print(self, text: str) -> None:
        prefix = "\r\x1b[2K" if self.tty else ""
        self.stream.write(prefix + text + "\n")
        self.stream.flush()


class JsonStream:
    """Every record as one JSON line on a stream (`--json`)."""

    def __init__(self, stream: IO[str] = sys.stdout) -> None:
        self.stream = stream

    def __call__(self, record: Record) -> None:
        self.stream.write(json.dumps(record, separators=(",", ":")) + "\n")
