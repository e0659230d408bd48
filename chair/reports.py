"""The run's records as text: the start notes, the summary at the end, `--json` lines
(`JsonStream`) and `logging` messages (`-v`, `LogListener`). All are trace listeners: they
see exactly the records the trace file gets. The live terminal display is chair/display.py.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from typing import IO

from chair.shoulder import describe as describe_body_scan
from chair.trace import Record


def skipped_lines(header: Record) -> list[str]:
    """What of the program the chair cannot do and was left out (the header's `skipped`:
    chair.fit), one line each; none on a chair that does it all."""
    return [f"step {s.get('step', '?')} "
            f"{'(the whole step)' if s.get('part') == 'step' else s.get('part', '?')}: "
            f"{s.get('why', '')}" for s in header.get("skipped") or ()]


def start_lines(header: Record) -> list[str]:
    """What a run says before anything moves about this chair: where the shoulder line
    comes from, and the program's parts the chair cannot do (skipped)."""
    lines = []
    if header.get("body_scan"):
        lines.append(f"body scan: {describe_body_scan(header['body_scan'])}")
    skipped = skipped_lines(header)
    if skipped:
        lines += ["this chair cannot do, so skipped:", *(f"  - {line}" for line in skipped)]
    return lines


class StartNotes:
    """A fast-forward run's start: `start_lines` printed when the header arrives (a
    real-time run's display says them in its own place)."""

    def __init__(self, out=None) -> None:
        self.out = out

    def __call__(self, record: Record) -> None:
        if record["type"] == "header":
            for line in start_lines(record):
                print(line, file=self.out or sys.stdout, flush=True)


class Summary:
    """Collects the facts of a run from its records."""

    def __init__(self) -> None:
        self.header: Record = {}
        self.end: Record = {}
        self.peak_kpa: dict[str, float] = {}
        self.peak_c: dict[str, float] = {}
        #: Heater readings left out of `peak_c` as implausible (°C, most extreme first seen).
        self.implausible_c: dict[str, float] = {}
        self.zones: list[str] = []
        self.faults: list[str] = []
        self.samples = 0
        self.last_t = 0.0
        self.shoulder_mm: float | None = None  # where the scan placed the shoulder line

    def __call__(self, record: Record) -> None:
        kind = record["type"]
        if kind == "header":
            self.header = record
        elif kind == "sample":
            self.samples += 1
            self.last_t = record["t"]
            for zone, kpa in record["airbags"].items():
                self.peak_kpa[zone] = max(self.peak_kpa.get(zone, 0.0), kpa + 0.0)
            implausible = record.get("implausible", ())
            for zone, temp in record["heat_c"].items():
                if f"heat_c.{zone}" in implausible:  # an open or shorted thermistor
                    self.implausible_c.setdefault(zone, temp)
                else:
                    self.peak_c[zone] = max(self.peak_c.get(zone, 0.0), temp)
        elif kind == "event":
            if record["event"] == "step" and record["zone"] not in self.zones:
                self.zones.append(record["zone"])
            elif record["event"] == "scan":
                self.shoulder_mm = record["shoulder_mm"]
            elif record["event"] in ("fault", "device-fault"):
                self.faults.append(record.get("detail") or record.get("code", ""))
        elif kind == "end":
            self.end = record

    def render(self, wall_s: float | None = None) -> str:
        limits = self.header.get("limits", {})
        caps = limits.get("airbag_kpa_max", {})
        lines = [f"program   {self.header.get('program', '?')}: {self.header.get('title', '')}"]
        sim = self.end.get("t", self.last_t)
        timing = (f"simulated {sim / 60:.1f} min" if self.header.get("fast")
                  else f"ran {sim / 60:.1f} min")
        if wall_s:
            timing += f" in {wall_s:.2f} s wall ({sim / wall_s:,.0f}x real time)"
        lines.append(f"time      {timing}")
        lines.append(f"zones     {', '.join(self.zones) or 'none'}")
        scan = self.header.get("body_scan")
        if scan:
            text = describe_body_scan(scan)
            if scan.get("method") == "force" and self.shoulder_mm is not None:
                text = f"shoulder line at {self.shoulder_mm:g} mm, found by the roller's " \
                       "force sensor (body scan)"
            lines.append(f"scan      {text}")
        if self.peak_kpa:
            lines.append("airbags   " + "  ".join(
                f"{z} {kpa:.1f}/{caps.get(z, 0):g}" for z, kpa in self.peak_kpa.items())
                + " kPa (peak/cap)")
        if self.peak_c:
            lines.append("heat      " + "  ".join(f"{z} {c:.1f}" for z, c in self.peak_c.items())
                         + f" °C (cap {limits.get('heat_c_max', '?')})")
        if self.implausible_c:
            lines.append("          implausible readings, not peaks: " + "  ".join(
                f"{z} {c:.1f}" for z, c in self.implausible_c.items()) + " °C")
        for caution in self.header.get("cautions", []):
            lines.append(f"caution   {caution['text']}")
            lines.extend(f"          - {change}" for change in caution.get("changes", []))
        for i, line in enumerate(skipped_lines(self.header)):
            lines.append(f"{'skipped' if i == 0 else '':<10}{line}")
        if self.faults:
            lines.append(f"faults    {'; '.join(dict.fromkeys(self.faults))}")
        lines.append(f"end       {self.end.get('state', '?')}: {self.end.get('reason', '?')}")
        return "\n".join(lines)


class LogListener:
    """The run's records as `logging` messages (`chair -v run ...`).

    INFO: state changes, the scan, each step and a user's stop; WARNING: faults, refusals
    and device restarts; DEBUG (`-vv`): one status line per `debug_every_s` seconds.
    """

    def __init__(self, logger: logging.Logger | None = None,
                 debug_every_s: float = 1.0) -> None:
        self.log = logger or logging.getLogger("chair.run")
        self.debug_every_s = debug_every_s
        self._last_debug = -1.0e9

    def __call__(self, record: Record) -> None:
        kind = record["type"]
        log = self.log
        if kind == "header":
            log.info("run %s on %s (firmware %s)", record.get("program"), record.get("port"),
                     record.get("versions", {}).get("firmware", "?"))
            if record.get("body_scan"):
                log.info("body scan: %s", describe_body_scan(record["body_scan"]))
            for line in skipped_lines(record):
                log.warning("skipped, this chair cannot do it: %s", line)
        elif kind == "end":
            log.info("t=%.2fs end: %s, %s", record["t"], record.get("state"),
                     record.get("reason"))
        elif kind == "sample":
            if log.isEnabledFor(logging.DEBUG) and \
                    record["t"] - self._last_debug >= self.debug_every_s:
                self._last_debug = record["t"]
                roller = record["roller"]
                log.debug("t=%.2fs %s/%s roller %s %.0f mm d%s air %s heat %s", record["t"],
                          record["state"], record["device_state"], roller["technique"],
                          roller["pos_mm"], roller["depth"],
                          ",".join(f"{v + 0.0:.1f}" for v in record["airbags"].values()),
                          ",".join(f"{v:.1f}" for v in record["heat_c"].values()))
        elif kind == "event":
            self._event(record)

    def _event(self, record: Record) -> None:
        name, t, log = record["event"], record["t"], self.log
        if name == "state":
            log.info("t=%.2fs state %s -> %s (%s)%s", t, record["source"], record["dest"],
                     record["trigger"],
                     f": {record['reason']}" if record.get("reason") else "")
        elif name == "scan":
            log.info("t=%.2fs scan: shoulder line at %s mm", t, record["shoulder_mm"])
        elif name == "step":
            log.info("t=%.2fs step %s %s: %s (%g s)", t, record["number"], record["zone"],
                     record["name"], record["seconds"])
        elif name == "user":
            log.info("t=%.2fs user: %s", t, record.get("action"))
        elif name in ("fault", "device-fault", "device-refused", "refused", "device-restart"):
            fields = {k: v for k, v in record.items() if k not in ("type", "t", "event")}
            log.warning("t=%.2fs %s: %s", t, name,
                        " ".join(f"{k}={v}" for k, v in fields.items()))


def _reader_gone(stream: IO[str]) -> None:
    """The reader of `stream` went away (`chair run --json | head`). The run must go on (it
    parks the chair); send whatever is still written to stdout nowhere."""
    if stream is sys.stdout:
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class JsonStream:
    """Every record as one JSON line on a stream (`--json`)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.closed = False

    def __call__(self, record: Record) -> None:
        if self.closed:
            return
        try:
            self.stream.write(json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n")
            self.stream.flush()  # a reader sees each record as it happens
        except BrokenPipeError:
            self.closed = True
            _reader_gone(self.stream)
