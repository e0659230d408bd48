"""The live display of a real-time run, driven by fake records (issue 9, item 15): an echoed
Ctrl-C leaves no stray panel border, the panel shows the device as it is now, the session
bar stops counting after a stop, a double Ctrl-C ends saying whether the chair is safe, and
the step shows `n of m` and its time left."""

from __future__ import annotations

import io
import re

import pytest

from chair.display import LiveDisplay
from chair.session_view import SessionView

rich_console = pytest.importorskip("rich.console")
WIDTH = 80
HEADER = {"type": "header", "program": "lumbar", "title": "Lower back", "port": "sim://",
          "limits": {"airbag_kpa_max": {"lumbar": 20.0, "seat": 20.0}, "heat_c_max": 43.0,
                     "session_s_max": 900.0},
          "program_seconds": 100.0, "program_steps": 3, "cautions": []}


def sample(t: float, *, state: str = "running", device: str = "Run", kpa: float = 8.0,
           technique: str = "knead", faults: tuple[str, ...] = ()) -> dict:
    return {"type": "sample", "t": round(t, 3), "state": state, "step": None,
            "roller": {"pos_mm": 600.0, "depth": 2, "technique": technique, "width": 2,
                       "speed": 3, "force_n": 0.0},
            "airbags": {"lumbar": kpa, "seat": 0.0}, "heat_c": {"lumbar": 36.0, "seat": 24.0},
            "foot": 0, "recline": {"back_pct": 0.0, "leg_pct": 0.0}, "occupied": True,
            "device_state": device, "faults": list(faults)}


def event(t: float, kind: str, **fields) -> dict:
    return {"type": "event", "t": round(t, 3), "event": kind, **fields}


def state(t: float, source: str, dest: str, trigger: str, **fields) -> dict:
    return event(t, "state", source=source, dest=dest, trigger=trigger, **fields)


def running(until: float = 10.0) -> list[dict]:
    """Connect, scan, run; step 1 of 3 (40 s) begins at 1.0 s; samples every 0.25 s."""
    out = [HEADER, state(0.0, "disconnected", "connecting", "connect"),
           state(0.1, "connecting", "idle", "connected"), state(0.2, "idle", "scanning", "start"),
           event(1.0, "scan", shoulder_mm=300.0, landmarks={"l5": 600.0, "sacrum": 700.0}),
           state(1.0, "scanning", "running", "scanned"),
           event(1.0, "step", number=1, zone="lumbar", name="warm and settle", seconds=40)]
    t = 1.1
    while t <= until:
        out.append(sample(t))
        t += 0.25
    return out


def stopped_and_parked(at: float = 10.1) -> list[dict]:
    """A user's stop at `at`, parking for 4 s, then idle (the last report 0.1 s after the
    one before it: the display's 0.2 s redraw throttle would skip it)."""
    out = [event(at, "user", action="stop"),
           state(at, "running", "parking", "stop", reason="stopped by the user")]
    t = at + 0.1
    while t < at + 3.9:  # the last at + 3.85
        out.append(sample(t, state="parking", kpa=max(0.0, 8 - (t - at) * 3), technique="off"))
        t += 0.25
    out += [state(at + 3.9, "parking", "idle", "parked"),
            sample(at + 3.95, state="idle", device="Idle", kpa=0.0, technique="off"),
            {"type": "end", "t": round(at + 4.0, 3), "state": "idle",
             "reason": "stopped by the user"}]
    return out


class Screen:
    """A minimal terminal of `width` columns: what stays on screen and in the scrollback.

    Printable characters with xterm's deferred wrap; CR, LF; CSI n A (up), CSI 2K / K
    (erase line); other escapes ignored."""

    def __init__(self, width: int) -> None:
        self.width, self.lines, self.row, self.col, self.wrap = width, [[]], 0, 0, False

    def feed(self, text: str) -> Screen:
        for token in re.findall(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|.", text, re.S):
            if token == "\r":
                self.col, self.wrap = 0, False
            elif token == "\n":
                self.row, self.col, self.wrap = self.row + 1, 0, False
            elif token.startswith("\x1b["):
                kind, arg = token[-1], token[2:-1]
                if kind == "A":
                    self.row, self.wrap = max(0, self.row - int(arg or 1)), False
                elif kind == "K":
                    del self._line()[0 if arg == "2" else self.col:]
            elif not token.startswith("\x1b"):
                self._put(token)
        return self

    def _line(self) -> list[str]:
        while len(self.lines) <= self.row:
            self.lines.append([])
        return self.lines[self.row]

    def _put(self, char: str) -> None:
        if self.wrap:
            self.row, self.col, self.wrap = self.row + 1, 0, False
        line = self._line()
        line.extend(" " * (self.col + 1 - len(line)))
        line[self.col] = char
        if self.col == self.width - 1:
            self.wrap = True
        else:
            self.col += 1

    def text(self) -> list[str]:
        return ["".join(line).rstrip() for line in self.lines]


def rich_display() -> tuple[LiveDisplay, io.StringIO]:
    stream = io.StringIO()
    console = rich_console.Console(file=stream, force_terminal=True, width=WIDTH,
                                   color_system=None)
    return LiveDisplay(console=console), stream


def feed(display, records: list[dict]) -> None:
    for record in records:
        display(record)


def last_panel(stream: io.StringIO) -> str:
    """The panel as the terminal shows it at the end."""
    lines = Screen(WIDTH).feed(stream.getvalue()).text()
    top = max(i for i, line in enumerate(lines) if line.startswith("╭"))
    bottom = next(i for i in range(top, len(lines)) if lines[i].startswith("╰"))
    return "\n".join(lines[top:bottom + 1])


def test_an_echoed_ctrl_c_leaves_no_stray_panel_border() -> None:
    """Before: the terminal's "^C" after a full-width panel wrapped, every later redraw
    started a line low, and the old panel's top border stayed in the scrollback."""
    display, stream = rich_display()
    feed(display, running())
    stream.write("^C")  # the terminal echoes Ctrl-C where the cursor is: after the panel
    feed(display, stopped_and_parked())
    lines = Screen(WIDTH).feed(stream.getvalue()).text()
    assert sum(line.startswith("╭") for line in lines) == 1, "\n".join(lines)
    assert sum(line.startswith("╰") for line in lines) == 1, "\n".join(lines)


def test_an_echoed_ctrl_c_leaves_no_stray_status_line(monkeypatch) -> None:
    """The one-line display (no rich) never fills the terminal's width either."""
    monkeypatch.setenv("COLUMNS", "60")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    display = LiveDisplay(stream, console=None)
    display.console = None  # as without rich
    feed(display, running())
    stream.write("^C")
    feed(display, stopped_and_parked())
    lines = Screen(60).feed(stream.getvalue()).text()
    assert not [line for line in lines if line.startswith("[")], "\n".join(lines)


def test_the_panel_shows_the_device_as_it_is_at_the_end() -> None:
    """Before: `device Run` after the chair was idle (the last report was not drawn)."""
    display, stream = rich_display()
    feed(display, running() + stopped_and_parked())
    panel = last_panel(stream)
    assert "idle  (device Idle)" in panel and "device Run" not in panel, panel
    assert "all vented" in panel


def test_the_session_bar_stops_counting_after_a_stop() -> None:
    """Before: the bar and `m:ss left` went on counting down through parking and after."""
    view = SessionView()
    feed(view, running())
    at_stop = view.progress(10.1)
    feed(view, stopped_and_parked())
    assert view.progress(14.1) == pytest.approx(at_stop) == view.progress(100.0)
    assert view.left_text(14.1) == "ended"
    display, stream = rich_display()
    feed(display, running() + stopped_and_parked())
    panel = last_panel(stream)
    assert f"{at_stop[0] * 100:3.0f} %  ended" in panel, panel
    assert "left" not in panel.splitlines()[1], "no countdown once stopped"


def test_a_pause_does_not_count() -> None:
    view = SessionView()
    feed(view, [*running(5.0), state(5.0, "running", "paused", "pause"),
                state(65.0, "paused", "running", "resume")])
    assert view.program_s(70.0) == pytest.approx(4.0 + 5.0)
    assert view.step_left(70.0) == pytest.approx(40 - 9.0)


@pytest.mark.parametrize("confirmed", [False, True])
def test_a_double_ctrl_c_ends_saying_whether_the_chair_is_safe(confirmed: bool) -> None:
    """Before: "stopped at once by the user", and nothing about the chair."""
    records = [*running(), event(10.1, "user", action="stop"),
               state(10.1, "running", "parking", "stop", reason="stopped by the user"),
               sample(10.2, state="parking", kpa=6.0, technique="off"),
               event(10.3, "user", action="stop-now")]
    if confirmed:
        records.append(sample(10.4, state="parking", device="Estop", kpa=0.3, technique="off",
                              faults=("F01 estop",)))
    records.append({"type": "end", "t": 10.5, "state": "parking",
                    "reason": "stopped at once by the user"})
    stream = io.StringIO()
    feed(LiveDisplay(stream), records)
    lines = stream.getvalue().splitlines()
    assert any("stop-now: emergency stop sent" in line for line in lines)
    verdict = lines[-2]
    assert lines[-1].strip().startswith("10.5s end: parking, stopped at once by the user")
    if confirmed:
        assert "chair: safe: device Estop, airbags vented, roller off" in verdict
        assert "F01 estop" in verdict and "chair reset" in verdict
    else:
        assert "NOT confirmed safe" in verdict and "emergency stop sent" in verdict


def test_a_chair_not_at_rest_at_the_end_is_said() -> None:
    stream = io.StringIO()
    feed(LiveDisplay(stream), [
        *running(), {"type": "end", "t": 10.5, "state": "disconnected", "reason": "link lost"}])
    verdict = stream.getvalue().splitlines()[-2]
    assert "NOT confirmed safe" in verdict and "lumbar 8.0 kPa" in verdict
    assert "roller knead" in verdict


def test_the_step_shows_n_of_m_and_its_time_left() -> None:
    """Before: `1 lumbar: warm and settle`, no count of steps, no time left in the step."""
    display, stream = rich_display()
    records = running(10.0)
    feed(display, records)
    display.close()
    last = records[-1]["t"]
    left = 40 - (last - 1.0)
    panel = last_panel(stream)
    assert f"1 of 3 lumbar: warm and settle  (0:{int(left):02d} left in step)" in panel, panel
    plain = io.StringIO()
    feed(LiveDisplay(plain), records)
    assert "step 1 of 3 lumbar: warm and settle" in plain.getvalue()


def test_a_run_that_never_reached_the_chair_says_it_moved_nothing() -> None:
    """Before: a port that would not open ended on "NOT confirmed safe; check it", an alarm
    for a chair this run never touched."""
    from chair.session_view import SessionView

    view = SessionView()
    view({"type": "event", "t": 0.0, "event": "state", "source": "disconnected",
          "dest": "connecting", "trigger": "connect"})
    verdict, safe = view.safety()
    assert safe and "moved nothing" in verdict
    view({"type": "event", "t": 0.1, "event": "state", "source": "connecting",
          "dest": "idle", "trigger": "connected"})
    verdict, safe = view.safety()  # connected, no report yet: that is not known safe
    assert not safe and "NOT confirmed safe" in verdict
