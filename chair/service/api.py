"""The contract between the chair thread and its front ends (web page, JSON-RPC, MQTT).

`Host` is what a front end may call: every method is thread-safe, returns JSON-able data
(dicts, lists, str, float, int, bool, None) and raises `ServiceError` with one of the
`ErrorCode`s and a message that says what to do. docs/api.md documents the same shapes as
seen over JSON-RPC 2.0 (method ``session.start`` is `Host.start`, and so on).

The status snapshot (`Host.status`, and every `Host.subscribe` callback) is a dict::

    {
      "t": 12.34,                  # seconds on the chair's clock (scaled by --speed)
      "state": "running",          # the controller's state: disconnected, connecting, idle,
                                   # scanning, running, paused, parking, fault, estop
      "reason": "",                # why it stopped or faulted last ("" when nothing to say)
      "occupied": true,            # the seat sensor
      "session": null | {          # the session now running or last run (null before any)
        "id": "20261130-214503-lumbar",  # also the trace's name in the data directory
        "program": "lumbar", "title": "Lower back: warm and loosen",
        "by": "web",               # who started it: web, api, mqtt
        "active": true,            # false once it ended (then "outcome" says how)
        "outcome": null | "completed" | "stopped" | "fault" | "link",
        "step": null | {"number": 3, "of": 7, "name": "...", "zone": "lumbar"},
        "elapsed_s": 40.1, "left_s": 179.9, "program_s": 220.0,
        "intensity": 3
      },
      "roller": null | {"mm": 420.0, "track_mm": 1200.0, "landmark": "l4" | null,
                        "shoulder_mm": 115.0 | null, "moving": true},
      "airbags": [{"zone": "lumbar", "kpa": 12.3, "cap_kpa": 20.0}, ...],
      "heat": [{"zone": "lumbar", "c": 38.2, "cap_c": 40.0, "on": true}, ...],
      "faults": [{"code": "F05", "name": "overpressure", "text": "...",
                  "what_to_do": "..."}],      # the device's latched faults
      "can": {"start": true, "pause": false, "resume": false, "stop": false,
              "reset": false},              # what the buttons may do now
      "link": {"ok": true, "port": "sim://"}
    }

Subscribers get a snapshot at least every 0.2 s (5 Hz) while the host runs, and at once on
every state change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, Protocol

from chair.errors import ChairError, Exit

#: How often subscribers get a snapshot at least, seconds (the issue asks 5 Hz or faster).
SNAPSHOT_PERIOD_S = 0.2


class ErrorCode(IntEnum):
    """Application error codes of the API (JSON-RPC's own are negative, -32768..-32000)."""

    BUSY = 1001              # a session is running: stop it first
    NOT_ACKNOWLEDGED = 1002  # the program's cautions were not acknowledged
    REFUSED = 1003           # not now: the state does not allow it (its message says why)
    LATCHED = 1004           # the chair has latched faults: read them, then reset
    LINK = 1005              # the chair is not connected or its link failed
    NOT_FOUND = 1006         # no such program or session
    INVALID = 1007           # a parameter out of range (intensity, minutes, height...)
    UNAUTHORIZED = 1008      # a token is required and was missing or wrong


class ServiceError(ChairError):
    """A request the host refused; `code` says which kind, `data` any detail (JSON-able)."""

    exit_code = Exit.USAGE

    def __init__(self, code: ErrorCode, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


@dataclass(frozen=True)
class StartRequest:
    """What `session.start` asks for; the same checks as `chair run`'s options."""

    program: str                       # a name from `programs.list`
    intensity: int = 3                 # 1..5 (caps airbag levels and roller depth)
    minutes: float | None = None       # session timer, at most 30 (None: the default 15)
    cautions: tuple[str, ...] = ()     # conditions the user has (chair.caps.CAUTIONS)
    height_cm: float | None = None     # for a chair whose roller senses no force
    shoulder_mm: float | None = None   # or the shoulder line itself
    firm_legs: bool = False
    #: The person read and accepted the program's cautions now. False is refused
    #: (NOT_ACKNOWLEDGED), except for `by="mqtt"` when the same cautions were acknowledged
    #: on this data directory within startcheck.ACK_MAX_AGE (Home Assistant cannot show
    #: them); the page and the API acknowledge at every start.
    acknowledged: bool = False
    by: str = "api"                    # web, api or mqtt: recorded in the trace


@dataclass(frozen=True)
class ServeOptions:
    """How `chair serve` holds its chair (the command's options)."""

    port: str = "sim://"               # pyserial URL or device (`--port`)
    baud: int = 115200                 # line rate of `port` (`--baud`)
    speed: float = 1.0                 # a simulated chair N times faster (`--speed`)
    data_dir: Path | None = None       # where traces go (None: the default data directory)
    seed: int | None = None            # simulator seed (sim:// only)


class Host(Protocol):
    """What every front end calls (chair.service.host.ChairHost implements it)."""

    def server_info(self) -> dict[str, Any]: ...
    def chair_info(self) -> dict[str, Any]: ...
    def programs(self) -> dict[str, Any]: ...
    def status(self) -> dict[str, Any]: ...
    def sessions(self) -> list[dict[str, Any]]: ...
    def start(self, request: StartRequest) -> dict[str, Any]: ...
    def pause(self, by: str = "api") -> dict[str, Any]: ...
    def resume(self, by: str = "api") -> dict[str, Any]: ...
    def stop(self, by: str = "api") -> dict[str, Any]: ...
    def estop(self, by: str = "api") -> dict[str, Any]: ...
    def reset(self, by: str = "api") -> dict[str, Any]: ...
    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]: ...
    def trace_path(self, session_id: str) -> Path: ...
    def plot_path(self, session_id: str) -> Path: ...


# chair.service.host.ChairHost(options: ServeOptions) implements Host, with
#   open() -> None   connect to the chair (raises LinkError, UsageError) and start the
#                    chair thread; close(by="close") -> None: park the chair (a session
#                    running is stopped and settled; `by` "signal" when chair serve was
#                    stopped by one), stop the thread, close the port; idempotent.
# chair.service.mqtt.MqttBridge(host: Host, broker: str, *, token: str | None) bridges a
#   Host to an MQTT broker ("HOST:PORT") for Home Assistant: `await bridge.run()` until
#   cancelled (reconnecting when the broker goes away).
# chair.service.web.make_app(host: Host, *, token: str | None) -> aiohttp.web.Application
