"""The websocket's bounds against a flood: a batch has at most `MAX_BATCH` requests, a
batch's requests count one by one against the `MAX_PENDING` a connection may have waiting,
and a connection that closed has nothing more done for it (but an emergency stop)."""

from __future__ import annotations

import asyncio
import json
import threading

from chair.service.rpc import INVALID_REQUEST, MAX_BATCH, parse
from chair.service.web import MAX_PENDING
from tests.service.fake_host import FakeHost
from tests.service.webclient import rpc_client, run, served


def _batch(n: int, first: int = 1, method: str = "status.get") -> str:
    return json.dumps([{"jsonrpc": "2.0", "method": method, "id": first + i}
                       for i in range(n)])


def test_a_batch_over_the_limit_is_one_error_naming_the_limit() -> None:
    assert MAX_BATCH == 32
    parsed = parse(_batch(MAX_BATCH + 1))
    assert not parsed.calls and len(parsed.replies) == 1 and not parsed.batch
    error = parsed.replies[0]["error"]
    assert error["code"] == INVALID_REQUEST and f"at most {MAX_BATCH}" in error["message"]
    assert len(parse(_batch(MAX_BATCH)).calls) == MAX_BATCH


class CountingHost(FakeHost):
    """status() takes `delay` seconds on the rpc workers and counts its calls."""

    def __init__(self, delay: float) -> None:
        super().__init__(period_s=60.0)
        self.delay, self.status_calls = delay, 0
        self.release = threading.Event()

    def status(self):
        if threading.current_thread().name.startswith("chair-rpc"):
            self.status_calls += 1
            self.release.wait(self.delay)
        return super().status()


def test_a_batchs_requests_count_against_the_pending_limit() -> None:
    host = CountingHost(delay=20.0)

    async def go() -> None:
        async with served(host) as client, rpc_client(client) as rpc:
            await rpc.ws.send_str(_batch(MAX_PENDING - 2, first=1000))
            more = [await rpc.send("status.get") for _ in range(4)]
            refused = await rpc.until(lambda: [rpc.replies[i] for i in more
                                               if i in rpc.replies])
            assert len(refused) == 2 and all("too many" in r["error"]["message"]
                                             for r in refused), refused
            estop = await rpc.call("chair.estop")
            assert "result" in estop, estop
            host.release.set()
    try:
        run(go())
    finally:
        host.release.set()
        host.close()


def test_nothing_more_is_done_for_a_connection_that_closed() -> None:
    host = CountingHost(delay=0.2)

    async def go() -> None:
        async with served(host) as client:
            async with rpc_client(client) as rpc:
                await rpc.ws.send_str(_batch(MAX_BATCH))
                for _ in range(100):
                    if host.status_calls:
                        break
                    await asyncio.sleep(0.05)
            await asyncio.sleep(3.0)  # time for 15 more calls, were they still made
            assert host.status_calls <= 3, host.status_calls
    try:
        run(go())
    finally:
        host.release.set()
        host.close()


def test_a_message_over_1_mib_closes_the_connection_with_1009() -> None:
    host = FakeHost()

    async def go() -> None:
        async with served(host) as client:
            ws = await client.ws_connect("/websocket")
            await ws.send_str(" " * ((1 << 20) + 1))
            await ws.receive()
            assert ws.close_code == 1009
    try:
        run(go())
    finally:
        host.close()
