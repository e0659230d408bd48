"""docs/homeassistant.md's broker ACLs, on a real Mosquitto: `chair serve` logs in as
`chair` ($CHAIR_MQTT_USERNAME, $CHAIR_MQTT_PASSWORD), Home Assistant as `homeassistant`
reads the discovery configs and the states and sends commands; another client of the
broker neither reads the configs (and so the token) nor sends a command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from chair.service.mqtt_discovery import mqtt_token
from tests.service.broker import Broker, Watcher, mosquitto_or_skip
from tests.service.fake_host import FakeHost
from tests.service.mqtt_run import BASE, answer, running_bridge

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "homeassistant.md"
PASSWORDS = {"chair": "chair-pw", "homeassistant": "ha-pw", "intruder": "in-pw"}
TOKEN = "t0ken"


def documented_acl() -> str:
    """The ACL file docs/homeassistant.md gives, as written there."""
    blocks, block = [], None
    for line in DOC.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("```") and block is not None:
            blocks.append("".join(block))
            block = None
        elif line.startswith("```"):
            block = []
        elif block is not None:
            block.append(line)
    [acl] = [text for text in blocks if text.startswith("# /etc/mosquitto/chair.acl")]
    return acl


@pytest.fixture
def secured(tmp_path: Path):
    executable = mosquitto_or_skip()
    passwd = tmp_path / "passwd"
    passwd.write_text("")
    for user, password in PASSWORDS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True,
                       capture_output=True)
    (tmp_path / "chair.acl").write_text(documented_acl())
    broker = Broker(executable, tmp_path, settings=(
        f"allow_anonymous false\npassword_file {passwd}\nacl_file {tmp_path / 'chair.acl'}\n"))
    broker.start()
    yield broker
    broker.stop()


def test_the_documented_acls_keep_other_clients_out(secured: Broker, monkeypatch) -> None:
    monkeypatch.setenv("CHAIR_MQTT_USERNAME", "chair")
    monkeypatch.setenv("CHAIR_MQTT_PASSWORD", PASSWORDS["chair"])
    host = FakeHost(seconds=600.0)
    host.acknowledged.add("lumbar")
    ha = Watcher(secured, "homeassistant/#", "chair/#", username="homeassistant",
                 password=PASSWORDS["homeassistant"])
    intruder = Watcher(secured, "#", username="intruder", password=PASSWORDS["intruder"])
    try:
        with running_bridge(host, secured, token=TOKEN):
            ha.wait_for(f"{BASE}/availability", "online")
            ha.wait(lambda: ha.last("homeassistant/button/chair/start/config"), "the configs")
            config = ha.last("homeassistant/button/chair/start/config")
            assert mqtt_token(TOKEN) in config and TOKEN not in config

            intruder.publish(f"{BASE}/command/start", f'{{"token": "{mqtt_token(TOKEN)}"}}')
            ha.publish(f"{BASE}/command/stop", "PRESS")  # no token: refused, and answered
            assert answer(ha, "stop")["error"] == "UNAUTHORIZED"
            assert host.calls == []  # the intruder's start never reached the bridge

            ha.publish(f"{BASE}/command/start", f'{{"token": "{mqtt_token(TOKEN)}"}}')
            ha.wait_for(f"{BASE}/state", "running")
        assert [name for name, _ in host.calls] == ["start"]
        assert intruder.messages == []  # read nothing: no config, no token, no state
    finally:
        ha.close()
        intruder.close()
        host.close()


def test_without_the_login_the_bridge_keeps_trying(secured: Broker, monkeypatch) -> None:
    monkeypatch.delenv("CHAIR_MQTT_USERNAME", raising=False)
    monkeypatch.delenv("CHAIR_MQTT_PASSWORD", raising=False)
    host = FakeHost()
    ha = Watcher(secured, "chair/#", username="homeassistant",
                 password=PASSWORDS["homeassistant"])
    try:
        with running_bridge(host, secured) as bridge:
            ha.wait(lambda: "Connection Refused" in secured.log.read_text() or
                    "not authorised" in secured.log.read_text().lower(), "a refused login")
            assert bridge.connects == 0 and not bridge.online
        with running_bridge(host, secured, username="chair",
                            password=PASSWORDS["chair"]) as bridge:
            ha.wait_for(f"{BASE}/availability", "online")
            ha.wait(lambda: bridge.connects == 1, "the bridge to count its connection")
    finally:
        ha.close()
        host.close()
