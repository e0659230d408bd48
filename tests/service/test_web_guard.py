"""The web layer's guards (chair/service/web.py): the token on every request when one is
given, loopback names only without one, and no websocket from another site's page."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.service.fake_host import FakeHost
from tests.service.webclient import rpc_client, run, served


@pytest.fixture
def host():
    fake = FakeHost(period_s=0.05, seconds=600.0)
    yield fake
    fake.close()


# ------------------------------------------------------------------- the guard


def test_a_token_is_required_on_every_request_when_given(host, static) -> None:
    async def go() -> None:
        async with served(host, static, token="s3cret") as client:
            for path in ("/", "/static/app.js", "/api/status", "/sessions/x.jsonl",
                         "/websocket"):
                refused = await client.get(path)
                assert refused.status == 401, path
                assert "token" in await refused.text()
                wrong = await client.get(path, params={"token": "s3cre"})
                assert wrong.status == 401, path
            with pytest.raises(aiohttp.WSServerHandshakeError) as handshake:
                await client.ws_connect("/websocket?token=wrong")
            assert handshake.value.status == 401
            assert (await client.get("/api/status?token=s3cret")).status == 200
            bearer = {"Authorization": "Bearer s3cret"}
            assert (await client.get("/api/status", headers=bearer)).status == 200
            ws = await client.ws_connect("/websocket", headers=bearer)
            await ws.send_str('{"jsonrpc":"2.0","method":"status.get","id":1}')
            assert json.loads((await ws.receive()).data)["result"]["state"] == "idle"
            await ws.close()
            async with rpc_client(client, "/websocket?token=s3cret") as rpc:
                info = await rpc.call("server.info")
                assert info["result"]["token_required"] is True
    run(go())


def test_the_page_opened_with_its_token_loads_its_assets(host, static) -> None:
    async def go() -> None:
        async with served(host, static, token="s3cret") as client:
            assert (await client.get("/?token=s3cret")).status == 200
            assert (await client.get("/static/app.js")).status == 200  # the cookie
            client.session.cookie_jar.clear()
            assert (await client.get("/static/app.js")).status == 401
    run(go())


def test_without_a_token_only_loopback_names_are_answered(host) -> None:
    async def go() -> None:
        async with served(host) as client:
            for name in ("127.0.0.1:8080", "localhost", "[::1]:80", "127.0.0.2"):
                response = await client.get("/api/status", headers={"Host": name})
                assert response.status == 200, name
            for name in ("evil.example:8080", "192.168.1.5", "chair.local", "[::1",
                         ""):
                response = await client.get("/api/status", headers={"Host": name})
                assert response.status == 403, name
                assert "loopback" in await response.text()
    run(go())


def test_a_websocket_from_another_sites_page_is_refused(host) -> None:
    async def go() -> None:
        async with served(host) as client:
            for origin in ("http://evil.example", "http://[::1", "null"):
                with pytest.raises(aiohttp.WSServerHandshakeError) as handshake:
                    await client.ws_connect("/websocket", headers={"Origin": origin})
                assert handshake.value.status == 403, origin
            own = f"http://{client.host}:{client.port}"
            ws = await client.ws_connect("/websocket", headers={"Origin": own})
            await ws.close()
    run(go())
