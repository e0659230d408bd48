"""Exit codes: one table (chair.errors.Exit), and each input that ended on the wrong code or
a traceback (issue 9, item 9) ends on its own code with one clear line on stderr.

2 usage (a wrong URL, option or argument: nothing opened), 3 a safety fault, 4 the link
(a port missing, dead at open or first I/O, or a device that falls silent).
"""

from __future__ import annotations

import subprocess
import sys
import termios
from pathlib import Path

import pytest

from chair import runner
from chair.cli import main
from chair.errors import EXIT_MEANINGS, Exit
from chair.trace import read_trace

ROOT = Path(__file__).resolve().parents[1]


def cli(*argv: str) -> int:
    try:
        return main(list(argv))
    except SystemExit as exc:
        return int(exc.code)


def one_clear_line(err: str, *words: str) -> str:
    """stderr holds one `chair: ...` line naming `words`, and no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("chair: "), err
    for word in words:
        assert word in lines[0], (word, err)
    return lines[0]


def test_the_table_has_one_meaning_per_code() -> None:
    assert set(EXIT_MEANINGS) == set(Exit)
    assert (Exit.OK, Exit.USAGE, Exit.FAULT, Exit.LINK, Exit.STOPPED) == (0, 2, 3, 4, 130)
    assert all(code in Exit for code in runner.EXIT.values())


# --------------------------------------------------------------------------- link: 4


@pytest.mark.parametrize(("spec", "why"), [
    ("mute@0.05", "no status report"),
    # 1.4 s per round trip: the handshake's queries use up its 3 s before SYNC is answered
    ("latency_ms=700", "no answer to SYNC")])
def test_a_device_silent_after_connect_is_a_link_error(tmp_path: Path, capsys,
                                                       spec: str, why: str) -> None:
    """Before: exit 3 ("no status report from the chair yet"), as if the chair refused."""
    trace = tmp_path / "t.jsonl"
    assert cli("run", "lumbar", "--fast", "--link-fault", spec, "--trace", str(trace)) == 4
    one_clear_line(capsys.readouterr().err, "link lost", why)
    records = read_trace(str(trace))
    assert any(r.get("event") == "fault" and r["source"] == "link" for r in records)
    assert records[-1]["type"] == "end" and records[-1]["reason"].startswith("link lost")


def test_a_port_dead_before_connect_is_a_link_error_not_a_traceback(tmp_path: Path,
                                                                   capsys) -> None:
    """Before: `serial.SerialException` escaped `Link.connect` (a traceback, exit 1)."""
    trace = tmp_path / "t.jsonl"
    assert cli("run", "lumbar", "--fast", "--link-fault", "vanish@0",
               "--trace", str(trace)) == 4
    one_clear_line(capsys.readouterr().err, "link lost", "vanish")
    assert read_trace(str(trace))[-1]["state"] == "disconnected"


def test_termios_error_at_first_io_is_a_link_error(monkeypatch, capsys) -> None:
    """A real tty that is gone raises `termios.error` (not an OSError) from tcflush."""
    real = runner.open_port

    def dead_tty(url: str, **kwargs):
        port = real(url, **kwargs)

        def tcflush_fails() -> None:
            raise termios.error(5, "Input/output error")
        port.reset_input_buffer = tcflush_fails
        return port

    monkeypatch.setattr(runner, "open_port", dead_tty)
    assert cli("run", "lumbar", "--fast") == 4
    one_clear_line(capsys.readouterr().err, "link lost", "Input/output error")


def test_termios_error_at_open_is_a_link_error(monkeypatch, capsys) -> None:
    import serial

    def tcsetattr_fails(*args, **kwargs):
        raise termios.error(22, "Invalid argument")

    monkeypatch.setattr(serial, "serial_for_url", tcsetattr_fails)
    assert cli("run", "lumbar", "--yes", "--port", "/dev/ttyUSB9") == 4
    one_clear_line(capsys.readouterr().err, "cannot open port /dev/ttyUSB9",
                   "Invalid argument")


def test_no_traceback_from_a_vanished_port_as_a_process() -> None:
    done = subprocess.run([sys.executable, "-m", "chair.cli", "run", "lumbar", "--fast",
                           "--link-fault", "vanish@0"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 4, done.stderr
    one_clear_line(done.stderr, "link lost")


# --------------------------------------------------------------------------- usage: 2


@pytest.mark.parametrize(("argv", "words"), [
    (["run", "lumbar", "--yes", "--port", "bogus://x"], ["bogus://x", "'bogus' not known"]),
    (["conformance", "bogus://x"], ["bogus://x", "'bogus' not known"]),
    (["run", "lumbar", "--fast", "--port", "sim://?height=300"], ["height='300'", "210"]),
    (["run", "lumbar", "--yes", "--port", "faulty://?drop=0.1"], ["port=URL"]),
    (["run", "lumbar", "--port", "sim://?clock=virtual"], ["clock=virtual", "--fast"]),
    (["run", "lumbar", "--yes", "--port", "faulty://?port=sim%3A%2F%2F%3Fclock%3Dvirtual"],
     ["clock=virtual", "--fast"]),
    (["sim", "--height", "300"], ["height='300.0'", "150 to 210"]),
    (["sim", "--chair", "tiny"], ["chair='tiny'", "compact, reference"]),
    (["run", "lumbar", "--fast", "--port", "sim://?chair=tiny"], ["chair='tiny'", "compact"]),
], ids=["unknown-scheme", "conformance-unknown-scheme", "sim-option-out-of-range",
        "faulty-without-port", "virtual-clock-in-real-time", "virtual-clock-inside-faulty",
        "sim-height", "sim-chair", "sim-url-chair"])
def test_a_wrong_url_or_argument_is_a_usage_error(argv: list[str], words: list[str],
                                                  capsys, ports: list) -> None:
    """Before: exit 4 (as if a port had failed), and exit 3 for the virtual clock."""
    assert cli(*argv) == 2
    one_clear_line(capsys.readouterr().err, *words)
    assert not ports, "nothing was opened"


def test_chair_faults_lists_each_fault_once(capsys) -> None:
    """Before: every name was printed twice (a bare list, then the table)."""
    from chair.faults import FAULTS

    assert main(["faults"]) == 0
    out = capsys.readouterr().out
    for name in FAULTS:
        assert sum(line.split()[:1] == [name] for line in out.splitlines()) == 1, name


@pytest.mark.parametrize("command", [["conformance"], ["reset", "--port"]])
def test_every_command_that_opens_a_port_gives_4_for_a_dead_one(capsys, command) -> None:
    url = "faulty://?vanish_at=0&port=sim%3A%2F%2F%3Fclock%3Dvirtual"
    assert cli(*command, url) == 4
    err = capsys.readouterr().err
    assert "Traceback" not in err and "vanish" in err, err


@pytest.mark.parametrize("url", ["socket://", "socket://localhost", "socket://127.0.0.1:99999",
                                 "rfc2217://"])
def test_a_malformed_network_url_is_a_usage_error(capsys, url: str) -> None:
    """Before: exit 4 with pyserial's internals ("'<=' not supported between instances of
    'int' and 'NoneType'", "'debug|info|warning|error'")."""
    assert cli("run", "feet", "--yes", "--port", url) == 2
    one_clear_line(capsys.readouterr().err, "HOST:PORT")


def test_a_missing_device_says_so_not_that_it_is_busy(capsys) -> None:
    assert cli("run", "feet", "--yes", "--port", "/dev/nonexistent-chair") == 4
    err = capsys.readouterr().err
    one_clear_line(err, "No such port")
    assert "busy" not in err
