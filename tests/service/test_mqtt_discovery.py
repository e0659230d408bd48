"""Home Assistant discovery and availability of `chair serve --mqtt`, on a real Mosquitto
(issue 13, item 4): every config with the fields Home Assistant's MQTT discovery schema
requires, one device, unique ids, retained; online once connected, offline by the last will
when the connection dies uncleanly, and by the bridge itself on a clean exit."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from chair.errors import UsageError
from chair.service.mqtt import MqttBridge
from tests.service.broker import WAIT_S, Broker, Watcher, broker, mosquitto_or_skip
from tests.service.fake_host import FakeHost
from tests.service.mqtt_run import BASE, running_bridge

__all__ = ["broker"]  # the fixture, imported for pytest

ROOT = Path(__file__).resolve().parents[2]
AVAILABILITY = f"{BASE}/availability"

#: Every entity: component -> object ids (issue 13 item 4, plus the message sensor).
EXPECTED = {
    "select": {"program"},
    "number": {"intensity"},
    "button": {"start", "stop", "estop", "reset"},
    "sensor": {"state", "step", "time_left", "fault", "message"},
    "binary_sensor": {"running"},
}
#: What Home Assistant requires or this bridge promises, per component.
REQUIRED = {
    "select": {"command_topic", "state_topic", "options"},
    "number": {"command_topic", "state_topic", "min", "max", "step"},
    "button": {"command_topic", "payload_press"},
    "sensor": {"state_topic"},
    "binary_sensor": {"state_topic", "payload_on", "payload_off"},
}
COMMON = {"name", "unique_id", "device", "availability_topic", "payload_available",
          "payload_not_available", "origin"}


@pytest.fixture
def host():
    fake = FakeHost()
    yield fake
    fake.close()


def configs(watcher: Watcher) -> dict[str, dict]:
    found = {}
    for seen in watcher.messages:
        if seen.topic.startswith("homeassistant/") and seen.payload:
            found[seen.topic] = json.loads(seen.payload)
    return found


def test_every_discovery_config_follows_home_assistants_schema(broker: Broker, host) -> None:
    expected_topics = {f"homeassistant/{component}/chair/{object_id}/config"
                       for component, ids in EXPECTED.items() for object_id in ids}
    with running_bridge(host, broker):
        early = Watcher(broker, "#")
        early.wait_for(AVAILABILITY, "online")
        early.close()
        # a client that comes later gets all of it from the broker: everything is retained
        late = Watcher(broker, "homeassistant/#", "chair/#")
        late.wait(lambda: set(configs(late)) >= expected_topics, "every discovery config")
        shown = {config["state_topic"] for config in configs(late).values()
                 if "state_topic" in config}
        late.wait(lambda: shown <= {seen.topic for seen in late.messages},
                  "every state topic an entity shows")
        found = configs(late)
        late.close()
        # all published now: a client that subscribes from here gets each one retained
        check = Watcher(broker, "homeassistant/#", "chair/#")
        check.wait(lambda: expected_topics | shown <= {seen.topic for seen in check.messages},
                   "everything again")
        retained = {seen.topic for seen in check.messages if seen.retain}
        check.close()

    assert set(found) == expected_topics
    assert expected_topics <= retained
    unique_ids = [config["unique_id"] for config in found.values()]
    assert len(set(unique_ids)) == len(unique_ids)
    devices = [config["device"] for config in found.values()]
    assert all(device == devices[0] for device in devices)
    device = devices[0]
    assert device["identifiers"] == ["massage_chair_chair"]
    assert device["name"] == "Massage chair"
    assert device["manufacturer"] and device["model"]
    assert device["sw_version"] == "test"  # FakeHost.server_info()["version"]
    command_topics, state_topics = set(), set()
    for topic, config in found.items():
        component = topic.split("/")[1]
        assert COMMON | REQUIRED[component] <= set(config), topic
        assert config["availability_topic"] == AVAILABILITY
        assert (config["payload_available"], config["payload_not_available"]) == \
            ("online", "offline")
        assert config["unique_id"].startswith("massage_chair_chair_")
        command_topics.add(config.get("command_topic"))
        if "state_topic" in config:
            state_topics.add(config["state_topic"])
            # every state an entity shows has been published, retained
            assert config["state_topic"] in retained, config["state_topic"]
    assert not (command_topics - {None}) & state_topics
    program = found["homeassistant/select/chair/program/config"]
    assert program["options"] == ["lumbar"]  # FakeHost.programs()
    intensity = found["homeassistant/number/chair/intensity/config"]
    assert (intensity["min"], intensity["max"], intensity["step"]) == (1, 5, 1)
    time_left = found["homeassistant/sensor/chair/time_left/config"]
    assert (time_left["device_class"], time_left["unit_of_measurement"]) == ("duration", "s")
    running = found["homeassistant/binary_sensor/chair/running/config"]
    assert running["device_class"] == "running"
    estop = found["homeassistant/button/chair/estop/config"]
    assert estop["name"] == "Emergency stop"
    assert estop["command_topic"] == f"{BASE}/command/estop"


def test_availability_online_then_offline_on_a_clean_exit(broker: Broker, host) -> None:
    watcher = Watcher(broker, AVAILABILITY)
    with running_bridge(host, broker) as bridge:
        watcher.wait_for(AVAILABILITY, "online")
        assert bridge.online and bridge.connects == 1
    watcher.wait_for(AVAILABILITY, "offline")
    watcher.close()


def test_the_last_will_says_offline_when_the_bridge_dies(broker: Broker) -> None:
    """A bridge killed with SIGKILL sends nothing: the broker publishes its last will."""
    code = ("import asyncio, sys\n"
            "from chair.service.mqtt import MqttBridge\n"
            "from tests.service.fake_host import FakeHost\n"
            "asyncio.run(MqttBridge(FakeHost(), sys.argv[1]).run())\n")
    watcher = Watcher(broker, AVAILABILITY)
    process = subprocess.Popen([sys.executable, "-c", code, broker.address], cwd=ROOT)
    try:
        watcher.wait_for(AVAILABILITY, "online", timeout=30)
        process.send_signal(signal.SIGKILL)
        process.wait(WAIT_S)
        watcher.wait_for(AVAILABILITY, "offline")
    finally:
        process.kill()
        process.wait(WAIT_S)
        watcher.close()
    # retained: a client that comes now learns it too
    late = Watcher(broker, AVAILABILITY)
    assert late.wait_for(AVAILABILITY, "offline")
    late.close()


def test_an_ipv6_broker(tmp_path: Path, host) -> None:
    ipv6 = Broker(mosquitto_or_skip(), tmp_path, host="::1")
    ipv6.start()
    try:
        watcher = Watcher(ipv6, AVAILABILITY)
        with running_bridge(host, ipv6):
            watcher.wait_for(AVAILABILITY, "online")
        watcher.close()
    finally:
        ipv6.stop()


@pytest.mark.parametrize("address", ["", "localhost", "1883", "127.0.0.1:", "127.0.0.1:x",
                                     "127.0.0.1:70000", "::1:1883", "127.0.0.1:0"])
def test_a_bad_broker_address_is_a_usage_error_naming_the_option(address: str) -> None:
    with pytest.raises(UsageError, match="--mqtt"):
        MqttBridge(FakeHost.__new__(FakeHost), address)


@pytest.mark.parametrize("options", [{"node_id": "my chair"}, {"node_id": "a/b"},
                                     {"node_id": "#"}, {"prefix": "home/#"},
                                     {"prefix": ""}, {"prefix": "/ha"}])
def test_a_bad_node_id_or_prefix_is_a_usage_error(options: dict) -> None:
    with pytest.raises(UsageError):
        MqttBridge(FakeHost.__new__(FakeHost), "127.0.0.1:1883", **options)


def test_the_node_id_and_prefix_name_every_topic(broker: Broker, host) -> None:
    watcher = Watcher(broker, "#")
    with running_bridge(host, broker, node_id="den", prefix="ha"):
        watcher.wait_for("chair/den/availability", "online")
        watcher.wait(lambda: watcher.last("ha/button/den/estop/config"), "the estop config")
    config = json.loads(watcher.last("ha/button/den/estop/config"))
    assert config["command_topic"] == "chair/den/command/estop"
    assert config["device"]["name"] == "Massage chair den"
    assert not [seen.topic for seen in watcher.messages
                if seen.topic.startswith(("homeassistant/", "chair/chair/"))]
    watcher.close()


def test_without_mosquitto_the_tests_skip_except_in_ci(monkeypatch, tmp_path: Path) -> None:
    from tests.service import broker as fixture

    monkeypatch.setattr(fixture, "MOSQUITTO", str(tmp_path / "no-mosquitto"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install mosquitto"):
        fixture.mosquitto_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install mosquitto"):
        fixture.mosquitto_or_skip()
