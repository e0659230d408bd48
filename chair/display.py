"""What a person sees: a live display while a run goes on, and a summary at the end.

All are trace listeners: they see exactly the records the trace file gets. `--json`
prints those records instead, one per line (`JsonStream`), and `-v` logs them through
the standard `logging` module (`LogListener`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
from typing import IO, TextIO

from chair.landmarks import nearest_landmark
from chair.session_view import SessionView
from chair.shoulder import describe as describe_body_scan
from chair.trace import Record

#: Columns left free right of the live display: a terminal echoes "^C" there on Ctrl-C,
#: and a line that wraps makes the next redraw start a line low (a stray panel border).
ECHO_MARGIN = 4


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


def _rich_console(stream: TextIO):
    """A rich Console on `stream` when rich is installed and `stream` is a terminal."""
    try:
        from rich.console import Console
    except ImportError:
        return None
    console = Console(file=stream)
    return console if console.is_terminal else None


class LiveDisplay:
    """What a person watches during a real-time run; events are printed as they happen.

    * On a terminal with rich installed (`pip install '.[display]'`): a panel redrawn in
      place (progress, step, roller on the body, airbags against their caps, heat, state),
      with events scrolling above it.
    * On a terminal without rich: one line redrawn in place with ANSI escapes.
    * Not a terminal (piped or redirected): plain lines only, no escapes: every event,
      and a status line every `plain_every_s` seconds of run time.

    Pass `console` (a rich Console) to choose the rich display explicitly.
    """

    def __init__(self, stream: TextIO | None = None, *, console=None,
                 plain_every_s: float = 10.0) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.console = console if console is not None else (
            _rich_console(self.stream) if self.tty else None)
        if self.console is not None:
            self.tty = True
        self.plain_every_s = plain_every_s
        self.header: Record = {}
        self.landmarks: dict[str, float] = {}
        self.step = ""
        self._last_draw = -1.0
        self._last_plain = -1.0e9
        self._live = None
        self._sample: Record | None = None
        self.state = ""
        self._gone = False  # the reader went away: write nothing more
        self.view = SessionView()  # program time, the step, the chair at rest

    @property
    def mode(self) -> str:
        """`rich`, `ansi` or `plain`: how this display draws."""
        if self.console is not None:
            return "rich"
        return "ansi" if self.tty else "plain"

    def __call__(self, record: Record) -> None:
        kind = record["type"]
        self.view(record)
        if kind == "header":
            self.header = record
            self._print(f"running {record.get('program', '?')} on {record.get('port', '?')}")
            for caution in record.get("cautions", []):
                self._print(f"caution: {caution['text']}")
                for change in caution.get("changes", []):
                    self._print(f"  - {change}")
            for line in start_lines(record):  # before anything moves: the header comes first
                self._print(line)
        elif kind == "event":
            self._event(record)
        elif kind == "sample":
            self._sample_record(record)
        elif kind == "end":
            self.close()
            verdict, safe = self.view.safety()  # said at every end, a double Ctrl-C's too
            self._print(f"{record['t']:7.1f}s chair: {verdict}",
                        style=None if safe else "bold red")
            self._print(f"{record['t']:7.1f}s end: {record.get('state', '?')}, "
                        f"{record.get('reason', '?')}")

    def close(self) -> None:
        """Stop redrawing (the end record does this; call it if a run never ends)."""
        if self._live is not None:
            latest = self.view.latest  # the newest report, not the last one drawn
            if latest is not None:
                self._live.update(self._panel(latest), refresh=True)
            self._live.stop()
            self._live = None
        elif self.mode == "ansi" and self._last_draw >= 0:
            self._write("\r\x1b[2K")

    def _sample_record(self, record: Record) -> None:
        t = record["t"]
        if self.mode == "plain":
            if t - self._last_plain >= self.plain_every_s:
                self._last_plain = t
                self._print(f"{t:7.1f}s {self._line(record)}")
            return
        if t - self._last_draw < 0.2:
            return
        self._last_draw = t
        self._sample = record
        if self.mode == "ansi":
            columns = shutil.get_terminal_size(fallback=(100, 24)).columns
            self._write("\r\x1b[2K" + self._line(record)[:columns - ECHO_MARGIN])
            return
        if self._live is None:
            from rich.live import Live

            self._live = Live(self._panel(record), console=self.console, auto_refresh=False,
                              redirect_stdout=False, redirect_stderr=False)
            self._live.start()
        self._live.update(self._panel(record), refresh=True)

    def _event(self, record: Record) -> None:
        name = record["event"]
        text = None
        if name == "scan":
            self.landmarks = record["landmarks"]
            text = f"scan: shoulder line at {record['shoulder_mm']} mm"
        elif name == "step":
            self.step = self.view.step
            text = f"step {self.step}"
        elif name == "state":
            self.state = record["dest"]
            text = f"{record['source']} -> {record['dest']}" + (
                f" ({record['reason']})" if "reason" in record else "")
        elif name in ("fault", "device-fault", "refused", "user", "device-refused",
                      "device-restart"):
            detail = (record.get("detail") or record.get("why") or record.get("action")
                      or record.get("firmware", ""))
            if name == "device-fault":
                detail = f"{record.get('code', '')} {detail}".strip()
            if detail == "stop-now":
                detail = "stop-now: emergency stop sent (the chair latches F01 estop)"
            text = f"{name}: {detail}"
        if text is not None:
            self._print(f"{record['t']:7.1f}s {text}",
                        style="bold red" if "fault" in name else None)

    # ---- what is drawn

    def _progress(self, t: float) -> tuple[float, float]:
        """(fraction done, seconds left) of the program: counts only while running."""
        return self.view.progress(t)

    def _where(self, pos_mm: float) -> str:
        return nearest_landmark(pos_mm, self.landmarks) if self.landmarks else "-"

    def _line(self, record: Record) -> str:
        done, left = self._progress(record["t"])
        bar = "#" * int(done * 20)
        when = f"{left / 60:4.1f} min left" if self.view.counting else \
            self.view.left_text(record["t"])
        step_left = self.view.step_left(record["t"])
        step = self.step if step_left is None else \
            f"{self.step} {int(step_left // 60)}:{int(step_left % 60):02d}"
        roller = record["roller"]
        air = " ".join(f"{z[:3]}{kpa:.0f}" for z, kpa in record["airbags"].items() if kpa >= 1)
        heat = " ".join(f"{z[:3]}{c:.0f}°" for z, c in record["heat_c"].items())
        return (f"[{bar:<20}] {when} | {step[:34]:<34} | roller "
                f"{roller['technique']} @{self._where(roller['pos_mm'])} | air {air or '-'} "
                f"| heat {heat}")

    def _panel(self, record: Record):
        from rich.panel import Panel
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        limits = self.header.get("limits", {})
        caps = limits.get("airbag_kpa_max", {})
        done, _ = self._progress(record["t"])
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", min_width=8)
        grid.add_column()
        progress = Table.grid(padding=(0, 1))
        progress.add_row(ProgressBar(total=1.0, completed=done, width=30),
                         Text(f"{done * 100:3.0f} %  {self.view.left_text(record['t'])}"))
        grid.add_row("session", progress)
        grid.add_row("step", Text(self.view.step_text(record["t"])))
        roller = record["roller"]
        if roller["technique"] == "off":
            roller_text = f"off @ {self._where(roller['pos_mm'])} ({roller['pos_mm']:.0f} mm)"
        else:
            roller_text = (f"{roller['technique']} @ {self._where(roller['pos_mm'])} "
                           f"({roller['pos_mm']:.0f} mm)  depth {roller['depth']}  "
                           f"width {roller['width']}  speed {roller['speed']}")
        grid.add_row("roller", Text(roller_text))
        air = Table.grid(padding=(0, 1))
        for zone, kpa in record["airbags"].items():
            cap = caps.get(zone) or 1.0
            if kpa >= 0.5:
                air.add_row(Text(zone, style="cyan"),
                            ProgressBar(total=cap, completed=min(kpa, cap), width=16),
                            Text(f"{kpa + 0.0:4.1f}/{cap:g} kPa"))
        grid.add_row("airbags", air if air.row_count else Text("all vented", style="dim"))
        heat_cap = limits.get("heat_c_max")
        heat = Text()
        for zone, temp in record["heat_c"].items():
            hot = heat_cap is not None and temp >= heat_cap - 1.0
            heat.append(f"{zone} {temp:.1f} °C  ", style="bold red" if hot else "")
        if heat_cap:
            heat.append(f" (cut-off {heat_cap:g} °C)", style="dim")
        grid.add_row("heat", heat)
        extras = []
        if record.get("foot"):
            extras.append(f"foot rollers {record['foot']}")
        recline = record.get("recline", {})
        extras.append(f"recline back {recline.get('back_pct', 0):.0f} % "
                      f"leg {recline.get('leg_pct', 0):.0f} %")
        grid.add_row("chair", Text("   ".join(extras)))
        state = Text(f"{self.state or record['state']}  (device {record['device_state']})",
                     style="bold red" if (self.state or record["state"]) in ("fault", "estop")
                     else "")
        if record.get("faults"):
            state.append("  faults: " + ", ".join(record["faults"]), style="bold red")
        grid.add_row("state", state)
        title = f"{self.header.get('program', '?')}: {self.header.get('title', '')}"
        return Panel(grid, title=title, title_align="left",
                     subtitle="Ctrl-C parks the chair; twice stops it at once",
                     subtitle_align="right", width=max(40, self.console.width - ECHO_MARGIN))

    def _print(self, text: str, style: str | None = None) -> None:
        if self.console is not None:
            from rich.text import Text

            self.console.print(Text(text, style=style or ""))
            return
        prefix = "\r\x1b[2K" if self.tty else ""
        self._write(prefix + text + "\n")

    def _write(self, text: str) -> None:
        if self._gone:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except BrokenPipeError:
            self._gone = True
            _reader_gone(self.stream)


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
