"""A real Mosquitto broker for the MQTT tests, and a client that records what it sees.

`broker` (fixture): /usr/sbin/mosquitto (Debian package `mosquitto`) on a free loopback
port with a small config in tmp_path, stopped at the end. Without mosquitto the tests are
skipped, except when the environment variable CI is set: then they fail, saying to install
it. `Watcher` subscribes to topics with paho-mqtt on its own thread and keeps every message,
so a test can wait for a condition (never a fixed sleep).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest

MOSQUITTO = os.environ.get("MOSQUITTO", "/usr/sbin/mosquitto")
WAIT_S = 15.0  # the longest a test waits for a condition on a shared two-core machine


def mosquitto_or_skip() -> str:
    """The broker's executable; skip (fail when $CI is set) when it is not installed."""
    found = MOSQUITTO if os.access(MOSQUITTO, os.X_OK) else shutil.which("mosquitto")
    if found:
        return found
    reason = ("mosquitto is not installed: install the Debian package `mosquitto` "
              "(apt-get install mosquitto) to run the MQTT tests")
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class Broker:
    """One mosquitto process on `host`:`port`; `stop` and `start` again keep the port."""

    def __init__(self, executable: str, directory: Path, host: str = "127.0.0.1",
                 settings: str = "allow_anonymous true\n") -> None:
        self.executable, self.host = executable, host
        self.port = free_port(host)
        self.config = directory / "mosquitto.conf"
        self.log = directory / "mosquitto.log"
        # `user`: mosquitto started by root would drop to the user "mosquitto", who cannot
        # read tmp_path (the password and ACL files); ignored when not root
        self.config.write_text(f"listener {self.port} {host}\npersistence false\n"
                               f"user {getpass.getuser()}\n{settings}")
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        """What `chair serve --mqtt` takes: HOST:PORT, [IPV6]:PORT."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([self.executable, "-c", str(self.config), "-v"],
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.address}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh Mosquitto on a free 127.0.0.1 port (no persistence), stopped at the end."""
    running = Broker(mosquitto_or_skip(), tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Seen:
    topic: str
    payload: str
    retain: bool


class Watcher:
    """A paho-mqtt client on its own thread that records every message on `topics`."""

    def __init__(self, broker: Broker, *topics: str, username: str | None = None,
                 password: str | None = None) -> None:
        self.messages: list[Seen] = []
        self._lock = threading.Condition()
        self._subscribed = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                                  client_id=f"watcher-{id(self)}")
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.on_connect = lambda client, *args: client.subscribe(
            [(topic, 1) for topic in topics or ("#",)])
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        if not self._subscribed.wait(WAIT_S):
            raise RuntimeError("the watcher could not subscribe")

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Seen(message.topic, message.payload.decode(), message.retain))
            self._lock.notify_all()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(WAIT_S)

    def last(self, topic: str) -> str | None:
        """The newest payload seen on `topic` (None: nothing yet)."""
        with self._lock:
            for seen in reversed(self.messages):
                if seen.topic == topic:
                    return seen.payload
        return None

    def on(self, topic: str) -> list[str]:
        with self._lock:
            return [seen.payload for seen in self.messages if seen.topic == topic]

    def wait(self, predicate: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
        """Wait until `predicate()` is truthy and return it; fail naming `what`."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                with self._lock:
                    topics = sorted({seen.topic for seen in self.messages})
                raise AssertionError(f"timed out waiting for {what}; topics seen: {topics}")
            with self._lock:
                self._lock.wait(min(left, 0.1))

    def wait_for(self, topic: str, payload: str | Callable[[str], bool],
                 timeout: float = WAIT_S) -> str:
        """Wait until the newest message on `topic` is `payload` (or satisfies it)."""
        def matches() -> tuple[str] | None:
            last = self.last(topic)
            if last is None:
                return None
            ok = payload(last) if callable(payload) else last == payload
            return (last,) if ok else None  # truthy even for an empty payload
        return self.wait(matches, f"{topic} = {payload!r} (last {self.last(topic)!r})",
                         timeout)[0]
