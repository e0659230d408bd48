"""Two `chair serve --mqtt` on one broker (issue 13, safety S2): each instance has a client
id of its own (never kicking the other off), and a node already online is never taken over:
the second bridge on it refuses, subscribes to none of its commands, and says which option
names another node; two bridges on different nodes each act only on their own commands."""

from __future__ import annotations

import json
import time

import pytest

from chair.service.api import StartRequest
from chair.service.mqtt import NodeTaken
from tests.service.broker import WAIT_S, Broker, Watcher, broker
from tests.service.fake_host import FakeHost
from tests.service.mqtt_run import running_bridge

__all__ = ["broker"]


@pytest.fixture
def hosts():
    made = [FakeHost(seconds=600.0), FakeHost(seconds=600.0)]
    for fake in made:
        fake.acknowledged.add("lumbar")
    yield made
    for fake in made:
        fake.close()


@pytest.fixture
def watcher(broker: Broker):
    client = Watcher(broker, "chair/#")
    yield client
    client.close()


def starts(host: FakeHost) -> list[StartRequest]:
    return [request for name, request in host.calls if name == "start"]


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_second_bridge_on_a_node_already_online_refuses_it(
        broker: Broker, hosts: list[FakeHost], watcher: Watcher) -> None:
    first, second = hosts
    with running_bridge(first, broker) as one:
        watcher.wait_for("chair/chair/availability", "online")
        with running_bridge(second, broker) as two:
            wait_until(lambda: two.refused is not None, "the second bridge to refuse")
            assert isinstance(two.refused, NodeTaken)
            text = str(two.refused)
            assert "'chair'" in text and "--mqtt-node" in text, text
            assert not two.online
            assert one.client_id != two.client_id
            watcher.publish("chair/chair/command/start", "PRESS")
            watcher.wait_for("chair/chair/state", "running")
            wait_until(lambda: starts(first), "the first host to start")
            time.sleep(0.5)  # a start the second host wrongly took would have come by now
            assert starts(second) == []
            assert one.connects == 1  # never kicked off by the second
        # the second going away leaves the first online, its will never sent
        time.sleep(0.5)
        assert watcher.last("chair/chair/availability") == "online"
        assert "offline" not in watcher.on("chair/chair/availability")


def test_two_bridges_on_two_nodes_each_act_on_their_own(
        broker: Broker, hosts: list[FakeHost], watcher: Watcher) -> None:
    left, right = hosts
    with running_bridge(left, broker, node_id="left") as one, \
            running_bridge(right, broker, node_id="right") as two:
        watcher.wait_for("chair/left/availability", "online")
        watcher.wait_for("chair/right/availability", "online")
        assert one.refused is None and two.refused is None
        watcher.publish("chair/right/command/start", "PRESS")
        watcher.wait_for("chair/right/state", "running")
        wait_until(lambda: starts(right), "the right host to start")
        watcher.publish("chair/left/command/start", "PRESS")
        watcher.wait_for("chair/left/state", "running")
        wait_until(lambda: starts(left), "the left host to start")
        time.sleep(0.3)
        assert len(starts(left)) == 1 and len(starts(right)) == 1
        assert one.connects == 1 and two.connects == 1
        message = json.loads(watcher.last("chair/right/message"))
        assert message["ok"], message


def test_a_stale_online_from_a_dead_instance_is_refused_too(
        broker: Broker, hosts: list[FakeHost], watcher: Watcher) -> None:
    """A chair serve that died without its will reaching the broker left `online`."""
    watcher.publish("chair/chair/availability", "online", retain=True)
    watcher.publish("chair/chair/owner", "chair-serve-chair-dead", retain=True)
    with running_bridge(hosts[0], broker) as bridge:
        wait_until(lambda: bridge.refused is not None, "the bridge to refuse")
        assert "mosquitto_pub" in str(bridge.refused)
    assert starts(hosts[0]) == []
