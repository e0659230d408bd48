"""Home Assistant over MQTT: `MqttBridge` connects one `Host` to a broker (aiomqtt).

While connected it keeps, retained: the discovery configs (mqtt_discovery), availability
``online`` (a last will says ``offline`` if the connection dies, a clean exit says it
too), the state topics (mqtt_state: on each change, time left at most once a second), the
selected program and intensity, and the message that answers the last command. Commands
take the same `Host` calls as the web page and the API, with ``by="mqtt"``: one at a time in
the order they came, except the emergency stop, which is sent at once, never queued behind
another command. A start from MQTT never acknowledges cautions (`StartRequest.acknowledged`
is False): the host allows it only for a program acknowledged on the web or the API within
startcheck.ACK_MAX_AGE.
Every refusal is published on the message topic. A retained command is never executed (a
replay at reconnect must not start anything); it is refused and cleared.

When the broker goes away the bridge reconnects with backoff and publishes everything
again; a session running meanwhile goes on (the person has the device's stop and the
controller's supervisor). Blocking `Host` calls run on threads (asyncio.to_thread); the
snapshots `Host.subscribe` delivers on the chair thread are handed to the event loop, and
only the newest is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiomqtt

from chair.errors import UsageError
from chair.serve import parse_address
from chair.service.api import ErrorCode, Host, ServiceError, StartRequest
from chair.service.mqtt_discovery import (
    INTENSITY_DEFAULT,
    Topics,
    discovery_configs,
    mqtt_token,
)
from chair.service.mqtt_node import NodeTaken, check_node, client_id, owner_topic, selection
from chair.service.mqtt_state import message_payload, parse_command, state_payloads
from chair.service.startcheck import ACK_MAX_AGE

log = logging.getLogger(__name__)

TIME_LEFT_PERIOD_S = 1.0  # time left is published at most this often (state changes: at once)
QUEUE_MAX = 16            # commands waiting for the one before them; more are refused
KEEPALIVE_S = 15          # the broker sends the last will this long after a silent link


def _cancelled() -> None:
    """Raise CancelledError when this task was asked to stop: Python 3.11's wait_for (inside
    aiomqtt's calls) may lose a cancel that comes as its operation completes, but the
    task's `cancelling()` count still says so; every loop here checks it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def parse_broker(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPV6]:PORT`` of the broker; UsageError naming --mqtt otherwise."""
    try:
        host, port = parse_address(text)
    except UsageError as exc:
        raise UsageError(f"--mqtt {exc}") from None
    if port == 0:
        raise UsageError(f"--mqtt {text}: give the broker's port (Mosquitto's is 1883)")
    return host, port


class MqttBridge:
    """Bridges `host` to the MQTT broker at `broker` (``HOST:PORT``) for Home Assistant.

    `token`: when set, every command must carry the MQTT token derived from it
    (`mqtt_discovery.mqtt_token`, docs/homeassistant.md); `node_id` names
    the chair in every topic; `prefix` is Home Assistant's discovery prefix; `username` and
    `password` log in to the broker (by default $CHAIR_MQTT_USERNAME and
    $CHAIR_MQTT_PASSWORD, so that they appear on no command line); `backoff_s` the first and
    the longest wait between two connection attempts. Raises UsageError at once for a bad
    address, node id or prefix. `await run()` until cancelled; it raises NodeTaken
    (saying what to do) when another instance holds the node (chair/service/mqtt_node.py)."""

    def __init__(self, host: Host, broker: str, *, token: str | None = None,
                 node_id: str = "chair", prefix: str = "homeassistant",
                 username: str | None = None, password: str | None = None,
                 backoff_s: tuple[float, float] = (0.5, 10.0)) -> None:
        self.hostname, self.port = parse_broker(broker)
        self._username = username or os.environ.get("CHAIR_MQTT_USERNAME") or None
        self._password = password or os.environ.get("CHAIR_MQTT_PASSWORD") or None
        self.topics = Topics(node_id, prefix)
        self.client_id = client_id(self.topics)  # this process's own (mqtt_node)
        self.refused: NodeTaken | None = None   # set when another instance holds the node
        self._retained: dict[str, str] = {}     # what the node check read (mqtt_node)
        self._restored = False                  # the retained selection was taken back
        # commands carry the token derived from `token`, never `token` itself (which also
        # opens the web API): the discovery configs that hold it are readable on the broker
        self._token = mqtt_token(token) if token is not None else None
        self._host, self._backoff = host, backoff_s
        self.program: str | None = None        # the program a start from MQTT runs
        self.intensity: int = INTENSITY_DEFAULT
        self.connects = 0                      # connections made so far (for logs and tests)
        self.online = False
        self._programs: list[str] = []
        self._client: aiomqtt.Client | None = None
        self._latest: dict[str, Any] | None = None
        self._scheduled = False
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._message: tuple[str, str] | None = None  # (payload, shown) of the last answer
        self._seq = 0
        self._tasks: set[asyncio.Task] = set()
        #: The emergency stop's threads, apart from the loop's default executor, which the
        #: web layer's blocking calls share (issue 13: estop as fast as `!`).
        self._estops = ThreadPoolExecutor(2, thread_name_prefix="mqtt-estop")

    # ------------------------------------------------------------------ lifetime

    async def run(self) -> None:
        """Stay connected (reconnecting with backoff) until cancelled; on cancel, say
        ``offline`` (retained) and disconnect."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(QUEUE_MAX)
        unsubscribe = await asyncio.to_thread(self._host.subscribe, self._on_snapshot)
        worker = asyncio.create_task(self._worker(queue), name="mqtt-commands")
        delay = self._backoff[0]
        try:
            while True:
                connects = self.connects
                try:
                    await self._check_node()
                    await self._connected(queue)
                except* NodeTaken as group:
                    self.refused = group.exceptions[0]
                except* (aiomqtt.MqttError, OSError) as group:
                    log.warning("MQTT broker %s:%d: %s; trying again in %.1f s", self.hostname,
                                self.port, "; ".join(map(str, group.exceptions)), delay)
                except* Exception:  # a bug or a host error: log it, never stop serving
                    log.exception("MQTT bridge: trying again in %.1f s", delay)
                if self.refused is not None:  # chair serve reports it (serve_cmd._report)
                    raise self.refused
                self.online, self._client = False, None
                if self.connects != connects:
                    delay = self._backoff[0]
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])
        finally:
            worker.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.to_thread(unsubscribe)
            self._estops.shutdown(wait=False)

    async def _connected(self, queue: asyncio.Queue[tuple[str, bytes]]) -> None:
        """One connection: publish everything, then serve commands until it drops."""
        will = aiomqtt.Will(self.topics.availability, "offline", qos=1, retain=True)
        async with aiomqtt.Client(self.hostname, self.port, will=will, keepalive=KEEPALIVE_S,
                                  identifier=self.client_id,
                                  username=self._username, password=self._password,
                                  clean_session=True, timeout=10) as client:
            try:
                await client.subscribe([(topic, 1) for topic in self.topics.commands()])
                self._client = client  # an answer to a command still under way goes here
                await self._announce(client)
                _cancelled()
                self.online = True
                self.connects += 1
                log.info("MQTT: online at %s:%d as %s", self.hostname, self.port,
                         self.topics.base)
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._publish_states(client))
                    async for message in client.messages:
                        _cancelled()
                        self._dispatch(message, queue)
                    raise aiomqtt.MqttError("the broker closed the connection")
            except asyncio.CancelledError:
                self.online = False
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2.0):
                        await client.publish(self.topics.availability, "offline", qos=1,
                                             retain=True)
                raise

    async def _check_node(self) -> None:
        """NodeTaken when another instance holds the node (checked at each connection)."""
        try:
            self._retained = await check_node(self.topics, self.client_id, self.hostname,
                                              self.port, username=self._username,
                                              password=self._password)
        except TimeoutError as exc:
            raise aiomqtt.MqttError("the broker did not answer the node check") from exc

    async def _announce(self, client: aiomqtt.Client) -> None:
        """Discovery configs, the echoes and the last answer, then availability online."""
        programs = await asyncio.to_thread(self._host.programs)
        chair = await self._described(self._host.chair_info)
        server = await self._described(self._host.server_info)
        self._programs = [entry["name"] for entry in programs.get("programs", [])]
        if not self._restored:  # the first connection: what was chosen before a restart
            self._restored = True
            program, intensity = selection(self.topics, self._retained, self._programs)
            self.program, self.intensity = program or self.program, intensity or self.intensity
        if self.program not in self._programs:
            self.program = self._programs[0] if self._programs else None
        configs = discovery_configs(self.topics, programs=self._programs, chair=chair,
                                    server=server, token=self._token)
        for topic, config in configs.items():
            await client.publish(topic, _json(config), qos=1, retain=True)
        await self._echo(client)
        if self._message is None:  # nothing asked yet: say so rather than leave it unknown
            self._message = (message_payload("connect", seq=0, message="ready"), "ready")
        await client.publish(self.topics.state("message"), self._message[0], qos=1,
                             retain=True)
        await client.publish(owner_topic(self.topics), self.client_id, qos=1, retain=True)
        await client.publish(self.topics.availability, "online", qos=1, retain=True)

    @staticmethod
    async def _described(query: Any) -> dict[str, Any]:
        """`query()` on a thread, or {} when the host cannot say now (no chair yet): the
        device block then has defaults, which is better than no entities at all."""
        try:
            return await asyncio.to_thread(query)
        except ServiceError as exc:
            log.warning("MQTT: %s", exc.message)
            return {}

    async def _echo(self, client: aiomqtt.Client) -> None:
        await client.publish(self.topics.state("program"), self.program or "None", qos=1,
                             retain=True)
        await client.publish(self.topics.state("intensity"), str(self.intensity), qos=1,
                             retain=True)

    # ------------------------------------------------------------------ state topics

    def _on_snapshot(self, snapshot: dict[str, Any]) -> None:
        """From the chair thread (or any): keep the newest, wake the loop once."""
        self._latest = snapshot
        if not self._scheduled and self._loop is not None:
            self._scheduled = True
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody listens
                self._loop.call_soon_threadsafe(self._woken)

    def _woken(self) -> None:
        self._scheduled = False
        if self._wake is not None:
            self._wake.set()

    async def _publish_states(self, client: aiomqtt.Client) -> None:
        """Each state topic on change (all of them again on each connection); time left at
        most every TIME_LEFT_PERIOD_S, but at once with a change of state."""
        assert self._wake is not None and self._loop is not None
        sent: dict[str, str] = {}
        time_left_at = -TIME_LEFT_PERIOD_S
        while True:
            _cancelled()
            self._wake.clear()
            timeout = None
            snapshot = self._latest
            if snapshot is not None:
                payloads = state_payloads(snapshot)
                now = self._loop.time()
                changed = payloads["state"] != sent.get("state")
                for key, payload in payloads.items():
                    if sent.get(key) == payload:
                        continue
                    if key == "time_left" and not changed and "time_left" in sent:
                        wait = time_left_at + TIME_LEFT_PERIOD_S - now
                        if wait > 0:
                            timeout = wait
                            continue
                    await client.publish(self.topics.state(key), payload, qos=1, retain=True)
                    sent[key] = payload
                    if key == "time_left":
                        time_left_at = now
            # asyncio.timeout, not wait_for: 3.11's wait_for may swallow a cancel
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    # ------------------------------------------------------------------ commands

    def _dispatch(self, message: aiomqtt.Message, queue: asyncio.Queue) -> None:
        """Route one message: the emergency stop at once, the rest in order."""
        name = self.topics.command_name(message.topic.value)
        raw = message.payload
        payload = bytes(raw) if isinstance(raw, (bytes, bytearray)) \
            else str(raw if raw is not None else "").encode()
        if name is None or not payload:
            return  # not ours, or an empty payload (how a retained command is cleared)
        if message.retain:
            self._spawn(self._refuse_retained(name, message.topic.value))
        elif name == "estop":
            self._spawn(self._execute(name, payload))
        else:
            try:
                queue.put_nowait((name, payload))
            except asyncio.QueueFull:
                self._spawn(self._answer(name, "", ServiceError(
                    ErrorCode.REFUSED, f"{name} refused: {QUEUE_MAX} commands are waiting; "
                    "send one at a time")))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _worker(self, queue: asyncio.Queue[tuple[str, bytes]]) -> None:
        while True:
            _cancelled()
            name, payload = await queue.get()
            await self._execute(name, payload)

    async def _execute(self, name: str, payload: bytes) -> None:
        """Carry out one command and publish what came of it (never raises)."""
        try:
            value = parse_command(name, payload, self._token)
            if name == "program":
                if value not in self._programs:
                    raise ServiceError(ErrorCode.NOT_FOUND, f"program {value!r}: choose one of "
                                       f"{', '.join(self._programs)}")
                self.program = value
                done = f"program: {value}"
            elif name == "intensity":
                self.intensity = value
                done = f"intensity: {value}"
            elif name == "start":
                done = await self._start()
            else:
                call = functools.partial(getattr(self._host, name), by="mqtt")
                if name == "estop":  # its own thread: never behind a call that blocks
                    await asyncio.get_running_loop().run_in_executor(self._estops, call)
                else:
                    await asyncio.to_thread(call)
                done = {"stop": "stopped", "estop": "emergency stop latched",
                        "reset": "reset"}[name]
            if name in ("program", "intensity") and self._client is not None:
                with contextlib.suppress(aiomqtt.MqttError):
                    await self._echo(self._client)
            await self._answer(name, done)
        except ServiceError as exc:
            await self._answer(name, "", exc)
        except Exception as exc:  # a bug must not stop the commands that follow
            log.exception("MQTT command %s failed", name)
            await self._answer(name, "", ServiceError(ErrorCode.REFUSED,
                                                      f"{name} failed: {exc}"))

    async def _start(self) -> str:
        if self.program is None:
            raise ServiceError(ErrorCode.NOT_FOUND, "start: no program to run")
        request = StartRequest(program=self.program, intensity=self.intensity, by="mqtt",
                               acknowledged=False)
        try:
            result = await asyncio.to_thread(self._host.start, request)
        except ServiceError as exc:
            if exc.code == ErrorCode.NOT_ACKNOWLEDGED:
                raise ServiceError(exc.code, f"{self.program}: {exc.message}; MQTT cannot "
                                   f"acknowledge cautions: read those of {self.program} on "
                                   "the web page and start it there with them acknowledged; "
                                   f"then MQTT may start it for {ACK_MAX_AGE.days} days",
                                   exc.data) from None
            raise
        session = (result or {}).get("session") or {}
        return (f"started {self.program} at intensity {self.intensity}"
                + (f" (session {session['id']})" if session.get("id") else ""))

    async def _refuse_retained(self, name: str, topic: str) -> None:
        """A retained command is a replay, not a request: refuse it and clear it."""
        await self._answer(name, "", ServiceError(
            ErrorCode.REFUSED, f"{name} refused: a retained command is never carried out; "
            "publish commands without the retain flag"))
        if self._client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await self._client.publish(topic, b"", qos=1, retain=True)

    async def _answer(self, name: str, done: str, error: ServiceError | None = None) -> None:
        """Publish what came of a command (kept, and published again on reconnect)."""
        self._seq += 1
        text = error.message if error else done
        if error and not text.startswith(name):
            text = f"{name} refused: {text}"
        payload = message_payload(name, seq=self._seq, message=text, error=error)
        self._message = (payload, text)
        (log.warning if error else log.info)("MQTT %s", text)
        if self._client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await self._client.publish(self.topics.state("message"), payload, qos=1,
                                           retain=True)


def _json(config: dict[str, Any]) -> str:
    return json.dumps(config, separators=(",", ":"))
