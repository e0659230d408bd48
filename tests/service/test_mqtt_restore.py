"""After `chair serve` restarts, Home Assistant's program and intensity are what was chosen
before (issue 13, P3): the bridge reads its retained selection back at its first
connection, and keeps only a program it offers and an intensity in range."""

from __future__ import annotations

import pytest

from tests.service.broker import Broker, Watcher, broker
from tests.service.fake_host import FakeHost
from tests.service.mqtt_run import BASE, answer, running_bridge

__all__ = ["broker"]


class TwoPrograms(FakeHost):
    def programs(self) -> dict:
        listed = super().programs()
        legs = dict(listed["programs"][0], name="legs", title="Legs")
        return dict(listed, programs=[*listed["programs"], legs])


@pytest.fixture
def watcher(broker: Broker):
    client = Watcher(broker, "chair/#")
    yield client
    client.close()


def test_the_selection_survives_a_restart(broker: Broker, watcher: Watcher) -> None:
    first, second = TwoPrograms(seconds=600.0), TwoPrograms(seconds=600.0)
    try:
        with running_bridge(first, broker):
            watcher.wait_for(f"{BASE}/availability", "online")
            watcher.publish(f"{BASE}/intensity/set", "4")
            watcher.wait_for(f"{BASE}/intensity", "4")
            watcher.publish(f"{BASE}/program/set", "legs")
            watcher.wait_for(f"{BASE}/program", "legs")
        watcher.wait_for(f"{BASE}/availability", "offline")
        with running_bridge(second, broker) as bridge:
            watcher.wait_for(f"{BASE}/availability", "online")
            assert (bridge.program, bridge.intensity) == ("legs", 4)
            assert watcher.last(f"{BASE}/program") == "legs"
            assert watcher.last(f"{BASE}/intensity") == "4"
            watcher.publish(f"{BASE}/command/start", "PRESS")
            answer(watcher, "start")
        [(_, request)] = [call for call in second.calls if call[0] == "start"]
        assert (request.program, request.intensity) == ("legs", 4)
    finally:
        first.close()
        second.close()


def test_a_retained_selection_it_cannot_use_is_ignored(broker: Broker,
                                                       watcher: Watcher) -> None:
    host = FakeHost(seconds=600.0)
    try:
        watcher.publish(f"{BASE}/program", "nosuch", retain=True)
        watcher.publish(f"{BASE}/intensity", "9", retain=True)
        with running_bridge(host, broker) as bridge:
            watcher.wait_for(f"{BASE}/availability", "online")
            assert (bridge.program, bridge.intensity) == ("lumbar", 3)
            watcher.wait_for(f"{BASE}/program", "lumbar")
            watcher.wait_for(f"{BASE}/intensity", "3")
    finally:
        host.close()
