"""Home Assistant MQTT discovery for `chair serve --mqtt`: the topics and their configs.

Every topic of one chair sits under ``chair/<node_id>/`` (docs/homeassistant.md has the
table); each entity's discovery config is a retained JSON object on
``<prefix>/<component>/<node_id>/<object>/config``, following Home Assistant's documented
MQTT discovery schema (one shared ``device`` block, a ``unique_id`` each, availability on
``chair/<node_id>/availability``). With a token, every command entity carries it (buttons
in ``payload_press``, the select and the number in ``command_template``) the MQTT token
derived from it (`mqtt_token`): a retained config is readable by every client of the
broker, so the broker's ACLs must protect these topics.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, fields
from typing import Any

from chair.errors import UsageError
from chair.service.api import StartRequest

#: The intensities `session.start` takes (chair.caps.make_caps checks the same 1..5).
INTENSITY_MIN, INTENSITY_MAX = 1, 5
#: What the number shows before anybody sets it: `StartRequest`'s own default (3).
INTENSITY_DEFAULT: int = next(f.default for f in fields(StartRequest) if f.name == "intensity")

#: The buttons: object id -> (name in Home Assistant, icon).
BUTTONS: dict[str, tuple[str, str]] = {
    "start": ("Start", "mdi:play"),
    "stop": ("Stop", "mdi:stop"),
    "estop": ("Emergency stop", "mdi:alert-octagon"),
    "reset": ("Reset", "mdi:restore"),
}

_NODE_ID = re.compile(r"[A-Za-z0-9_-]+")  # what Home Assistant accepts as a discovery node id


@dataclass(frozen=True)
class Topics:
    """The MQTT topics of one chair; `node_id` names it, `prefix` is Home Assistant's."""

    node_id: str = "chair"
    prefix: str = "homeassistant"

    def __post_init__(self) -> None:
        if not _NODE_ID.fullmatch(self.node_id):
            raise UsageError(f"MQTT node id {self.node_id!r}: use letters, digits, _ and -")
        if not self.prefix or any(c in self.prefix for c in "#+\0") or \
                self.prefix.startswith("/") or self.prefix.endswith("/"):
            raise UsageError(f"MQTT discovery prefix {self.prefix!r}: a topic without "
                             "wildcards or a leading or trailing '/', e.g. homeassistant")

    @property
    def base(self) -> str:
        return f"chair/{self.node_id}"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    def state(self, name: str) -> str:
        """A state topic: state, step, time_left, fault, running, message, program,
        intensity."""
        return f"{self.base}/{name}"

    def command(self, name: str) -> str:
        """A command topic: start, stop, estop, reset (buttons), program, intensity."""
        return f"{self.base}/{name}/set" if name in ("program", "intensity") \
            else f"{self.base}/command/{name}"

    def commands(self) -> list[str]:
        """What the bridge subscribes to (wildcards allowed)."""
        return [f"{self.base}/command/+", self.command("program"), self.command("intensity")]

    def command_name(self, topic: str) -> str | None:
        """The command a topic carries, or None when it is none of ours."""
        for name in (*BUTTONS, "program", "intensity"):
            if topic == self.command(name):
                return name
        return None

    def discovery(self, component: str, object_id: str) -> str:
        return f"{self.prefix}/{component}/{self.node_id}/{object_id}/config"


def device_block(topics: Topics, chair: dict[str, Any], server: dict[str, Any]) -> dict:
    """The ``device`` every entity shares (Home Assistant groups them under it).

    `chair` is `Host.chair_info()`, `server` is `Host.server_info()`; a key either lacks is
    left out or given a plain default (the chair's description may not name a maker)."""
    name = "Massage chair" if topics.node_id == "chair" else f"Massage chair {topics.node_id}"
    model = chair.get("model") or chair.get("name") or (
        "simulated chair" if server.get("simulated") else "massage chair")
    device: dict[str, Any] = {
        "identifiers": [f"massage_chair_{topics.node_id}"],
        "name": name,
        "manufacturer": chair.get("manufacturer") or "massage-chair (open source)",
        "model": str(model),
        "sw_version": str(server.get("version", "")),
    }
    if chair.get("firmware"):
        device["hw_version"] = str(chair["firmware"])
    return device


def mqtt_token(token: str) -> str:
    """The MQTT command token derived from `chair serve`'s token T: the first 32 hex digits
    of HMAC-SHA256(T, "mqtt"). The discovery configs carry it (readable by every client the
    broker lets read ``homeassistant/#``), so reading them never gives T, which also opens
    the web page and the API; T itself is refused over MQTT."""
    return hmac.new(token.encode(), b"mqtt", hashlib.sha256).hexdigest()[:32]


def command_fields(token: str | None, *, button: bool) -> dict[str, str]:
    """What makes Home Assistant send the token with each command (nothing without one).

    A button sends ``{"token": T}``; the select and the number send
    ``{"token": T, "value": V}`` through a command template. The token's characters that
    Jinja would read (``{ } %``) are written as JSON escapes, so any token stays literal."""
    if token is None:
        return {}
    literal = json.dumps(token)
    for char in "{}%":
        literal = literal.replace(char, f"\\u{ord(char):04x}")
    if button:
        return {"payload_press": f'{{"token": {literal}}}'}
    return {"command_template": f'{{"token": {literal}, "value": {{{{ value | to_json }}}}}}'}


def discovery_configs(topics: Topics, *, programs: list[str], chair: dict[str, Any],
                      server: dict[str, Any], token: str | None = None) -> dict[str, dict]:
    """Every discovery topic and its config (to publish retained, as JSON)."""
    device = device_block(topics, chair, server)
    origin = {"name": "massage-chair", "sw_version": str(server.get("version", ""))}

    def entity(component: str, object_id: str, name: str, **config: Any) -> tuple[str, dict]:
        return topics.discovery(component, object_id), {
            "name": name,
            "unique_id": f"massage_chair_{topics.node_id}_{object_id}",
            "availability_topic": topics.availability,
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": device,
            "origin": origin,
            **config,
        }

    entries = [
        entity("select", "program", "Program", icon="mdi:seat-recline-extra",
               command_topic=topics.command("program"), state_topic=topics.state("program"),
               options=list(programs), **command_fields(token, button=False)),
        entity("number", "intensity", "Intensity", icon="mdi:gauge",
               command_topic=topics.command("intensity"),
               state_topic=topics.state("intensity"), min=INTENSITY_MIN, max=INTENSITY_MAX,
               step=1, mode="slider", **command_fields(token, button=False)),
        *(entity("button", object_id, name, icon=icon, command_topic=topics.command(object_id),
                 **({"payload_press": "PRESS"} | command_fields(token, button=True)))
          for object_id, (name, icon) in BUTTONS.items()),
        entity("sensor", "state", "State", icon="mdi:state-machine",
               state_topic=topics.state("state")),
        entity("sensor", "step", "Step", icon="mdi:format-list-numbered",
               state_topic=topics.state("step")),
        entity("sensor", "time_left", "Time left", state_topic=topics.state("time_left"),
               device_class="duration", unit_of_measurement="s"),
        entity("sensor", "fault", "Fault", icon="mdi:alert", state_topic=topics.state("fault")),
        entity("sensor", "message", "Message", icon="mdi:message-text",
               state_topic=topics.state("message"), value_template="{{ value_json.message }}",
               json_attributes_topic=topics.state("message"), entity_category="diagnostic"),
        entity("binary_sensor", "running", "Running", device_class="running",
               state_topic=topics.state("running"), payload_on="ON", payload_off="OFF"),
    ]
    return dict(entries)
