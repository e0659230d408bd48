"""Helpers for the web layer's tests: make_app served on a loopback port by aiohttp's test
server, and a websocket JSON-RPC client that keeps replies and status updates."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from chair.service.web import make_app

START = {"program": "lumbar", "intensity": 2, "acknowledged": True}


@contextlib.asynccontextmanager
async def served(host: Any, static: Path | None = None, **kwargs: Any
                 ) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(make_app(host, static_dir=static, **kwargs),
                                   host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def run(coroutine) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 30))


class Rpc:
    """A websocket JSON-RPC client for the tests: `call` waits for its reply; notifications
    are kept in `updates`."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws, self.next_id = ws, 0
        self.replies: dict[Any, dict[str, Any]] = {}
        self.updates: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if isinstance(data, dict) and data.get("method") == "status.update":
                self.updates.append(data["params"])
            elif isinstance(data, dict):
                self.replies[data["id"]] = data
            else:
                self.replies[tuple(a["id"] for a in data)] = data
            self.changed.set()

    async def send(self, method: str, params: Any = None) -> int:
        self.next_id += 1
        message = {"jsonrpc": "2.0", "method": method, "id": self.next_id}
        if params is not None:
            message["params"] = params
        await self.ws.send_str(json.dumps(message))
        return self.next_id

    async def reply(self, id_: Any) -> dict[str, Any]:
        return await self.until(lambda: self.replies.get(id_))

    async def call(self, method: str, params: Any = None) -> dict[str, Any]:
        return await self.reply(await self.send(method, params))

    async def until(self, check: Callable[[], Any], timeout: float = 10.0) -> Any:
        async def wait() -> Any:
            while not (found := check()):
                self.changed.clear()
                await self.changed.wait()
            return found
        return await asyncio.wait_for(wait(), timeout)


@contextlib.asynccontextmanager
async def rpc_client(client: TestClient, path: str = "/websocket") -> AsyncIterator[Rpc]:
    ws = await client.ws_connect(path)
    rpc = Rpc(ws)
    try:
        yield rpc
    finally:
        await ws.close()
        rpc.reader.cancel()
