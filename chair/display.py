"""What a person sees during a run: the live display on the terminal.

The records as text (start notes, the summary, `--json`, `logging`) are chair/reports.py;
their names stay importable from here.
"""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

from chair.landmarks import nearest_landmark
from chair.reports import (
    JsonStream,
    LogListener,
    StartNotes,
    Summary,
    _reader_gone,
    skipped_lines,
    start_lines,
)
from chair.session_view import SessionView
from chair.trace import Record

__all__ = ["ECHO_MARGIN", "JsonStream", "LiveDisplay", "LogListener", "StartNotes", "Summary",
           "skipped_lines", "start_lines"]


#: Columns left free right of the live display: a terminal echoes "^C" there on Ctrl-C,
#: and a line that wraps makes the next redraw start a line low (a stray panel border).
ECHO_MARGIN = 4


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
