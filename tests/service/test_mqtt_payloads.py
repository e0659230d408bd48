"""What `chair serve --mqtt` publishes from a snapshot and how it reads a command (the pure
parts of the bridge, without a broker)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chair.service.api import ErrorCode, ServiceError
from chair.service.mqtt_discovery import Topics, command_fields, discovery_configs
from chair.service.mqtt_state import STATE_CHARS, message_payload, parse_command, state_payloads
from tests.service.fake_host import FakeHost


def snapshot(**changes) -> dict:
    host = FakeHost.__new__(FakeHost)
    host._state, host._reason, host._session, host._faults = "idle", "", None, []
    host._elapsed, host._seconds = 0.0, 60.0
    base = FakeHost._snapshot(host)
    base.update(changes)
    return base


def test_an_idle_chair() -> None:
    assert state_payloads(snapshot()) == {"state": "idle", "step": "none", "time_left": "0",
                                          "fault": "none", "running": "OFF"}


def test_a_running_session() -> None:
    session = {"active": True, "left_s": 179.2,
               "step": {"number": 3, "of": 7, "name": "knead the lumbar", "zone": "lumbar"}}
    payloads = state_payloads(snapshot(state="running", session=session))
    assert payloads == {"state": "running", "step": "3/7 knead the lumbar",
                        "time_left": "180", "fault": "none", "running": "ON"}
    paused = state_payloads(snapshot(state="paused", session=session))
    assert paused["running"] == "OFF" and paused["step"] == "3/7 knead the lumbar"


def test_an_ended_session_shows_no_step_and_no_time_left() -> None:
    session = {"active": False, "left_s": 40.0, "outcome": "stopped",
               "step": {"number": 3, "of": 7, "name": "x", "zone": "lumbar"}}
    payloads = state_payloads(snapshot(state="idle", session=session))
    assert (payloads["step"], payloads["time_left"]) == ("none", "0")


def test_faults_and_their_reason() -> None:
    faults = [{"code": "F05", "name": "overpressure", "text": "t", "what_to_do": "vent it"},
              {"code": "F07", "name": "stall", "text": "the roller stalled",
               "what_to_do": ""}]
    assert state_payloads(snapshot(state="fault", faults=faults))["fault"] == \
        "F05 overpressure: vent it; F07 stall: the roller stalled"
    assert state_payloads(snapshot(state="fault", reason="link lost"))["fault"] == "link lost"
    long = [{"code": "F01", "name": "x", "what_to_do": "y" * 400}]
    assert len(state_payloads(snapshot(state="fault", faults=long))["fault"]) == STATE_CHARS


def test_a_message_says_what_came_of_a_command() -> None:
    error = ServiceError(ErrorCode.NOT_ACKNOWLEDGED, "no")
    assert json.loads(message_payload("start", seq=4, message="no", error=error)) == {
        "command": "start", "ok": False, "code": 1002, "error": "NOT_ACKNOWLEDGED",
        "message": "no", "seq": 4}
    assert json.loads(message_payload("stop", seq=5, message="stopped"))["ok"] is True


@pytest.mark.parametrize(("name", "payload", "value"), [
    ("start", b"PRESS", None), ("estop", b"anything", None),
    ("program", b"lumbar", "lumbar"), ("program", b' {"value": "legs"} ', "legs"),
    ("intensity", b"3", 3), ("intensity", b"5.0", 5), ("intensity", b'{"value": 1}', 1),
])
def test_commands_without_a_token(name: str, payload: bytes, value) -> None:
    assert parse_command(name, payload, None) == value


@pytest.mark.parametrize(("name", "payload"), [
    ("intensity", b"0"), ("intensity", b"6"), ("intensity", b"2.5"), ("intensity", b"nan"),
    ("intensity", b"three"), ("intensity", b'{"value": true}'), ("program", b'{"value": 3}'),
    ("program", b"{"), ("start", b"\xff\xfe"), ("start", b'{"a": [}'),
])
def test_bad_payloads_are_invalid(name: str, payload: bytes) -> None:
    with pytest.raises(ServiceError) as caught:
        parse_command(name, payload, None)
    assert caught.value.code == ErrorCode.INVALID


@pytest.mark.parametrize("payload", [b"PRESS", b"s3cret", b'{"token": "s3cre"}',
                                     b'{"token": 1}', b'{"value": 3}', b'"s3cret"'])
def test_a_missing_or_wrong_token_is_unauthorized(payload: bytes) -> None:
    with pytest.raises(ServiceError) as caught:
        parse_command("intensity", payload, "s3cret")
    assert caught.value.code in (ErrorCode.UNAUTHORIZED, ErrorCode.INVALID)
    assert "s3cret" not in caught.value.message


def test_the_right_token_is_accepted() -> None:
    assert parse_command("intensity", b'{"token": "s3cret", "value": 4}', "s3cret") == 4
    assert parse_command("stop", b'{"token": "s3cret"}', "s3cret") is None


@pytest.mark.parametrize("token", ["plain", "a{{ 7*7 }}b", '{% raw %}"\\', "100%}", "ü"])
def test_what_home_assistant_sends_carries_the_token_literally(token: str) -> None:
    """The token inside a command template can never be read as Jinja."""
    template = command_fields(token, button=False)["command_template"]
    assert template.count("{{") == 1 and template.count("}}") == 1 and "{%" not in template
    rendered = template.replace("{{ value | to_json }}", json.dumps(3))
    assert parse_command("intensity", rendered.encode(), token) == 3
    press = command_fields(token, button=True)["payload_press"]
    assert parse_command("reset", press.encode(), token) is None
    assert command_fields(None, button=True) == {}


def test_without_a_token_buttons_press_plainly() -> None:
    configs = discovery_configs(Topics(), programs=["lumbar"], chair={}, server={})
    for topic, config in configs.items():
        assert "command_template" not in config, topic
        if "/button/" in topic:
            assert config["payload_press"] == "PRESS"


def test_the_documented_discovery_config_is_the_one_published() -> None:
    """docs/homeassistant.md's example (the emergency stop) as the bridge makes it."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "homeassistant.md").read_text()
    block = doc.split("```json\n", 1)[1]
    example, _ = json.JSONDecoder().raw_decode(block)
    configs = discovery_configs(Topics(), programs=["lumbar"],
                                chair={"firmware": "chair-fw-0.2.0"},
                                server={"version": "0.1.0", "simulated": True})
    assert configs["homeassistant/button/chair/estop/config"] == example
