"""Bad input everywhere: each gets a clear error naming what and where, its exit code, and
nothing moves (reliability issue, part 6).

Exit codes: 2 a bad program or bad arguments (also a trace that cannot be written, a port
URL that is wrong in itself), 4 a port that is missing, busy, not a chair or not answering.
Errors found before the port opens must not open it; errors found after it opened must
leave the chair as it was.
"""

from __future__ import annotations

import errno
import os
import pty
from pathlib import Path

import pytest
import serial

from chair import runner, trace
from chair.cli import main
from chair.clock import VirtualClock
from chair.program import shipped_dir

PROGRAMS = shipped_dir()
LUMBAR = (PROGRAMS / "lumbar.toml").read_text(encoding="utf-8")


def cli(*argv: str) -> int:
    """`chair ARGV`'s exit code, argparse's own exits included."""
    try:
        return main(list(argv))
    except SystemExit as exc:
        return int(exc.code)


def untouched(port) -> None:
    """The simulated chair behind `port` never actuated: nothing moved, nothing is set."""
    device, plant = port.device, port.device.plant
    assert not device.active and not device.setpoints()
    assert plant.carriage_mm == 0.0 and plant.back_pct == 0.0 and plant.leg_pct == 0.0
    assert plant.bag_kpa.max() == 0.0 and plant.surface_c.max() <= plant.ambient_c


# --------------------------------------------------------------------------- program files


def edit(old: str, new: str, count: int = 1) -> str:
    assert old in LUMBAR, old
    return LUMBAR.replace(old, new, count)


BAD_PROGRAMS = {
    # name: (file text or bytes, what the message must name besides the file)
    "wrong-type": (edit("seconds = 40", 'seconds = "forty"'), ["step 1", "'seconds'", "forty"]),
    "bool-for-number": (edit("seconds = 40", "seconds = true"), ["step 1", "'seconds'"]),
    "nan": (edit("seconds = 40", "seconds = nan"), ["step 1", "'seconds'", "nan"]),
    "missing-field": (edit("seconds = 40\n", ""), ["step 1", "'seconds'", "missing"]),
    "missing-table": ("", ["'program'", "missing"]),
    "unknown-key": (edit("[[step]]\n", "[[step]]\nfoo = 1\n"), ["step 1", "'foo'", "unknown"]),
    "unknown-table": (edit("[program]", "[programme]"), ["'programme'", "unknown"]),
    "out-of-range": (edit("depth = 1, speed = 2", "depth = 1, speed = 9"),
                     ["step 1", "'roller.speed'", "1..6"]),
    "above-a-cap": (edit("depth = 1, speed = 2", "depth = 5, speed = 2"),
                    ["step 1", "'roller.depth'"]),
    "negative": (edit("seconds = 40", "seconds = -40"), ["step 1", "'seconds'"]),
    "unknown-zone": (edit('zone = "lumbar"', 'zone = "neck"'), ["step 1", "'zone'", "neck"]),
    "toml-syntax": (edit("seconds = 40", "seconds = = 40"), ["TOML syntax", ":19"]),
    "not-utf8": (b"\xff\xfe\x00garbage", ["UTF-8"]),
    "huge": (LUMBAR + "#" + "x" * 300_000 + "\n", ["KiB"]),
    "too-many-steps": (LUMBAR + "".join('\n[[step]]\nzone = "lumbar"\nname = "x"\nseconds = 5\n'
                                        for _ in range(120)), ["at most 100", "'step'"]),
}


@pytest.mark.parametrize("case", list(BAD_PROGRAMS))
def test_bad_program_exits_2_names_file_and_field_and_opens_nothing(
        tmp_path: Path, capsys, ports: list, case: str) -> None:
    text, parts = BAD_PROGRAMS[case]
    path = tmp_path / f"{case}.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    assert cli("run", str(path), "--fast", "--trace", str(tmp_path / "t.jsonl")) == 2
    err = capsys.readouterr().err
    assert f"{case}.toml" in err, err
    for part in parts:
        assert part in err, (part, err)
    assert not ports, "the port must not open for a bad program"
    assert cli("validate", str(path)) == 2


@pytest.mark.parametrize("name", ["no-such-program", str(PROGRAMS / "nope.toml"), "/tmp"])
def test_missing_program_exits_2(capsys, ports: list, name: str) -> None:
    assert cli("run", name, "--fast") == 2
    assert Path(name).name in capsys.readouterr().err
    assert not ports


# --------------------------------------------------------------------------- arguments

BAD_ARGS = [
    # argparse refuses these itself
    (["run"], "program"),
    (["run", "lumbar", "--intensity", "x"], "--intensity"),
    (["run", "lumbar", "--minutes", "ten"], "--minutes"),
    (["run", "lumbar", "--seed", "1.5"], "--seed"),
    (["run", "lumbar", "--bogus"], "--bogus"),
    (["frobnicate"], "frobnicate"),
    # the run refuses these before opening anything
    (["run", "lumbar", "--fast", "--intensity", "0"], "--intensity 0"),
    (["run", "lumbar", "--fast", "--intensity", "6"], "--intensity 6"),
    (["run", "lumbar", "--fast", "--minutes", "0"], "--minutes 0"),
    (["run", "lumbar", "--fast", "--minutes", "31"], "--minutes 31"),
    (["run", "lumbar", "--fast", "--minutes", "nan"], "--minutes nan"),
    (["run", "lumbar", "--fast", "--caution", "bad-knees"], "bad-knees"),
    (["run", "lumbar", "--fast", "--fault", "gremlins@3"], "'gremlins'"),
    (["run", "lumbar", "--fast", "--fault", "pinch"], "NAME@SECONDS"),
    (["run", "lumbar", "--fast", "--fault", "pinch@-1"], "'-1'"),
    (["run", "lumbar", "--fast", "--fault", "pinch@soon"], "'soon'"),
    (["run", "lumbar", "--fast", "--link-fault", "drop=2"], "drop='2'"),
    (["run", "lumbar", "--fast", "--link-fault", "drip=0.1"], "'drip'"),
    (["run", "lumbar", "--fast", "--link-fault", "vanish@later"], "vanish_at='later'"),
    (["run", "lumbar", "--fast", "--link-fault", "drop"], "NAME=VALUE"),
    (["run", "lumbar", "--fast", "--link-fault", "vanish_at=3"], "vanish@3"),
    (["run", "lumbar", "--fast", "--port", "/dev/ttyUSB9"], "--fast"),
    (["run", "lumbar", "--port", "/dev/ttyUSB9", "--fault", "pinch@3"], "--fault"),
    (["sim", "--fault", "gremlins@3"], "'gremlins'"),
    (["sim", "--tcp", "127.0.0.1:0", "--fault", "pinch"], "NAME@SECONDS"),
]


@pytest.mark.parametrize(("argv", "part"), BAD_ARGS, ids=lambda v: " ".join(v)
                         if isinstance(v, list) else None)
def test_bad_arguments_exit_2_name_the_argument_and_open_nothing(capsys, ports: list,
                                                                 argv: list[str],
                                                                 part: str) -> None:
    assert cli(*argv) == 2
    err = capsys.readouterr().err
    assert part in err, err
    assert not ports


# --------------------------------------------------------------------------- the trace


@pytest.mark.parametrize("where", ["missing-dir", "a-directory"])
def test_unwritable_trace_exits_2_before_the_port_opens(tmp_path: Path, capsys, ports: list,
                                                        where: str) -> None:
    path = tmp_path / "no" / "t.jsonl" if where == "missing-dir" else tmp_path
    assert cli("run", "lumbar", "--fast", "--trace", str(path)) == 2
    assert str(path) in capsys.readouterr().err
    assert not ports


def test_a_trace_that_fails_mid_run_stops_the_chair(tmp_path: Path, capsys, ports: list,
                                                    monkeypatch) -> None:
    """The disk fills up 60 s into the session: exit 2, the chair stopped, no traceback."""
    real = trace.Trace._write

    def write(self, record: dict) -> None:
        if record.get("t", 0.0) >= 60.0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self, record)

    monkeypatch.setattr(trace.Trace, "_write", write)
    path = tmp_path / "t.jsonl"
    assert cli("run", "lumbar", "--fast", "--trace", str(path)) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "No space left" in err and "stopped" in err
    device = ports[-1].device
    assert not device.setpoints() and device.state == "Idle"  # STOPped, not left running
    device.advance_to(device.clock.now() + 2.0)
    assert device.plant.bag_kpa.max() < 1.0


def test_trace_on_a_full_device_exits_2(capsys) -> None:
    """A device is refused as a trace before anything opens (tests/test_trace_path.py); a
    disk that fills mid-run is the test above."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    assert cli("run", "lumbar", "--fast", "--trace", "/dev/full") == 2
    err = capsys.readouterr().err
    assert "/dev/full" in err and "device" in err


# --------------------------------------------------------------------------- ports


def test_missing_port_exits_4_and_names_it(capsys) -> None:
    assert cli("run", "lumbar", "--yes", "--port", "/dev/does-not-exist") == 4
    assert "/dev/does-not-exist" in capsys.readouterr().err


def test_busy_port_exits_4_and_says_so(capsys) -> None:
    controller_end, chair_end = pty.openpty()
    name = os.ttyname(chair_end)
    holder = serial.Serial(name, exclusive=True)  # another program has the port
    try:
        assert cli("run", "lumbar", "--yes", "--port", name) == 4
    finally:
        holder.close()
        os.close(controller_end)
        os.close(chair_end)
    err = capsys.readouterr().err
    assert name in err and "busy" in err and "lock" in err


@pytest.mark.parametrize(("url", "part"), [
    ("sim://?height=300", "height='300'"),
    ("sim://?colour=red", "'colour'"),
    ("sim://?fault=gremlins@3", "'gremlins'"),
    ("faulty://?drop=5&port=sim%3A%2F%2F", "drop='5'"),
    ("faulty://?drop=0.1", "port=URL"),
    ("nosuchscheme://x", "nosuchscheme"),
])
def test_bad_port_urls_exit_2_and_name_the_option(capsys, url: str, part: str) -> None:
    """A URL that is wrong in itself is a usage error (2), not a failed port (4)."""
    fast = ["--fast"] if "sim" in url else []  # --fast on a real port is an argument error
    assert cli("run", "lumbar", "--yes", *fast, "--port", url) == 2
    err = capsys.readouterr().err
    assert part in err, err


def test_not_a_chair_exits_4(capsys, monkeypatch) -> None:
    monkeypatch.setattr(runner, "MonotonicClock", VirtualClock)  # the 3 s wait, at once
    assert cli("run", "lumbar", "--yes", "--port", "loop://") == 4  # hears its own INFO back
    assert "no answer to INFO" in capsys.readouterr().err


def test_a_corrupt_limits_table_exits_4_and_nothing_moves(capsys, ports: list) -> None:
    assert cli("run", "lumbar", "--fast", "--port", "sim://?defect=corrupt-limits") == 4
    assert "limits table" in capsys.readouterr().err
    untouched(ports[-1])


def test_an_empty_chair_exits_3_and_nothing_moves(tmp_path: Path, capsys, ports: list) -> None:
    path = tmp_path / "t.jsonl"
    assert cli("run", "lumbar", "--fast", "--port", "sim://?seated=0", "--trace",
               str(path)) == 3
    assert "nobody is seated" in capsys.readouterr().out
    assert '"event":"step"' not in path.read_text(encoding="utf-8")
    untouched(ports[-1])
