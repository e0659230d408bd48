"""Commands over MQTT take the same `Host` calls as the web and the API, with by="mqtt"
(issue 13, item 4): start (never acknowledging cautions), stop, an emergency stop that is
never queued behind another command, reset; every refusal published on the message topic;
a retained command never carried out; the token enforced on every command."""

from __future__ import annotations

import json
import threading

import pytest

from chair.service.api import ErrorCode, StartRequest
from chair.service.mqtt_discovery import mqtt_token
from tests.service.broker import WAIT_S, Broker, Watcher, broker
from tests.service.fake_host import FakeHost
from tests.service.mqtt_run import BASE, answer, last_seq, running_bridge

__all__ = ["broker"]

COMMAND = f"{BASE}/command"


@pytest.fixture
def host():
    fake = FakeHost(seconds=600.0)
    yield fake
    fake.close()


@pytest.fixture
def watcher(broker: Broker):
    client = Watcher(broker, "chair/#")
    yield client
    client.close()


def starts(host: FakeHost) -> list[StartRequest]:
    return [request for name, request in host.calls if name == "start"]


def test_start_refused_until_the_cautions_were_acknowledged_elsewhere(
        broker: Broker, host: FakeHost, watcher: Watcher) -> None:
    with running_bridge(host, broker):
        watcher.wait_for(f"{BASE}/availability", "online")
        watcher.publish(f"{COMMAND}/start", "PRESS")
        refused = answer(watcher, "start")
        assert not refused["ok"]
        assert (refused["code"], refused["error"]) == (1002, "NOT_ACKNOWLEDGED")
        assert "lumbar" in refused["message"] and "web page" in refused["message"]
        [request] = starts(host)
        assert (request.by, request.acknowledged) == ("mqtt", False)
        assert host.status()["state"] == "idle"

        host.acknowledged.add("lumbar")  # as a start on the web page with acknowledged=True
        seq = last_seq(watcher)
        watcher.publish(f"{COMMAND}/start", "PRESS")
        started = answer(watcher, "start", seq)
        assert started["ok"] and "lumbar" in started["message"], started
        watcher.wait_for(f"{BASE}/state", "running")
        watcher.wait_for(f"{BASE}/running", "ON")


def test_start_stop_estop_reset_reach_the_host_by_mqtt(
        broker: Broker, host: FakeHost, watcher: Watcher) -> None:
    host.acknowledged.add("lumbar")
    with running_bridge(host, broker):
        watcher.wait_for(f"{BASE}/availability", "online")
        watcher.publish(f"{BASE}/intensity/set", "4")
        watcher.wait_for(f"{BASE}/intensity", "4")
        watcher.publish(f"{BASE}/program/set", "lumbar")
        assert answer(watcher, "program")["ok"]

        watcher.publish(f"{COMMAND}/start", "PRESS")
        watcher.wait_for(f"{BASE}/state", "running")
        [request] = starts(host)
        assert request == StartRequest(program="lumbar", intensity=4, by="mqtt")

        seq = last_seq(watcher)
        watcher.publish(f"{COMMAND}/stop", "PRESS")
        watcher.wait_for(f"{BASE}/state", "idle")
        assert answer(watcher, "stop", seq)["ok"]
        watcher.wait_for(f"{BASE}/running", "OFF")

        watcher.publish(f"{COMMAND}/estop", "PRESS")
        watcher.wait_for(f"{BASE}/state", "estop")
        watcher.wait_for(f"{BASE}/fault", lambda text: text.startswith("F01 estop"))

        seq = last_seq(watcher)
        watcher.publish(f"{COMMAND}/start", "PRESS")  # latched: the host refuses
        refused = answer(watcher, "start", seq)
        assert refused["error"] == "LATCHED", refused

        watcher.publish(f"{COMMAND}/reset", "PRESS")
        watcher.wait_for(f"{BASE}/state", "idle")
        watcher.wait_for(f"{BASE}/fault", "none")
    assert [call for call in host.calls if call[0] != "start"] == \
        [("stop", "mqtt"), ("estop", "mqtt"), ("reset", "mqtt")]
    assert [request.by for request in starts(host)] == ["mqtt", "mqtt"]


def test_every_refusal_is_published(broker: Broker, host: FakeHost, watcher: Watcher) -> None:
    host.acknowledged.add("lumbar")
    with running_bridge(host, broker):
        watcher.wait_for(f"{BASE}/availability", "online")
        cases = [(f"{COMMAND}/stop", "PRESS", "stop", "REFUSED"),        # nothing to stop
                 (f"{COMMAND}/reset", "PRESS", "reset", "REFUSED"),      # nothing latched
                 (f"{BASE}/intensity/set", "9", "intensity", "INVALID"),
                 (f"{BASE}/intensity/set", "2.5", "intensity", "INVALID"),
                 (f"{BASE}/program/set", "nosuch", "program", "NOT_FOUND"),
                 (f"{BASE}/program/set", "{not json", "program", "INVALID")]
        for topic, payload, command, error in cases:
            seq = last_seq(watcher)
            watcher.publish(topic, payload)
            got = answer(watcher, command, seq)
            assert (got["ok"], got["error"]) == (False, error), (topic, payload, got)
            assert got["code"] == ErrorCode[error]
        watcher.wait_for(f"{BASE}/intensity", "3")  # unchanged by the refused values
        seq = last_seq(watcher)
        watcher.publish(f"{COMMAND}/start", "PRESS")
        assert answer(watcher, "start", seq)["ok"]
        seq = last_seq(watcher)
        watcher.publish(f"{COMMAND}/start", "PRESS")
        assert answer(watcher, "start", seq)["error"] == "BUSY"
    assert len(starts(host)) == 2


class SlowStop(FakeHost):
    """A host whose stop blocks until released (a command the estop must not wait for)."""

    def __init__(self) -> None:
        super().__init__(seconds=600.0)
        self.stopping = threading.Event()
        self.release = threading.Event()

    def stop(self, by: str = "api") -> dict:
        self.stopping.set()
        self.release.wait(WAIT_S)
        return super().stop(by)


def test_the_emergency_stop_is_never_queued_behind_another_command(
        broker: Broker, watcher: Watcher) -> None:
    host = SlowStop()
    host.acknowledged.add("lumbar")
    try:
        # one thread for every blocking call of the loop (chair serve shares it with the
        # web layer): the stop holds it, and the estop must not wait for it
        with running_bridge(host, broker, threads=1):
            watcher.wait_for(f"{BASE}/availability", "online")
            watcher.publish(f"{COMMAND}/start", "PRESS")
            watcher.wait_for(f"{BASE}/state", "running")
            watcher.publish(f"{COMMAND}/stop", "PRESS")
            assert host.stopping.wait(WAIT_S)
            watcher.publish(f"{BASE}/intensity/set", "2")  # queued behind the stop
            watcher.publish(f"{COMMAND}/estop", "PRESS")
            watcher.wait_for(f"{BASE}/state", "estop")  # while the stop still blocks
            assert ("estop", "mqtt") in host.calls and ("stop", "mqtt") not in host.calls
            assert watcher.last(f"{BASE}/intensity") == "3"
            host.release.set()
            watcher.wait_for(f"{BASE}/intensity", "2")  # the queue goes on, in order
    finally:
        host.release.set()
        host.close()


def test_a_retained_command_is_never_carried_out(broker: Broker, host: FakeHost,
                                                 watcher: Watcher) -> None:
    """A start left retained on the broker would replay at every reconnect: refused."""
    host.acknowledged.add("lumbar")
    watcher.publish(f"{COMMAND}/start", "PRESS", retain=True)
    with running_bridge(host, broker):
        refused = answer(watcher, "start")
        assert (refused["ok"], refused["error"]) == (False, "REFUSED")
        assert "retain" in refused["message"]
        watcher.wait_for(f"{COMMAND}/start", "")  # cleared on the broker
        watcher.wait_for(f"{BASE}/state", "idle")
    assert starts(host) == []
    assert host.status()["state"] == "idle"


def render(template: str, value: object) -> str:
    """What Home Assistant sends for a command template (`{{ value | to_json }}` only)."""
    assert template.count("{{") == 1 and template.count("}}") == 1, template
    return template.replace("{{ value | to_json }}", json.dumps(value))


TOKEN = "s3cret-{{x}}%"  # with the characters a Jinja template would read


def test_the_token_is_required_on_every_command(broker: Broker, host: FakeHost,
                                                watcher: Watcher) -> None:
    host.acknowledged.add("lumbar")
    with running_bridge(host, broker, token=TOKEN):
        watcher.wait_for(f"{BASE}/availability", "online")
        configs = {}
        for component, object_id in [("button", "start"), ("button", "stop"),
                                     ("button", "estop"), ("button", "reset"),
                                     ("number", "intensity"), ("select", "program")]:
            topic = f"homeassistant/{component}/chair/{object_id}/config"
            watcher.client.subscribe(topic, 1)
            configs[object_id] = json.loads(watcher.wait(lambda t=topic: watcher.last(t),
                                                         topic))
        # the retained configs, readable by any client allowed on homeassistant/#, carry
        # the MQTT token derived from T, never T, which also opens the web API
        assert all(TOKEN not in json.dumps(config) for config in configs.values())
        derived = mqtt_token(TOKEN)
        assert derived != TOKEN and len(derived) == 32
        for name in ("start", "stop", "estop", "reset"):
            assert json.loads(configs[name]["payload_press"])["token"] == derived
        for name, value in (("intensity", 2), ("program", "lumbar")):
            sent = json.loads(render(configs[name]["command_template"], value))
            assert sent == {"token": derived, "value": value}
        # T itself (the web token) is refused over MQTT
        refused_payloads = ["PRESS", "", json.dumps({"token": "wrong"}), json.dumps({}),
                            json.dumps({"token": TOKEN[:-1]}), json.dumps(["x"]),
                            json.dumps({"token": TOKEN})]
        for name in ("start", "stop", "estop", "reset"):
            for payload in refused_payloads:
                if not payload:
                    continue  # an empty payload is no command at all (ignored)
                seq = last_seq(watcher)
                watcher.publish(f"{COMMAND}/{name}", payload)
                got = answer(watcher, name, seq)
                assert got["error"] in ("UNAUTHORIZED", "INVALID"), (name, payload, got)
                assert TOKEN not in json.dumps(got) and derived not in json.dumps(got)
        seq = last_seq(watcher)
        watcher.publish(f"{BASE}/intensity/set", "2")
        assert answer(watcher, "intensity", seq)["error"] == "UNAUTHORIZED"
        assert host.calls == [] and host.status()["state"] == "idle"

        # what Home Assistant sends, from the discovery configs, is accepted
        intensity = render(configs["intensity"]["command_template"], 2)
        watcher.publish(f"{BASE}/intensity/set", intensity)
        watcher.wait_for(f"{BASE}/intensity", "2")
        seq = last_seq(watcher)
        watcher.publish(f"{BASE}/program/set", render(configs["program"]["command_template"],
                                                      "lumbar"))
        assert answer(watcher, "program", seq)["ok"]
        watcher.publish(f"{COMMAND}/start", configs["start"]["payload_press"])
        watcher.wait_for(f"{BASE}/state", "running")
        watcher.publish(f"{COMMAND}/estop", configs["estop"]["payload_press"])
        watcher.wait_for(f"{BASE}/state", "estop")
        watcher.publish(f"{COMMAND}/reset", configs["reset"]["payload_press"])
        watcher.wait_for(f"{BASE}/state", "idle")
        watcher.publish(f"{COMMAND}/start", json.dumps({"token": derived}))  # by hand
        watcher.wait_for(f"{BASE}/state", "running")
    assert [name for name, _ in host.calls] == ["start", "estop", "reset", "start"]
    assert starts(host)[0].intensity == 2
