"""End to end over MQTT (issue 13, "done when": with a Mosquitto broker, Home Assistant's
discovery topics appear, and a start and a stop sent over MQTT work): the real chair host
(chair.service.host.ChairHost) on the simulated chair at 20 times real time, bridged to a
real Mosquitto; and `chair serve --mqtt` as a process."""

from __future__ import annotations

import json
import signal

import pytest

from chair.service.api import StartRequest
from tests.service.broker import Broker, Watcher, broker
from tests.service.mqtt_run import BASE, answer, last_seq, running_bridge

pytest.importorskip("chair.service.host", reason="the chair thread is not built yet")

from tests.service.hosts import make_host, state_is, wait_for

__all__ = ["broker"]


@pytest.fixture
def watcher(broker: Broker):
    client = Watcher(broker, "homeassistant/#", "chair/#")
    yield client
    client.close()


def test_a_session_started_and_stopped_over_mqtt_on_the_real_host(
        broker: Broker, watcher: Watcher, tmp_path) -> None:
    host = make_host(tmp_path / "sessions", speed=20.0)
    try:
        # the cautions of lumbar acknowledged once, as the web page does; then stopped
        host.start(StartRequest("lumbar", acknowledged=True, by="web"))
        wait_for(state_is(host, "scanning", "running"), 20, "the web session")
        host.stop(by="web")
        wait_for(state_is(host, "idle"), 60, "the chair parked")

        with running_bridge(host, broker):
            watcher.wait_for(f"{BASE}/availability", "online")
            config = json.loads(watcher.wait(
                lambda: watcher.last("homeassistant/select/chair/program/config"),
                "the program select"))
            assert "lumbar" in config["options"] and "sciatica" in config["options"]
            device = config["device"]
            assert device["sw_version"] == host.server_info()["version"]
            assert device["hw_version"] == host.chair_info()["firmware"]
            watcher.wait_for(f"{BASE}/state", "idle")

            watcher.publish(f"{BASE}/program/set", "lumbar")
            watcher.wait_for(f"{BASE}/program", "lumbar")
            watcher.publish(f"{BASE}/intensity/set", "2")
            watcher.wait_for(f"{BASE}/intensity", "2")
            seq = last_seq(watcher)
            watcher.publish(f"{BASE}/command/start", "PRESS")
            started = answer(watcher, "start", seq)
            assert started["ok"], started
            watcher.wait_for(f"{BASE}/state", "running", timeout=30)
            watcher.wait_for(f"{BASE}/running", "ON")
            # at 20 times real time a step lasts about two seconds: any step seen will do
            watcher.wait(lambda: [text for text in watcher.on(f"{BASE}/step")
                                  if text.startswith("1/5 ")], "the first step of five")
            session = host.status()["session"]
            assert (session["by"], session["intensity"]) == ("mqtt", 2)

            seq = last_seq(watcher)
            watcher.publish(f"{BASE}/command/stop", "PRESS")
            assert answer(watcher, "stop", seq)["ok"]
            watcher.wait_for(f"{BASE}/state", lambda state: state in ("parking", "idle"))
            watcher.wait_for(f"{BASE}/state", "idle", timeout=60)
            watcher.wait_for(f"{BASE}/running", "OFF")
        sessions = host.sessions()
        assert [s["by"] for s in sessions[:2]] == ["mqtt", "web"], sessions
    finally:
        host.close()


def test_mqtt_cannot_acknowledge_the_cautions(broker: Broker, watcher: Watcher,
                                              tmp_path) -> None:
    host = make_host(tmp_path / "sessions", speed=20.0)
    try:
        with running_bridge(host, broker):
            watcher.wait_for(f"{BASE}/availability", "online")
            watcher.publish(f"{BASE}/command/start", "PRESS")
            refused = answer(watcher, "start")
            assert refused["error"] == "NOT_ACKNOWLEDGED", refused
            assert "web page" in refused["message"]
            assert host.status()["state"] == "idle"
    finally:
        host.close()


def test_chair_serve_with_mqtt(broker: Broker, watcher: Watcher, tmp_path) -> None:
    """`chair serve --mqtt` as a process: discovery, an emergency stop over MQTT, and
    `offline` when it stops."""
    serving = pytest.importorskip("tests.service.test_web_serve")
    server = serving.Server(tmp_path / "data", "--speed", "20", "--mqtt", broker.address)
    try:
        assert f"MQTT broker {broker.address}" in server.out
        watcher.wait_for(f"{BASE}/availability", "online", timeout=30)
        watcher.wait(lambda: watcher.last("homeassistant/button/chair/estop/config"),
                     "the discovery configs")
        watcher.wait_for(f"{BASE}/state", "idle")
        watcher.publish(f"{BASE}/command/estop", "PRESS")
        watcher.wait_for(f"{BASE}/state", "estop")
        watcher.wait_for(f"{BASE}/fault", lambda text: text != "none")
        watcher.publish(f"{BASE}/command/reset", "PRESS")
        watcher.wait_for(f"{BASE}/state", "idle", timeout=30)
    finally:
        _code, _out, err = server.stop(signal.SIGTERM)
    assert "Traceback" not in err, err
    watcher.wait_for(f"{BASE}/availability", "offline")
