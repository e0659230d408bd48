"""End to end: stopping a real `chair serve` (SIGTERM, Ctrl-C) parks the chair while the web
side still serves, so the emergency stop works during the park; a second signal stops the
chair at once (the device's stop byte, the trace's `end`, exit 130), as in `chair run`."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from chair.errors import Exit
from tests.service.test_web_serve import START, Server, connected, run

pytest.importorskip("chair.service.host", reason="the chair thread is not built yet")


def _trace(data: Path, session_id: str) -> list[dict]:
    return [json.loads(line) for line in
            (data / f"{session_id}.jsonl").read_text(encoding="utf-8").splitlines()]


async def _running(rpc) -> str:
    await rpc.call("status.subscribe")
    started = await rpc.call("session.start", START)
    assert "result" in started, started
    await rpc.until(lambda: rpc.updates[-1]["state"] == "running", 60)
    return started["result"]["session"]["id"]


async def _parking(rpc) -> dict:
    """The first update that says the chair parks (it says why, too)."""
    return await rpc.until(lambda: next((u for u in rpc.updates
                                         if u["state"] == "parking"), None), 30)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_emergency_stop_works_while_a_stopping_server_parks(tmp_path, sig) -> None:
    server = Server(tmp_path, "--speed", "5")
    try:
        async def go() -> tuple[str, dict, dict, dict]:
            async with connected(server.ws) as rpc:
                session_id = await _running(rpc)
                server.process.send_signal(sig)
                parking = await _parking(rpc)
                refused = await rpc.call("session.start", START)
                stopped = await rpc.call("chair.estop")
                await rpc.until(lambda: rpc.updates[-1]["state"] == "estop", 30)
                return session_id, parking, refused, stopped
        session_id, parking, refused, stopped = run(go())
        code, out, err = _wait(server)
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.communicate()
    assert "result" in stopped, stopped
    assert "error" in refused and "stopping" in refused["error"]["message"], refused
    assert "stopping" in parking["reason"], parking
    assert code == Exit.STOPPED, out + err
    assert "Traceback" not in err, err
    trace = _trace(tmp_path, session_id)
    assert trace[-1]["type"] == "end" and trace[-1]["state"] == "estop", trace[-1]
    users = [r for r in trace if r.get("type") == "event" and r.get("event") == "user"]
    assert any(u.get("by") == "signal" for u in users), users


def _wait(server: Server, timeout: float = 60) -> tuple[int, str, str]:
    out, err = server.process.communicate(timeout=timeout)
    return server.process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_stops_the_chair_at_once(tmp_path, sig) -> None:
    server = Server(tmp_path, "--speed", "20")
    try:
        async def go() -> str:
            async with connected(server.ws) as rpc:
                session_id = await _running(rpc)
                server.process.send_signal(sig)
                await _parking(rpc)
                server.process.send_signal(sig)
                return session_id
        session_id = run(go())
        code, out, err = _wait(server)
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.communicate()
    assert code == Exit.STOPPED, out + err
    assert "Traceback" not in err, err
    trace = _trace(tmp_path, session_id)
    assert trace[-1]["type"] == "end", trace[-1]
    assert trace[-1]["state"] == "estop" or "F01" in json.dumps(trace), trace[-1]
    # the reason is the controller's estop ("stopped at once: chair serve was stopped again
    # (signal)") or the device's own report of it, whichever reached the controller first
    users = [r for r in trace if r.get("type") == "event" and r.get("event") == "user"]
    assert users and users[0]["by"] == "signal" and users[0]["action"] == "stop", users
