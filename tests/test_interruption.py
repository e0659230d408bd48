"""Ctrl-C and a killed controller: the chair ends safe and the trace stays valid."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from chair.program import load_program
from chair.runner import RunOptions, run
from chair.trace import read_trace


class CtrlC:
    """A trace listener that raises KeyboardInterrupt at the given simulated times."""

    def __init__(self, *times: float) -> None:
        self.times = list(times)

    def __call__(self, record: dict) -> None:
        if self.times and record["type"] == "sample" and record["t"] >= self.times[0]:
            self.times.pop(0)
            raise KeyboardInterrupt


def test_ctrl_c_parks_the_chair_and_exits_130(tmp_path: Path, ports: list) -> None:
    trace = tmp_path / "t.jsonl"
    outcome = run(load_program("lumbar"), RunOptions(fast=True, trace=str(trace),
                                                     listeners=[CtrlC(60.0)]))
    assert outcome.exit_code == 130
    records = read_trace(str(trace))
    assert records[0]["type"] == "header" and records[-1]["type"] == "end"
    assert records[-1]["reason"] == "stopped by the user"
    assert records[-1]["state"] == "idle"
    assert any(r.get("event") == "user" and r["action"] == "stop" for r in records)
    assert any(r.get("dest") == "parking" for r in records if r.get("event") == "state")
    last = [r for r in records if r["type"] == "sample"][-1]
    assert last["t"] < 60.0 + 30, "parking must not run the program on"
    assert last["roller"]["pos_mm"] < 10 and max(last["airbags"].values()) < 1.0
    device = ports[0].device
    assert device.state == "Idle"


def test_second_ctrl_c_stops_at_once_with_an_estop(tmp_path: Path, ports: list) -> None:
    trace = tmp_path / "t.jsonl"
    outcome = run(load_program("lumbar"), RunOptions(fast=True, trace=str(trace),
                                                     listeners=[CtrlC(60.0, 60.5)]))
    assert outcome.exit_code == 130
    records = read_trace(str(trace))
    assert records[-1]["type"] == "end"
    assert [r["action"] for r in records if r.get("event") == "user"] == ["stop", "stop-now"]
    device = ports[0].device
    device.advance_to(ports[0].clock.now() + 0.02)
    assert device.state == "Estop"
    assert not device.active


def test_second_ctrl_c_reads_the_chair_until_it_is_confirmed_at_rest(tmp_path: Path,
                                                                     ports: list) -> None:
    """Before: the run ended right after the stop byte, never saying whether the chair was
    safe. Now it reads the chair until the supervisor confirms it at rest (bags vented)."""
    trace = tmp_path / "t.jsonl"
    outcome = run(load_program("lumbar"), RunOptions(fast=True, trace=str(trace),
                                                     listeners=[CtrlC(60.0, 60.5)]))
    assert outcome.exit_code == 130 and outcome.state == "estop"
    records = read_trace(str(trace))
    stop_now = next(r["t"] for r in records if r.get("action") == "stop-now")
    safe = [r for r in records if r.get("event") == "safe"]
    assert len(safe) == 1 and safe[0]["confirmed"] and safe[0]["t"] >= stop_now
    last = [r for r in records if r["type"] == "sample"][-1]
    assert last["device_state"] == "Estop" and max(last["airbags"].values()) < 1.0
    assert ports[0].device.plant.bag_kpa.max() < 1.0  # the plant's truth, not only the reading


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _status_over_tcp(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(b"?")
        data = b""
        deadline = time.monotonic() + 2
        while b">*" not in data and time.monotonic() < deadline:
            data += conn.recv(4096)
    line = data[data.index(b"<"):].split(b"\n")[0]
    return line.decode()


@contextlib.contextmanager
def _served_run(tmp_path: Path, program: str) -> Iterator[tuple[subprocess.Popen, Path, int]]:
    """A `chair sim --tcp` and a real-time `chair run PROGRAM` on it, once its first step
    has begun: (the run's process, its trace, the TCP port)."""
    tcp = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, "-m", "chair.cli", "sim", "--tcp",
                               f"127.0.0.1:{tcp}"], stdout=subprocess.PIPE, env=env)
    try:
        assert b"serving" in server.stdout.readline()
        trace = tmp_path / "t.jsonl"
        client = subprocess.Popen([sys.executable, "-m", "chair.cli", "run", program,
                                   "--yes", "--port", f"socket://127.0.0.1:{tcp}", "--trace",
                                   str(trace)], stdout=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # wait until the program is running
            text = trace.read_text() if trace.exists() else ""
            if '"event":"step"' in text:
                break
            time.sleep(0.1)
        yield client, trace, tcp
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=5)


def test_killed_controller_leaves_a_valid_trace_and_a_safe_chair(tmp_path: Path) -> None:
    with _served_run(tmp_path, "lumbar") as (client, trace, tcp):
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=5)
        lines = trace.read_text().splitlines()
        records = [json.loads(line) for line in lines]  # every line whole and valid
        assert records[0]["type"] == "header"
        assert any(r.get("event") == "step" for r in records)
        time.sleep(0.8)  # the device's dead-man: 500 ms and a tick
        status = _status_over_tcp(tcp)
        assert status.startswith("<Fault"), status
        assert "F02" in status
        fields = dict(f.split("=") for f in status.split(">")[0].split()[1:])
        assert fields["tech"] == "off" and fields["foot"] == "0"


def test_sigterm_parks_the_chair_and_ends_the_trace(tmp_path: Path) -> None:
    """Before: `kill` ended the run at once (exit 143): no STOP, a trace with no end record,
    and the device latched F02 by its dead-man. Now SIGTERM is a Ctrl-C."""
    with _served_run(tmp_path, "feet") as (client, trace, tcp):
        client.send_signal(signal.SIGTERM)
        assert client.wait(timeout=40) == 130
        records = [json.loads(line) for line in trace.read_text().splitlines()]
        assert records[-1]["type"] == "end" and records[-1]["state"] == "idle"
        assert any(r.get("dest") == "parking" for r in records if r.get("event") == "state")
        status = _status_over_tcp(tcp)
        assert status.startswith("<Idle"), status  # parked, nothing latched


class SignalOnWrite:
    """A port that delivers a real SIGINT to this process in the middle of its `n`th write,
    as a Ctrl-C does whenever it likes: before, the KeyboardInterrupt came out of the write
    itself, with the link's books and the wire apart."""

    def __init__(self, inner, n: int) -> None:
        self.inner, self.n, self.writes, self.torn = inner, n, 0, False

    def write(self, data: bytes) -> int:
        self.writes += 1
        if self.writes == self.n:
            half = len(data) // 2
            self.inner.write(data[:half])
            signal.raise_signal(signal.SIGINT)  # the handler runs here
            self.torn = True  # reached only when the handler did not raise
            return self.inner.write(data[half:]) + half
        return self.inner.write(data)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_a_ctrl_c_in_the_middle_of_a_write_parks_the_chair(tmp_path: Path,
                                                            monkeypatch) -> None:
    from chair import runner

    real, wrapped = runner.open_port, []

    def opened(url: str, **kwargs):
        wrapped.append(SignalOnWrite(real(url, **kwargs), n=12))  # a setpoint, after the handshake
        return wrapped[-1]

    monkeypatch.setattr(runner, "open_port", opened)
    trace = tmp_path / "t.jsonl"
    outcome = run(load_program("lumbar"), RunOptions(fast=True, trace=str(trace)))
    assert wrapped[0].torn, "the KeyboardInterrupt came out of the write and tore it"
    assert outcome.exit_code == 130 and outcome.state == "idle", outcome
    records = read_trace(str(trace))
    assert records[-1]["reason"] == "stopped by the user"
    assert not any("link lost" in str(r.get("detail", "")) for r in records)
