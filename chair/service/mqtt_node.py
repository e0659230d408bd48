"""One `chair serve` per MQTT node (issue 13, safety S2): who holds ``chair/<node>/``.

Two bridges on one node would both act on its commands (a start meant for one chair
started the other) and, with one client id, the broker would kick each off in turn. So
every bridge has a client id of its own (`client_id`), says which one holds the node on
the retained ``chair/<node>/owner`` topic, and before it takes a node (`check_node`, on a
connection of its own without a last will, so that giving up sends nothing) it reads the
node's retained availability: ``online`` held by another client id means another instance
is on it, or one died without its last will reaching the broker. Then it refuses
(`NodeTaken`), and subscribes to none of the node's commands. The same check reads the
retained selection (program, intensity), which a restarted bridge takes back (`selection`).
"""

from __future__ import annotations

import asyncio
import secrets

import aiomqtt

from chair.service.mqtt_discovery import INTENSITY_MAX, INTENSITY_MIN, Topics

CHECK_S = 10.0  # the longest the check waits for the broker's retained messages


class NodeTaken(Exception):
    """Another `chair serve` holds this node: the message names it and what to do."""


def client_id(topics: Topics) -> str:
    """``chair-serve-<node>-<8 hex>``: a new one for each process, kept across reconnects."""
    return f"chair-serve-{topics.node_id}-{secrets.token_hex(4)}"


def owner_topic(topics: Topics) -> str:
    return topics.state("owner")


async def check_node(topics: Topics, me: str, hostname: str, port: int, *,
                     username: str | None, password: str | None) -> dict[str, str]:
    """Raise NodeTaken when the node's retained availability is ``online`` and its owner is
    not `me`; MqttError or OSError when the broker cannot be asked. Else return the
    retained payloads read, by topic: availability, owner, and the selected program and
    intensity (which a restarted bridge takes back).

    A probe published after subscribing comes back after the retained messages (the broker
    sends those first), so the check waits for nothing longer than one round trip."""
    probe = f"{topics.base}/probe/{me}"
    seen: dict[str, str] = {}
    async with aiomqtt.Client(hostname, port, identifier=f"{me}-check", username=username,
                              password=password, clean_session=True, timeout=CHECK_S) as client:
        await client.subscribe([(topics.availability, 1), (owner_topic(topics), 1),
                                (topics.state("program"), 1), (topics.state("intensity"), 1),
                                (probe, 1)])
        await client.publish(probe, "probe", qos=1)
        async with asyncio.timeout(CHECK_S):
            async for message in client.messages:
                topic = message.topic.value
                if topic == probe:
                    break
                payload = message.payload
                seen[topic] = payload.decode(errors="replace") \
                    if isinstance(payload, (bytes, bytearray)) else str(payload or "")
    owner = seen.get(owner_topic(topics), "")
    if seen.get(topics.availability) == "online" and owner != me:
        node = topics.node_id
        raise NodeTaken(
            f"MQTT node {node!r} is already online on {hostname}:{port}"
            f"{f' (held by {owner})' if owner else ''}: another chair serve uses it, so this "
            "one will not take it over and answers no MQTT command (the web page goes on). "
            f"Give each chair a node of its own: chair serve --mqtt-node NAME. If no other "
            f"chair serve is on {node!r} (one died without its last will reaching the "
            f"broker), clear it: mosquitto_pub -r -n -t {topics.availability}")
    return seen


def selection(topics: Topics, seen: dict[str, str], programs: list[str]
              ) -> tuple[str | None, int | None]:
    """The program and intensity a restarted bridge takes back from the retained payloads
    `check_node` read (None for one missing, not among `programs`, or out of range)."""
    program = seen.get(topics.state("program"))
    intensity = seen.get(topics.state("intensity"), "")
    return (program if program in programs else None,
            int(intensity) if intensity.isdigit()
            and INTENSITY_MIN <= int(intensity) <= INTENSITY_MAX else None)
