"""End to end: a real `chair serve` process (the real chair thread, the simulated chair) on a
free loopback port, driven over its websocket as docs/api.md says: the doc's own client,
two clients seeing the same state, a start refused while a session runs, the emergency stop
latching at once, SIGTERM parking the chair and ending the trace, and the token."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chair.errors import Exit
from chair.service.api import ErrorCode
from tests.service.test_rpc_doc import check_snapshot_documented, run_client
from tests.service.webclient import Rpc

pytest.importorskip("chair.service.host", reason="the chair thread is not built yet")

ROOT = Path(__file__).resolve().parents[2]
START = {"program": "lumbar", "intensity": 2, "minutes": 5, "acknowledged": True}


class Server:
    """`chair serve ARGV` as a process on a free loopback port: `url` is what it printed."""

    def __init__(self, data: Path, *argv: str) -> None:
        self.data = data
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chair.cli", "serve", "--http", "127.0.0.1:0",
             "--data", str(data), "--seed", "1", *argv],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out = self._read_until(rb"Ctrl-C", 60)
        self.url = re.search(r"^open (http://\S+)$", self.out, re.M).group(1)
        base = self.url.split("?")[0]
        self.ws = base.replace("http://", "ws://") + "websocket" + (
            "?" + self.url.split("?")[1] if "?" in self.url else "")

    def _read_until(self, pattern: bytes, timeout: float) -> str:
        assert self.process.stdout is not None
        seen, deadline = b"", time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        while not re.search(pattern, seen):
            left = deadline - time.monotonic()
            assert left > 0 and self.process.poll() is None, (
                seen.decode() + (self.process.stderr.read().decode()
                                 if self.process.poll() is not None else ""))
            ready, _, _ = select.select([fd], [], [], min(left, 0.2))
            if ready:
                seen += os.read(fd, 4096)
        return seen.decode()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> tuple[int, str, str]:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return self.process.returncode, out.decode(), err.decode()


@contextlib.contextmanager
def serving(data: Path, *argv: str) -> Iterator[Server]:
    server = Server(data, *argv)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("serve"), "--speed", "20") as served:
        yield served


def run(coroutine) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 120))


@contextlib.asynccontextmanager
async def connected(url: str):
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        rpc = Rpc(ws)
        try:
            yield rpc
        finally:
            rpc.reader.cancel()


async def settle_idle(rpc: Rpc) -> None:
    """Back to idle with nothing latched, whatever the last test left."""
    status = (await rpc.call("status.get"))["result"]
    if status["state"] in ("estop", "fault"):
        await rpc.call("chair.reset")
    elif status["can"]["stop"]:
        await rpc.call("session.stop")
    await rpc.call("status.subscribe")
    await rpc.until(lambda: rpc.updates and rpc.updates[-1]["state"] == "idle", 60)


def test_the_documented_client_against_chair_serve(server: Server, tmp_path) -> None:
    """A websocket client that knows only docs/api.md starts a session, follows it by
    subscription and stops it."""
    done = run_client(server.ws, tmp_path, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"running\s+step 2 of \d+", done.stdout), done.stdout
    assert "stopped: stopped" in done.stdout, done.stdout


def test_two_clients_see_the_same_state_and_a_second_start_is_busy(server: Server) -> None:
    async def go() -> None:
        async with connected(server.ws) as one, connected(server.ws) as two:
            await settle_idle(one)
            await two.call("status.subscribe")
            started = await one.call("session.start", START)
            assert "result" in started, started
            session_id = started["result"]["session"]["id"]
            for rpc in (one, two):
                await rpc.until(lambda rpc=rpc: any(
                    u["state"] == "running" and u["session"]["id"] == session_id
                    for u in rpc.updates), 60)
            busy = await two.call("session.start", START)
            assert busy["error"]["code"] == ErrorCode.BUSY, busy
            assert busy["error"]["message"]
            one_states = [u["state"] for u in one.updates if u["session"]
                          and u["session"]["id"] == session_id]
            two_states = [u["state"] for u in two.updates if u["session"]
                          and u["session"]["id"] == session_id]
            assert "running" in one_states and "running" in two_states
            stopped = await two.call("session.stop")
            assert "result" in stopped, stopped
            for rpc in (one, two):
                last = await rpc.until(lambda rpc=rpc: [
                    u for u in rpc.updates if u["state"] == "idle" and u["session"]
                    and u["session"]["id"] == session_id and not u["session"]["active"]],
                    60)
                assert last[-1]["session"]["outcome"] == "stopped"
            listed = (await one.call("sessions.list"))["result"]
            assert session_id in [s["id"] for s in listed]
    run(go())
    with urllib.request.urlopen(server.url.split("?")[0] + "sessions/"
                                + _last_session(server) + ".jsonl", timeout=10) as trace:
        lines = trace.read().decode().splitlines()
    assert lines[-1].startswith('{"type":"end"'), lines[-1]
    pytest.importorskip("matplotlib")
    with urllib.request.urlopen(server.url.split("?")[0] + "sessions/"
                                + _last_session(server) + ".png", timeout=60) as plot:
        assert plot.headers["Content-Type"] == "image/png"
        assert plot.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(server.url.split("?")[0] + "sessions/nothing-here.jsonl",
                               timeout=10)
    assert missing.value.code == 404 and b"nothing-here" in missing.value.read()


def _last_session(server: Server) -> str:
    with urllib.request.urlopen(server.url.split("?")[0] + "api/status", timeout=10) as r:
        return json.load(r)["session"]["id"]


def test_the_emergency_stop_latches_at_once(server: Server) -> None:
    async def go() -> None:
        async with connected(server.ws) as rpc:
            await settle_idle(rpc)
            assert "result" in await rpc.call("session.start", START)
            await rpc.until(lambda: rpc.updates[-1]["state"] == "running", 60)
            loop = asyncio.get_running_loop()
            began = loop.time()
            estop = await rpc.call("chair.estop")
            replied = loop.time() - began
            assert "result" in estop, estop
            latched = await rpc.until(lambda: [
                u for u in rpc.updates if u["state"] == "estop"
                and any(f["code"] == "F01" for f in u["faults"])], 10)
            seen = loop.time() - began
            assert replied < 1.0 and seen < 1.0, (replied, seen)
            status = latched[-1]
            assert status["can"]["reset"] and not status["can"]["start"]
            running = next(u for u in rpc.updates if u["state"] == "running")
            check_snapshot_documented({**running, "faults": status["faults"]})
            refused = await rpc.call("session.start", START)
            assert refused["error"]["code"] == ErrorCode.LATCHED, refused
            assert "result" in await rpc.call("chair.reset")
            await rpc.until(lambda: rpc.updates[-1]["state"] == "idle"
                            and not rpc.updates[-1]["faults"], 30)
    run(go())


def test_sigterm_mid_session_parks_the_chair_ends_the_trace_and_exits_130(tmp_path) -> None:
    server = Server(tmp_path)
    try:
        async def go() -> str:
            async with connected(server.ws) as rpc:
                await rpc.call("status.subscribe")
                started = await rpc.call("session.start", START)
                assert "result" in started, started
                await rpc.until(lambda: rpc.updates[-1]["state"] == "running", 60)
                return started["result"]["session"]["id"]
        session_id = run(go())
    finally:
        code, out, err = server.stop(signal.SIGTERM)
    assert code == Exit.STOPPED, out + err
    assert "Traceback" not in err, err
    trace = (tmp_path / f"{session_id}.jsonl").read_text(encoding="utf-8").splitlines()
    end = json.loads(trace[-1])
    assert end["type"] == "end", trace[-1]
    states = [json.loads(line).get("state") for line in trace
              if '"type":"sample"' in line]
    assert "parking" in states, "the chair parked before the process ended"


def test_a_token_given_on_loopback_is_required_everywhere(tmp_path) -> None:
    with serving(tmp_path, "--token", "correct-horse-battery") as server:
        assert server.url.endswith("/?token=correct-horse-battery")
        base = server.url.split("?")[0]
        for path in ("", "api/status", "websocket", "sessions/x.jsonl"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path, timeout=10)
            assert refused.value.code == 401, path

        async def go() -> None:
            async with aiohttp.ClientSession() as http:
                with pytest.raises(aiohttp.WSServerHandshakeError) as handshake:
                    await http.ws_connect(base.replace("http", "ws") + "websocket")
                assert handshake.value.status == 401
            async with connected(server.ws) as rpc:
                assert (await rpc.call("status.get"))["result"]["state"] == "idle"
        run(go())


@pytest.mark.parametrize(("argv", "code", "words"), [
    (["--port", "/dev/no-such-chair"], Exit.LINK, ["/dev/no-such-chair", "chair ports"]),
    (["--port", "/dev/no-such-chair", "--speed", "5"], Exit.USAGE, ["--speed"]),
])
def test_a_chair_that_cannot_be_served_is_a_clear_error(tmp_path, argv, code, words) -> None:
    done = subprocess.run([sys.executable, "-m", "chair.cli", "serve", "--http",
                           "127.0.0.1:0", "--data", str(tmp_path), *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr and "open http" not in done.stdout
    for word in words:
        assert word in done.stderr, done.stderr
