"""docs/api.md stays true: every method has its example request and reply, the error table
is ErrorCode (and JSON-RPC's own codes), every snapshot field is documented, and the
complete client in the doc runs (here against FakeHost; against a real `chair serve` in
tests/service/test_web_serve.py)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from chair.service import rpc
from chair.service.api import ErrorCode
from tests.service.fake_host import FakeHost

ROOT = Path(__file__).resolve().parents[2]
API = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")


def section(heading: str, level: str = "##") -> str:
    found = re.search(rf"^{level} {re.escape(heading)}\n(.*?)(?=^#{{2,3}} |\Z)", API,
                      re.S | re.M)
    assert found, f"no section {level} {heading}"
    return found.group(1)


def json_blocks(text: str) -> list[Any]:
    return [json.loads(block) for block in re.findall(r"^```json\n(.*?)^```", text,
                                                       re.S | re.M)]


def client_code() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```", section("A complete client"), re.S | re.M)
    assert len(blocks) == 1, "one complete client"
    return blocks[0]


@pytest.mark.parametrize("method", list(rpc.METHODS))
def test_every_method_has_an_example_request_and_reply(method: str) -> None:
    request, reply = json_blocks(section(f"`{method}`", "###"))[:2]
    assert request["method"] == method and request["jsonrpc"] == "2.0"
    assert reply["id"] == request["id"] and ("result" in reply) != ("error" in reply)
    parsed = rpc.parse(json.dumps(request))
    assert [call.method for _, call in parsed.calls] == [method], parsed.replies
    if method == "session.start":
        rpc.start_request(request["params"], "api")  # the example's params are accepted


def test_the_notification_is_documented_with_a_full_snapshot() -> None:
    (update,) = json_blocks(section("`status.update`", "###"))
    assert update["method"] == "status.update" and "id" not in update
    host = FakeHost(period_s=60.0)
    try:
        assert set(update["params"]) == set(host.status())
    finally:
        host.close()


def _fields(value: Any, prefix: str = "") -> set[str]:
    found = set()
    for key, inner in value.items():
        found.add(prefix + key)
        if isinstance(inner, dict) and prefix == "" and key == "session":
            found |= _fields(inner, f"{key}.")
    return found


def check_snapshot_documented(snapshot: dict[str, Any]) -> None:
    """Every field of `snapshot` (a session's, with a roller, airbags, heat and a fault) is
    in the doc's table of the status snapshot, and the doc has no field it lacks."""
    table = section("The status snapshot")
    documented = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            documented |= set(re.findall(r"`([\w.]+)`", line.split("|")[1]))
    assert _fields(snapshot) == documented, _fields(snapshot) ^ documented
    roller = next(line for line in table.splitlines() if line.startswith("| `roller`"))
    assert snapshot["roller"] and snapshot["faults"], "a snapshot with all its parts"
    for key in snapshot["roller"]:
        assert f"`{key}`" in roller, key
    for name in ("airbags", "heat", "faults", "can", "link"):
        line = next(line for line in table.splitlines() if line.startswith(f"| `{name}`"))
        inner = snapshot[name][0] if isinstance(snapshot[name], list) else snapshot[name]
        for key in inner or {}:
            assert f"`{key}`" in line, f"{name}.{key}"


def test_every_snapshot_field_is_documented() -> None:
    host = FakeHost(period_s=60.0)
    try:
        from chair.service.api import StartRequest

        host.start(StartRequest("lumbar", acknowledged=True))
        snapshot = host.status()
        host.estop()
        snapshot["faults"] = host.status()["faults"]
    finally:
        host.close()
    check_snapshot_documented(snapshot)


def test_the_error_table_is_errorcode_and_json_rpcs_own() -> None:
    rows = {}
    for line in section("Errors").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.fullmatch(r"-?\d+", cells[0]):
            rows[int(cells[0])] = cells[1].strip("`")
    own = {code.value: code.name for code in ErrorCode}
    standard = {rpc.PARSE_ERROR: "PARSE_ERROR", rpc.INVALID_REQUEST: "INVALID_REQUEST",
                rpc.METHOD_NOT_FOUND: "METHOD_NOT_FOUND", rpc.INVALID_PARAMS: "INVALID_PARAMS",
                rpc.INTERNAL_ERROR: "INTERNAL_ERROR"}
    assert rows == {**standard, **own}


def test_the_documented_params_of_session_start_are_the_dispatchers() -> None:
    table = section("`session.start`", "###")
    names = re.findall(r"^\| `(\w+)` \|", table, re.M)
    assert names == list(rpc.START_PARAMS), "the same names, in the positional order"


# ------------------------------------------------------------------- the client


@contextmanager
def serving(host: Any) -> Iterator[str]:
    """make_app(host) on a loopback port in a thread of its own: the websocket URL."""
    from aiohttp import web

    from chair.service.web import make_app

    ready, address = threading.Event(), []
    loop = asyncio.new_event_loop()

    async def start() -> web.AppRunner:
        runner = web.AppRunner(make_app(host), shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        address.append(site._server.sockets[0].getsockname()[1])
        return runner

    def run() -> None:
        asyncio.set_event_loop(loop)
        runner = loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield f"ws://127.0.0.1:{address[0]}/websocket"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def run_client(url: str, tmp_path: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    script = tmp_path / "client.py"
    script.write_text(client_code(), encoding="utf-8")
    return subprocess.run([sys.executable, str(script), url], capture_output=True, text=True,
                          timeout=timeout, cwd=tmp_path)


def test_the_documented_client_runs_against_the_fake_host(tmp_path) -> None:
    host = FakeHost(period_s=0.05, seconds=600.0)
    try:
        with serving(host) as url:
            done = run_client(url, tmp_path)
    finally:
        host.close()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "started session fake-1" in done.stdout
    assert re.search(r"running\s+step 2 of 6", done.stdout), done.stdout
    assert "stopped: stopped" in done.stdout
    assert [c[0] for c in host.calls] == ["start", "stop"]


def test_the_documented_bounds_are_the_servers() -> None:
    from chair.service.api import SNAPSHOT_PERIOD_S
    from chair.service.rpc import MAX_BATCH
    from chair.service.web import MAX_PENDING

    messages = section("Messages")
    assert f"may have {MAX_PENDING} requests waiting" in messages
    assert f"A batch holds at most {MAX_BATCH} requests" in messages
    assert "1 MiB" in messages and "1009" in messages
    subscribe = section("`status.subscribe`", "###")
    assert f"every {SNAPSHOT_PERIOD_S:g} s ({1 / SNAPSHOT_PERIOD_S:g} Hz)" in subscribe
