"""The state topics of `chair serve --mqtt` follow a session (issue 13, item 4): on each
change, time left at most once a second (never at the snapshot rate), retained; and the
bridge reconnects when the broker comes back, publishing everything again, without
touching the session."""

from __future__ import annotations

import pytest

from tests.service.broker import Broker, Watcher, broker
from tests.service.fake_host import FakeHost
from tests.service.mqtt_run import BASE, running_bridge

__all__ = ["broker"]


@pytest.fixture
def watcher(broker: Broker):
    client = Watcher(broker, "chair/#")
    yield client
    client.close()


def test_the_state_topics_follow_a_session(broker: Broker, watcher: Watcher) -> None:
    # 120 s of session in 6 s: the snapshot's time left changes 20 times a second
    host = FakeHost(seconds=120.0, period_s=0.05, step_s=1.0)
    host.acknowledged.add("lumbar")
    try:
        with running_bridge(host, broker):
            for topic, payload in [("state", "idle"), ("running", "OFF"), ("step", "none"),
                                   ("fault", "none"), ("time_left", "0")]:
                watcher.wait_for(f"{BASE}/{topic}", payload)
            watcher.publish(f"{BASE}/command/start", "PRESS")
            watcher.wait_for(f"{BASE}/state", "running")
            watcher.wait_for(f"{BASE}/running", "ON")
            watcher.wait_for(f"{BASE}/step", lambda text: text.endswith("/6 rolling"))
            watcher.wait(lambda: "3/6 rolling" in watcher.on(f"{BASE}/step"),
                         "the steps to advance")  # each lasts half a second here
            watcher.wait_for(f"{BASE}/state", "idle", timeout=30)  # completed
            watcher.wait_for(f"{BASE}/running", "OFF")
            watcher.wait_for(f"{BASE}/time_left", "0")
            watcher.wait_for(f"{BASE}/step", "none")
    finally:
        host.close()
    states = watcher.on(f"{BASE}/state")
    assert states == ["idle", "running", "idle"]  # each change once, nothing repeated
    lefts = [int(text) for text in watcher.on(f"{BASE}/time_left")]
    middle = lefts[1:-1]  # idle before (0), the session counting down, idle after (0)
    assert lefts[0] == 0 and lefts[-1] == 0 and middle == sorted(middle, reverse=True), lefts
    # about six seconds of running: at most one time left a second (plus start and end),
    # where the snapshots changed it about 120 times
    assert 3 <= len(lefts) <= 12, lefts
    assert 100 <= max(lefts) <= 120


def test_an_emergency_stop_shows_the_fault_and_what_to_do(broker: Broker,
                                                          watcher: Watcher) -> None:
    host = FakeHost(seconds=600.0)
    try:
        with running_bridge(host, broker):
            watcher.wait_for(f"{BASE}/state", "idle")
            host.estop(by="web")  # whoever presses it, MQTT shows it
            watcher.wait_for(f"{BASE}/state", "estop")
            fault = watcher.wait_for(f"{BASE}/fault", lambda text: text != "none")
            assert fault == "F01 estop: make sure the person is safe, then reset"
            host.reset(by="web")
            watcher.wait_for(f"{BASE}/fault", "none")
            watcher.wait_for(f"{BASE}/state", "idle")
    finally:
        host.close()


def test_the_bridge_reconnects_when_the_broker_comes_back(broker: Broker) -> None:
    host = FakeHost(seconds=600.0)
    host.acknowledged.add("lumbar")
    try:
        with running_bridge(host, broker) as bridge:
            first = Watcher(broker, "chair/#")
            first.wait_for(f"{BASE}/availability", "online")
            first.publish(f"{BASE}/command/start", "PRESS")
            first.wait_for(f"{BASE}/state", "running")
            first.close()

            broker.stop()  # no persistence: every retained message is gone with it
            first.wait(lambda: not bridge.online, "the bridge to notice")
            broker.start()

            again = Watcher(broker, "homeassistant/#", "chair/#")
            again.wait_for(f"{BASE}/availability", "online")
            again.wait(lambda: again.last("homeassistant/button/chair/estop/config"),
                       "the discovery configs again")
            again.wait_for(f"{BASE}/state", "running")  # the session went on meanwhile
            assert bridge.connects == 2
            # and commands work again
            again.publish(f"{BASE}/command/stop", "PRESS")
            again.wait_for(f"{BASE}/state", "idle")
            again.close()
        assert [name for name, _ in host.calls] == ["start", "stop"]
    finally:
        host.close()
