"""The HTTP side (chair/service/web.py) over FakeHost: the page and its assets, the JSON-RPC
websocket with subscriptions, the downloads, the emergency stop's own path and slow clients
(the token and the other guards: test_web_guard.py)."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from chair.service.api import ErrorCode, ServiceError
from chair.service.web import QUEUE_SNAPSHOTS
from tests.service.fake_host import FakeHost
from tests.service.webclient import START, rpc_client, run, served


@pytest.fixture
def host():
    fake = FakeHost(period_s=0.05, seconds=600.0)
    yield fake
    fake.close()


# ------------------------------------------------------------------- the page


def test_the_page_and_its_assets(host, static) -> None:
    async def go() -> None:
        async with served(host, static) as client:
            page = await client.get("/")
            assert page.status == 200 and "text/html" in page.headers["Content-Type"]
            assert "<title>chair</title>" in await page.text()
            asset = await client.get("/static/app.js")
            assert asset.status == 200 and "console.log" in await asset.text()
            assert asset.headers["Content-Type"].startswith("text/javascript")
            assert asset.headers["X-Content-Type-Options"] == "nosniff"
            for path in ("/static/nothing.js", "/static/../secret.txt",
                         "/static/%2e%2e/secret.txt"):
                response = await client.get(path)
                assert response.status == 404, path
                assert "outside" not in await response.text()
    run(go())


def test_a_missing_page_is_a_404_that_says_so(host, tmp_path) -> None:
    async def go() -> None:
        async with served(host, tmp_path / "none") as client:
            response = await client.get("/")
            assert response.status == 404
            assert "index.html" in await response.text()
    run(go())


def test_api_status_is_the_snapshot_as_json(host) -> None:
    async def go() -> None:
        async with served(host) as client:
            response = await client.get("/api/status")
            assert response.status == 200
            assert set(await response.json()) == set(host.status())
    run(go())


def test_api_status_before_the_chair_is_connected_says_so(host) -> None:
    def not_yet():
        raise ServiceError(ErrorCode.LINK, "the chair is not connected yet")
    host.status = not_yet

    async def go() -> None:
        async with served(host) as client:
            response = await client.get("/api/status")
            assert response.status == 503
            assert "not connected yet" in await response.text()
    run(go())


# ------------------------------------------------------------------- downloads


class FileHost(FakeHost):
    def __init__(self, folder: Path) -> None:
        super().__init__(period_s=60.0)
        self.folder = folder

    def trace_path(self, session_id: str) -> Path:
        path = self.folder / f"{session_id}.jsonl"
        if not path.exists():
            raise ServiceError(ErrorCode.NOT_FOUND, f"no session {session_id!r}")
        return path

    def plot_path(self, session_id: str) -> Path:
        return self.trace_path(session_id).with_suffix(".png")


def test_a_sessions_trace_and_plot(tmp_path) -> None:
    (tmp_path / "s1.jsonl").write_text('{"kind": "start"}\n')
    (tmp_path / "s1.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    host = FileHost(tmp_path)

    async def go() -> None:
        async with served(host) as client:
            trace = await client.get("/sessions/s1.jsonl")
            assert trace.status == 200 and await trace.text() == '{"kind": "start"}\n'
            plot = await client.get("/sessions/s1.png")
            assert plot.status == 200 and plot.headers["Content-Type"] == "image/png"
            missing = await client.get("/sessions/s2.jsonl")
            assert missing.status == 404 and "no session 's2'" in await missing.text()
            for path in ("/sessions/..%2fsecret.jsonl", "/sessions/.hidden.jsonl"):
                assert (await client.get(path)).status == 404
    try:
        run(go())
    finally:
        host.close()


def test_the_fake_hosts_not_found_is_a_404_with_its_message(host) -> None:
    async def go() -> None:
        async with served(host) as client:
            for suffix in ("jsonl", "png"):
                response = await client.get(f"/sessions/nope.{suffix}")
                assert response.status == 404
                assert "no session 'nope'" in await response.text()
    run(go())


# ------------------------------------------------------------------- the websocket


def test_json_rpc_over_the_websocket(host) -> None:
    async def go() -> None:
        async with served(host) as client, rpc_client(client) as rpc:
            info = await rpc.call("server.info")
            assert info["result"] == host.server_info()
            bad = await rpc.call("nope")
            assert bad["error"]["code"] == -32601
            await rpc.ws.send_str("{not json")
            parsed = await rpc.reply(None)
            assert parsed["error"]["code"] == -32700
            await rpc.ws.send_str(json.dumps([
                {"jsonrpc": "2.0", "method": "status.get", "id": "x"},
                {"jsonrpc": "2.0", "method": "chair.info", "id": "y"}]))
            batch = await rpc.reply(("x", "y"))
            assert batch[1]["result"] == host.chair_info()
    run(go())


def test_who_asked_is_web_for_the_page_and_api_otherwise(host) -> None:
    async def go() -> None:
        async with served(host) as client:
            async with rpc_client(client) as rpc:
                assert "result" in await rpc.call("session.start", START)
                assert "result" in await rpc.call("session.stop")
            async with rpc_client(client, "/websocket?client=web") as rpc:
                assert "result" in await rpc.call("session.start", START)
                assert "result" in await rpc.call("session.stop")
            ws = await client.ws_connect("/websocket", headers={
                "Origin": f"http://{client.host}:{client.port}"})
            await ws.send_str(json.dumps({"jsonrpc": "2.0", "method": "session.start",
                                          "params": START, "id": 1}))
            assert "result" in json.loads((await ws.receive()).data)
            await ws.close()
    run(go())
    assert [c[1].by for c in host.calls if c[0] == "start"] == ["api", "web", "web"]
    assert ("stop", "api") in host.calls


def test_subscription_follows_a_session_and_two_clients_see_the_same(host) -> None:
    async def go() -> None:
        async with served(host) as client, rpc_client(client) as one, \
                rpc_client(client) as two:
            for rpc in (one, two):
                assert (await rpc.call("status.subscribe"))["result"] == {"subscribed": True}
                await rpc.until(lambda rpc=rpc: rpc.updates)
            assert "result" in await one.call("session.start", START)
            for rpc in (one, two):
                running = await rpc.until(lambda rpc=rpc: [
                    u for u in rpc.updates if u["state"] == "running"
                    and u["session"]["elapsed_s"] >= 3])
                assert running[-1]["session"]["program"] == "lumbar"
            busy = await two.call("session.start", START)
            assert busy["error"]["code"] == ErrorCode.BUSY
            assert "stop it first" in busy["error"]["message"]
            assert "result" in await two.call("chair.estop")
            for rpc in (one, two):
                estop = await rpc.until(lambda rpc=rpc: [
                    u for u in rpc.updates if u["state"] == "estop"])
                assert estop[-1]["faults"][0]["code"] == "F01"
            unsubscribed = await one.call("status.unsubscribe")
            assert unsubscribed["result"] == {"subscribed": False, "was": True}
            count = len(one.updates)
            await two.until(lambda: len(two.updates) > count + 5)
            assert len(one.updates) <= count + QUEUE_SNAPSHOTS + 1
    run(go())


def test_a_client_that_leaves_is_unsubscribed_and_the_session_goes_on(host) -> None:
    async def go() -> None:
        async with served(host) as client:
            async with rpc_client(client) as rpc:
                await rpc.call("status.subscribe")
                await rpc.call("session.start", START)
                assert len(host._subscribers) == 1
            await asyncio.sleep(0)  # let the server see the close
            for _ in range(200):
                if not host._subscribers:
                    break
                await asyncio.sleep(0.05)
            assert host._subscribers == []
            assert host.status()["state"] == "running", "a client leaving stops nothing"
    run(go())


class SlowHost(FakeHost):
    """Every call but the emergency stop takes `delay` seconds (a busy chair thread)."""

    def __init__(self, delay: float) -> None:
        super().__init__(period_s=60.0)
        self.delay = delay
        self.release = threading.Event()

    def start(self, request):
        self.release.wait(self.delay)
        return super().start(request)

    def status(self):
        if threading.current_thread().name.startswith("chair-rpc"):
            self.release.wait(self.delay)
        return super().status()


def test_the_emergency_stop_never_waits_behind_another_request() -> None:
    host = SlowHost(delay=20.0)

    async def go() -> None:
        async with served(host) as client, rpc_client(client) as rpc:
            slow = [await rpc.send("status.get") for _ in range(10)]  # fill every worker
            slow.append(await rpc.send("session.start", START))
            loop = asyncio.get_running_loop()
            began = loop.time()
            estop = await rpc.call("chair.estop")
            assert estop["result"] == {"state": "estop"}
            assert loop.time() - began < 2.0
            assert not any(rpc.replies.get(i) for i in slow), "the estop overtook them"
            host.release.set()
            await rpc.until(lambda: all(rpc.replies.get(i) for i in slow))
    try:
        run(go())
    finally:
        host.release.set()
        host.close()


def test_a_flood_of_requests_is_refused_beyond_a_bound_but_never_the_estop() -> None:
    from chair.service.web import MAX_PENDING

    host = SlowHost(delay=20.0)

    async def go() -> None:
        async with served(host) as client, rpc_client(client) as rpc:
            sent = [await rpc.send("status.get") for _ in range(MAX_PENDING + 10)]
            refused = await rpc.until(lambda: [rpc.replies[i] for i in sent
                                               if i in rpc.replies])
            assert all(r["error"]["code"] == ErrorCode.REFUSED for r in refused)
            assert "too many" in refused[0]["error"]["message"]
            estop = await rpc.call("chair.estop")
            assert estop["result"] == {"state": "estop"}
            host.release.set()
            await rpc.until(lambda: all(i in rpc.replies for i in sent))
            answered = [i for i in sent if "result" in rpc.replies[i]]
            assert len(answered) == MAX_PENDING
    try:
        run(go())
    finally:
        host.release.set()
        host.close()


def test_a_client_that_reads_nothing_never_blocks_the_hosts_callbacks(host) -> None:
    async def go() -> None:
        async with served(host) as client:
            ws = await client.ws_connect("/websocket")
            await ws.send_str('{"jsonrpc":"2.0","method":"status.subscribe","id":1}')
            loop = asyncio.get_running_loop()
            for _ in range(100):
                if host._subscribers:
                    break
                await asyncio.sleep(0.02)
            callback = host._subscribers[0]
            big = dict(host.status(), padding="x" * 100_000)

            def publish() -> float:
                began = loop.time()
                for _ in range(2000):  # 200 MB if nothing were dropped
                    callback(big)
                return loop.time() - began
            spent = await asyncio.to_thread(publish)
            assert spent < 5.0
            await ws.close()
    run(go())


def test_a_feed_keeps_only_the_newest_snapshots() -> None:
    from chair.service.web import _Feed

    host = FakeHost(period_s=60.0)

    async def go() -> None:
        feed = _Feed(host, asyncio.get_running_loop())
        await asyncio.to_thread(feed.subscribe)

        def publish() -> None:
            for n in range(1000):
                feed._callback({"n": n})
        await asyncio.to_thread(publish)
        await asyncio.sleep(0.1)
        assert len(feed.queue) == QUEUE_SNAPSHOTS
        assert feed.queue[-1] == {"n": 999} and feed.dropped > 900
        assert await asyncio.to_thread(feed.unsubscribe)
        assert not await asyncio.to_thread(feed.unsubscribe)
    try:
        run(go())
    finally:
        host.close()
