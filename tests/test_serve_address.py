"""`chair sim --tcp ADDRESS` (issue 9, item 15): a busy port, a port out of range or a host
that does not resolve is a clear error with exit 2, not a traceback; `[::1]:N` serves on
IPv6; an address reachable from other machines is served with a warning (the protocol has
no authentication)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import serial

from chair import protocol as p
from chair.cli import main
from chair.serve import parse_address, serve_tcp, socket_url

ROOT = Path(__file__).resolve().parents[1]


def sim(*argv: str) -> subprocess.CompletedProcess:
    """`chair sim ARGV` as a process that must end by itself (every case here fails)."""
    return subprocess.run([sys.executable, "-m", "chair.cli", "sim", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)


def clear_error(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chair: "), done.stderr
    for word in words:
        assert word in lines[0], done.stderr


def test_a_busy_port_is_a_clear_error() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        clear_error(sim("--tcp", f"127.0.0.1:{port}"), f"127.0.0.1:{port}", "in use")


@pytest.mark.parametrize(("address", "words"), [
    ("127.0.0.1:99999", ["99999", "0 to 65535"]),
    ("127.0.0.1:http", ["127.0.0.1:http", "HOST:PORT"]),
    ("5555", ["HOST:PORT"]),
    ("::1:5555", ["brackets", "[::1]:5555"]),
    ("no-such-host.invalid:5555", ["no-such-host.invalid", "cannot resolve"]),
])
def test_a_bad_address_is_a_clear_error(address: str, words: list[str], capsys) -> None:
    assert main(["sim", "--tcp", address]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    for word in words:
        assert word in err, err


def test_the_address_forms() -> None:
    assert parse_address("127.0.0.1:5555") == ("127.0.0.1", 5555)
    assert parse_address("[::1]:0") == ("::1", 0)
    assert parse_address(":7") == ("127.0.0.1", 7)
    assert socket_url("::1", 5) == "socket://[::1]:5"
    assert socket_url("127.0.0.1", 5) == "socket://127.0.0.1:5"


def _serve(host: str, **kwargs) -> tuple[threading.Thread, threading.Event, list]:
    stop, ready = threading.Event(), []
    got = threading.Event()

    def on_ready(h: str, port: int) -> None:
        ready.append((h, port))
        got.set()
    thread = threading.Thread(target=serve_tcp, args=("sim://?seed=1", host, 0),
                              kwargs={"stop": stop, "on_ready": on_ready, **kwargs},
                              daemon=True)
    thread.start()
    assert got.wait(5)
    return thread, stop, ready


def test_ipv6_loopback_is_served_and_reachable_by_its_url(capsys) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    try:
        socket.socket(socket.AF_INET6).close()
        thread, stop, ready = _serve("::1")
    except Exception as exc:  # a machine without ::1
        pytest.skip(f"no IPv6 loopback: {exc}")
    try:
        host, port = ready[0]
        url = socket_url(host, port)
        assert url == f"socket://[::1]:{port}"
        with serial.serial_for_url(url, timeout=1) as chair:
            chair.write(b"?")
            decoder = p.DeviceDecoder()
            seen = []
            for _ in range(20):
                seen += decoder.feed(chair.read(4096))
                if any(isinstance(m, p.StatusReport) for m in seen):
                    break
            assert any(isinstance(m, p.StatusReport) for m in seen)
        assert "warning" not in capsys.readouterr().err, "loopback needs no warning"
    finally:
        stop.set()
        thread.join(5)


def test_a_non_loopback_bind_warns_that_there_is_no_authentication(capsys) -> None:
    thread, stop, _ = _serve("0.0.0.0")
    stop.set()
    thread.join(5)
    err = capsys.readouterr().err
    assert "warning" in err and "no authentication" in err and "0.0.0.0" in err
