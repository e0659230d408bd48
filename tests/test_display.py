"""What a person sees of a run (live display, summary, logging, JSON), and `chair ports`."""

from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from chair import ports
from chair.cli import main
from chair.display import JsonStream, LiveDisplay, LogListener, Summary
from chair.trace import read_trace


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> list[dict]:
    """The records of a lumbar run whose vent valve sticks shut at 100 s (a fault at the end).

    (With osteoporosis: the herniated-disc caution now turns the lumbar airbags off.)"""
    path = tmp_path_factory.mktemp("display") / "t.jsonl"
    assert main(["run", "lumbar", "--fast", "--caution", "osteoporosis",
                 "--fault", "vent-stuck-closed@100", "--trace", str(path)]) == 3
    return read_trace(str(path))


def feed(display, records: list[dict]) -> None:
    for record in records:
        display(record)


# ----------------------------------------------------------------------- the live display


def test_not_a_terminal_gives_plain_lines(records: list[dict]) -> None:
    stream = io.StringIO()
    display = LiveDisplay(stream)
    assert display.mode == "plain"
    feed(display, records)
    out = stream.getvalue()
    assert "\x1b" not in out and "\r" not in out, "no escapes in a file or a pipe"
    lines = out.splitlines()
    assert lines[0].startswith("running lumbar on sim://")
    assert any(line.startswith("caution: osteoporosis") for line in lines)
    steps = records[0]["program_steps"]  # the display says step n of m
    assert any(f"step 1 of {steps} lumbar: warm and settle" in line for line in lines)
    # the device's F19 or the supervisor, whichever notices the stuck vent first
    assert any("running -> fault (" in line and "lumbar does not vent" in line
               for line in lines)
    assert lines[-1].strip().startswith(f"{records[-1]['t']:.1f}s end: fault")
    status = [line for line in lines if "min left" in line]
    # while the program runs (not while the chair settles after the fault: a bag whose
    # reading is not trusted is then waited for, 4.4 s)
    run_s = next(r["t"] for r in records if r.get("event") == "state"
                 and r["source"] == "running" and r["dest"] == "fault")
    assert run_s / 10 - 1 <= len(status) <= run_s / 10 + 2, "a status line every 10 s"


def test_a_terminal_without_rich_redraws_one_line(records: list[dict], monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "rich.console", None)  # as if rich were not installed
    stream = FakeTerminal()
    display = LiveDisplay(stream)
    assert display.mode == "ansi"
    feed(display, records)
    out = stream.getvalue()
    assert "\r\x1b[2K[" in out and "min left" in out, "the status line is redrawn in place"
    assert f"step 3 of {records[0]['program_steps']} lumbar: gentle kneading" in out
    assert out.endswith("\n"), "the last line is finished, not left half-drawn"


def test_a_terminal_with_rich_gets_a_live_panel(records: list[dict]) -> None:
    rich_console = pytest.importorskip("rich.console")
    stream = io.StringIO()
    console = rich_console.Console(file=stream, force_terminal=True, width=120,
                                   color_system=None)
    display = LiveDisplay(console=console)
    assert display.mode == "rich"
    feed(display, records)
    out = stream.getvalue()
    assert "lumbar: Lower back: warm and loosen" in out  # the panel's title
    for label in ("session", "step", "roller", "airbags", "heat", "state"):
        assert f"│ {label}" in out, label
    assert "@ l5" in out or "@ l3" in out or "@ sacrum" in out, "the roller's place on the body"
    assert "/28 kPa" in out, "airbags against the cap in force (lumbar: 28 kPa)"
    assert "cut-off 43 °C" in out
    assert "fault  (device" in out, "the panel shows the controller's state after a fault"
    assert f"step 3 of {records[0]['program_steps']} lumbar: gentle kneading" in out, \
        "events scroll above the panel"
    assert "end: fault" in out
    assert display._live is None, "the live panel is stopped at the end of the run"


def test_rich_is_chosen_for_a_terminal_when_installed(monkeypatch) -> None:
    pytest.importorskip("rich")
    for name in ("TERM", "TTY_COMPATIBLE", "FORCE_COLOR", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert LiveDisplay(FakeTerminal()).mode == "rich"
    assert LiveDisplay(io.StringIO()).mode == "plain"


def test_the_real_time_cli_on_a_pipe_prints_plain_lines(capsys) -> None:
    """`chair run` without --fast uses the live display; captured output is not a tty."""
    code = main(["run", "feet", "--yes", "--port", "sim://?seated=0"])  # refused at once: no person
    out = capsys.readouterr().out
    assert code == 3
    assert "\x1b" not in out
    assert "running feet on sim://" in out
    assert "refused: nobody is seated" in out and "s end: " in out


# ----------------------------------------------------------------------- summary, json, logs


def test_the_summary_reads_well(records: list[dict]) -> None:
    summary = Summary()
    feed(summary, records)
    text = summary.render(wall_s=0.5)
    assert "-0.0" not in text, "no negative zeros"
    assert "simulated 1.8 min in 0.50 s wall" in text
    assert "caution   osteoporosis" in text
    faults = next(line for line in text.splitlines() if line.startswith("faults    "))
    assert "lumbar does not vent" in faults  # the device's F19 or the supervisor's words
    end = text.splitlines()[-1]
    assert end.startswith("end       fault: ") and "lumbar does not vent" in end
    live = Summary()
    feed(live, [{**records[0], "fast": False}, *records[1:]])
    assert "ran 1.8 min" in live.render()


def test_json_stream_is_one_record_per_line_and_flushed(records: list[dict]) -> None:
    flushed: list[int] = []

    class Stream(io.StringIO):
        def flush(self) -> None:
            flushed.append(len(self.getvalue()))

    stream = Stream()
    feed(JsonStream(stream), records[:50])
    lines = stream.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == records[:50]
    assert len(flushed) == 50, "each record reaches a reader as it happens"


class GonePipe(io.StringIO):
    """A stream whose reader has gone (`chair run --json | head`)."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        if self.writes > 3:
            raise BrokenPipeError
        return super().write(text)


def test_a_reader_that_goes_away_does_not_stop_the_run(records: list[dict]) -> None:
    """The run must go on to park the chair, whoever stopped reading its output."""
    for display in (JsonStream(GonePipe()), LiveDisplay(GonePipe())):
        feed(display, records)  # no BrokenPipeError escapes
        assert display.stream.writes == 4, "nothing is written after the pipe broke"


def test_run_json_prints_the_trace_records(capsys) -> None:
    assert main(["run", "feet", "--fast", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    parsed = [json.loads(line) for line in lines]
    assert parsed[0]["type"] == "header" and parsed[-1]["type"] == "end"
    assert {"sample", "event"} <= {r["type"] for r in parsed}


def test_log_listener_logs_states_steps_and_faults(records: list[dict], caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="chair.run")
    feed(LogListener(), records)
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("state idle -> scanning (start)" in m for m in info)
    assert any("step 1 lumbar: warm and settle" in m for m in info)
    assert any("scan: shoulder line at" in m for m in info)
    assert any("fault:" in m and "does not vent" in m for m in warnings)
    assert any(m.startswith(f"t={records[-1]['t']:.2f}s end: fault") for m in info)
    run_s = records[-1]["t"]
    assert run_s - 2 <= len(debug) <= run_s + 2, "-vv: one status line per second"
    assert not any("-0.0" in m for m in debug)


def test_verbose_cli_logs_through_logging(caplog) -> None:
    caplog.set_level(logging.INFO)
    assert main(["-v", "run", "feet", "--fast"]) == 0
    names = {r.name for r in caplog.records}
    assert "chair.run" in names
    assert "transitions.core" not in names, "the state-machine library stays quiet below -vvv"
    messages = [r.getMessage() for r in caplog.records if r.name == "chair.run"]
    assert any("state running -> parking (finish)" in m for m in messages)


# ----------------------------------------------------------------------- chair ports


def _port(device: str, vid: int | None = None, pid: int | None = None,
          description: str = "n/a") -> SimpleNamespace:
    hwid = f"USB VID:PID={vid:04X}:{pid:04X}" if vid is not None else "n/a"
    return SimpleNamespace(device=device, description=description, hwid=hwid, vid=vid,
                           pid=pid, manufacturer=None, serial_number=None)


FAKE_PORTS = [
    _port("/dev/ttyS0"),
    _port("/dev/ttyUSB0", 0x1A86, 0x7523, "USB Serial"),
    _port("/dev/ttyUSB1", 0x10C4, 0xEA60, "CP2102 USB to UART Bridge Controller"),
    _port("/dev/ttyUSB2", 0x0403, 0x6001, "FT232R USB UART"),
    _port("/dev/ttyUSB3", 0x0403, 0x6015, "FT231X USB UART"),
    _port("/dev/ttyACM0", 0x2341, 0x0043, "Arduino Uno"),
    _port("/dev/ttyACM1", 0x2E8A, 0x000A, "Board CDC"),
    _port("/dev/ttyACM2", 0x1234, 0x5678, "Some modem"),
]


@pytest.fixture
def fake_ports(monkeypatch) -> None:
    from serial.tools import list_ports

    monkeypatch.setattr(list_ports, "comports", lambda *a, **k: list(FAKE_PORTS))


def test_describe_ports_marks_the_likely_bridges(fake_ports) -> None:
    described = {p["device"]: p for p in ports.describe_ports()}
    likely = {d for d, p in described.items() if p["likely_bridge"]}
    assert likely == {"/dev/ttyUSB0", "/dev/ttyUSB1", "/dev/ttyUSB2", "/dev/ttyUSB3",
                      "/dev/ttyACM0", "/dev/ttyACM1"}
    ch340 = described["/dev/ttyUSB0"]
    assert ch340["vid"] == 0x1A86 and ch340["pid"] == 0x7523 and ch340["vid_pid"] == "1a86:7523"
    assert "CH340" in ch340["bridge"] and ch340["hwid"].startswith("USB VID:PID")
    assert "Pico" in described["/dev/ttyACM1"]["bridge"]
    assert "Arduino" in described["/dev/ttyACM0"]["bridge"]
    assert described["/dev/ttyS0"]["vid"] is None and described["/dev/ttyS0"]["vid_pid"] == ""
    order = [p["likely_bridge"] for p in ports.describe_ports()]
    assert order == sorted(order, reverse=True), "likely bridges first"
    json.dumps(ports.describe_ports())  # plain data


def test_chair_ports_prints_a_table_with_a_hint(fake_ports, capsys) -> None:
    assert main(["ports"]) == 0
    out = capsys.readouterr().out
    assert "* /dev/ttyUSB0" in out and "1a86:7523" in out and "CH340" in out
    assert "  /dev/ttyS0" in out and "* /dev/ttyS0" not in out
    assert "chair conformance /dev/ttyACM0" in out or "chair conformance /dev/ttyUSB0" in out
    assert main(["ports", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == len(FAKE_PORTS) and {"device", "likely_bridge", "vid", "pid",
                                               "hwid", "description"} <= set(listed[0])


def test_no_ports_says_sim_is_always_there(monkeypatch, capsys) -> None:
    from serial.tools import list_ports

    monkeypatch.setattr(list_ports, "comports", lambda *a, **k: [])
    assert main(["ports"]) == 0
    assert "sim://" in capsys.readouterr().out


def test_bridge_kind() -> None:
    assert ports.bridge_kind(0x2341, 0x8036) == "Arduino"
    assert ports.bridge_kind(0x1A86, 0x7523).startswith("CH340")
    assert ports.bridge_kind(0x1A86, 0x0001) is None
    assert ports.bridge_kind(None, None) is None


def test_sim_is_still_opened_through_pyserial() -> None:
    """ports.py grew; open_port and enable_sim are unchanged in what they do."""
    port = ports.open_port("sim://?clock=virtual")
    try:
        assert port.is_open
    finally:
        port.close()
    assert Path(ports.__file__).name == "ports.py"
