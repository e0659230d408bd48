"""Run an `MqttBridge` on an event loop of its own thread, for the MQTT tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chair.service.api import Host
from chair.service.mqtt import MqttBridge, NodeTaken
from tests.service.broker import WAIT_S, Broker, Watcher

BASE = "chair/chair"


@contextlib.contextmanager
def running_bridge(host: Host, broker: Broker, *, threads: int | None = None,
                   **options: Any) -> Iterator[MqttBridge]:
    """A bridge running until the block ends (then cancelled, as `chair serve` does);
    `threads`: the size of the loop's default executor (None: asyncio's own)."""
    options.setdefault("backoff_s", (0.1, 0.5))
    bridge = MqttBridge(host, broker.address, **options)
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        holder["loop"], holder["task"] = asyncio.get_running_loop(), asyncio.current_task()
        if threads is not None:
            holder["loop"].set_default_executor(ThreadPoolExecutor(threads))
        started.set()
        await bridge.run()

    def thread_main() -> None:
        with contextlib.suppress(asyncio.CancelledError, NodeTaken):  # NodeTaken: bridge.refused
            asyncio.run(main())

    thread = threading.Thread(target=thread_main, daemon=True, name="mqtt-bridge")
    thread.start()
    assert started.wait(WAIT_S)
    try:
        yield bridge
    finally:
        with contextlib.suppress(RuntimeError):  # the loop has ended (bridge.refused)
            holder["loop"].call_soon_threadsafe(holder["task"].cancel)
        thread.join(WAIT_S)
        assert not thread.is_alive(), "the bridge did not stop when cancelled"


def answer(watcher: Watcher, command: str, after: int = 0) -> dict[str, Any]:
    """The message topic's answer to `command` with a sequence number above `after`."""
    def found() -> dict[str, Any] | None:
        for payload in reversed(watcher.on(f"{BASE}/message")):
            data = json.loads(payload)
            if data["command"] == command and data["seq"] > after:
                return data
        return None
    return watcher.wait(found, f"an answer to {command} after #{after}")


def last_seq(watcher: Watcher) -> int:
    payload = watcher.last(f"{BASE}/message")
    return json.loads(payload)["seq"] if payload else 0
