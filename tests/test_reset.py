"""`chair reset` (issue 9, item 14): a latched chair can be cleared, deliberately, only when
every fault condition has gone, and a reset never starts motion.

Before: `chair` had no reset; after a killed controller or an emergency stop every
`chair run` refused with exit 3 until the simulator was restarted.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chair import protocol as p
from chair import reset as reset_module
from chair.cli import main
from chair.link import Link
from chair.ports import open_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def sent(monkeypatch) -> list[p.Command]:
    """Every command `chair reset` sends."""
    commands: list[p.Command] = []
    real = Link.send

    def keep(self, command: p.Command) -> None:
        commands.append(command)
        real(self, command)

    monkeypatch.setattr(Link, "send", keep)
    return commands


def use_port(monkeypatch, port) -> None:
    monkeypatch.setattr(reset_module, "open_port", lambda url, **kwargs: port)


def only_control(commands: list[p.Command]) -> None:
    """Nothing that could move: the handshake's SYNC and REPORT, and RESET."""
    assert commands and all(isinstance(c, (p.Sync, p.SetReport, p.Reset)) for c in commands), \
        commands


def test_a_clear_chair_needs_no_reset(capsys, sent: list) -> None:
    assert main(["reset"]) == 0
    out = capsys.readouterr().out
    assert "Idle, nothing latched" in out and "not needed" in out
    assert not any(isinstance(c, p.Reset) for c in sent)


def test_an_emergency_stop_is_cleared_and_nothing_moves(monkeypatch, capsys,
                                                        sent: list) -> None:
    port = open_port("sim://?clock=virtual")
    port.write(b"!")  # the emergency stop byte, typed at a terminal
    port.clock.sleep_until(0.1)
    assert p.FaultCode.ESTOP in port.device.latched
    use_port(monkeypatch, port)
    assert main(["reset", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["before"] == {"state": "Estop", "faults": ["F01 estop"]}
    assert report["reset"] == "accepted" and report["exit"] == 0
    assert report["after"] == {"state": "Idle", "faults": []}
    device = port.device
    assert not device.latched and not device.active and not device.setpoints()
    only_control(sent)


@pytest.mark.parametrize("fault", ["thermistor-open", "thermistor-short"])
def test_a_fault_still_present_is_refused_and_said(monkeypatch, capsys, sent: list,
                                                   fault: str) -> None:
    port = open_port(f"sim://?clock=virtual&fault={fault}@0")
    use_port(monkeypatch, port)
    assert main(["reset"]) == 3
    out = capsys.readouterr().out
    assert "F08 thermistor" in out and "E11 reset-refused" in out
    assert "heater=lumbar still present" in out, "the device's detail says what is present"
    assert "refuse to start" in out
    assert p.FaultCode.THERMISTOR in port.device.latched
    only_control(sent)


def test_an_unreachable_chair_exits_4(capsys) -> None:
    assert main(["reset", "--port", "/dev/does-not-exist"]) == 4
    err = capsys.readouterr().err
    assert "/dev/does-not-exist" in err and "Traceback" not in err


def test_a_device_silent_after_connect_exits_4(monkeypatch, capsys) -> None:
    port = open_port("faulty://?port=sim%3A%2F%2F%3Fclock%3Dvirtual")
    real = Link.connect

    def connect_then_mute(self, *args, **kwargs):
        info = real(self, *args, **kwargs)
        port.faulty.mute_at = 0.0  # the device falls silent right after the handshake
        return info

    monkeypatch.setattr(Link, "connect", connect_then_mute)
    use_port(monkeypatch, port)
    assert main(["reset"]) == 4
    captured = capsys.readouterr()
    assert "chair: no status report" in captured.err, captured
    assert "Traceback" not in captured.err


def test_a_wrong_url_exits_2(capsys) -> None:
    assert main(["reset", "--port", "bogus://x"]) == 2


# ----------------------------------------------------------------- a served chair, as a user


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _chair(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "chair.cli", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, **kwargs)


@pytest.fixture
def served(request) -> Iterator[str]:
    """`chair sim --tcp` with the test's extra arguments; yields its socket:// URL."""
    tcp = _free_port()
    server = _chair("sim", "--tcp", f"127.0.0.1:{tcp}", *getattr(request, "param", ()))
    try:
        assert b"serving" in server.stdout.readline()
        yield f"socket://127.0.0.1:{tcp}"
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=5)


def _send_estop(url: str) -> None:
    host, port = url.removeprefix("socket://").split(":")
    with socket.create_connection((host, int(port)), timeout=2) as conn:
        conn.sendall(b"!")
        data = b""
        deadline = time.monotonic() + 2
        while b"!F01" not in data and time.monotonic() < deadline:
            data += conn.recv(4096)
        assert b"!F01" in data, data


def test_reset_after_an_emergency_stop_lets_a_run_start(served: str) -> None:
    _send_estop(served)
    time.sleep(0.2)  # the server notices the client left
    refused = _chair("run", "lumbar", "--yes", "--port", served)
    out, err = refused.communicate(timeout=30)
    assert refused.returncode == 3 and b"latched" in out + err, out + err

    done = subprocess.run([sys.executable, "-m", "chair.cli", "reset", "--port", served],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "latched: F01 estop" in done.stdout and "accepted" in done.stdout
    assert "Idle, nothing latched" in done.stdout

    run = _chair("run", "lumbar", "--yes", "--port", served)
    seen = b""
    deadline = time.monotonic() + 20
    try:
        while b"idle -> scanning" not in seen and time.monotonic() < deadline:
            seen += os.read(run.stdout.fileno(), 4096)
        assert b"idle -> scanning" in seen, seen
        run.send_signal(signal.SIGINT)  # park: the chair started, that is all we need
        rest, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 130, seen + rest + err


@pytest.mark.parametrize("served", [("--fault", "thermistor-open@0")], indirect=True)
def test_a_refused_reset_over_the_wire_exits_3_and_says_why(served: str) -> None:
    done = subprocess.run([sys.executable, "-m", "chair.cli", "reset", "--port", served],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "F08 thermistor heater=lumbar still present" in done.stdout
    assert "Traceback" not in done.stderr
