"""What `chair serve --mqtt` publishes from a status snapshot, and how it reads a command.

Pure functions (no I/O, no time): `state_payloads` turns one `Host.status()` snapshot into
the text of each state topic; `parse_command` turns a command's payload into its value,
checking the token when one is required. docs/homeassistant.md documents both.
"""

from __future__ import annotations

import hmac
import json
import math
from typing import Any

from chair.service.api import ErrorCode, ServiceError
from chair.service.mqtt_discovery import INTENSITY_MAX, INTENSITY_MIN

#: States in which the chair moves through a session (the binary sensor "running" is ON).
MOVING = ("scanning", "running", "parking")
#: Home Assistant refuses a state longer than this many characters.
STATE_CHARS = 255
#: Shown when there is no step or no fault.
NONE = "none"


def _clip(text: str) -> str:
    return text if len(text) <= STATE_CHARS else text[:STATE_CHARS - 1] + "…"


def state_payloads(snapshot: dict[str, Any]) -> dict[str, str]:
    """The payload of each state topic (state, step, time_left, fault, running).

    step: ``"3/7 knead the lumbar muscles"`` while a session runs, else "none"; time_left:
    whole seconds left of the active session (rounded up), else "0"; fault: the device's
    latched faults as ``"F05 overpressure: what to do"`` (joined by "; "), or in the fault
    and estop states without a latched one the reason, else "none"; running: ON or OFF.
    """
    state = str(snapshot.get("state", ""))
    session = snapshot.get("session") or {}
    active = bool(session.get("active"))
    step = session.get("step") if active else None
    left = session.get("left_s") if active else None
    faults = snapshot.get("faults") or []
    if faults:
        fault = "; ".join(f"{f.get('code', '')} {f.get('name', '')}: "
                          f"{f.get('what_to_do') or f.get('text', '')}".strip()
                          for f in faults)
    elif state in ("fault", "estop") and snapshot.get("reason"):
        fault = str(snapshot["reason"])
    else:
        fault = NONE
    return {
        "state": state,
        "step": _clip(f"{step['number']}/{step['of']} {step.get('name', '')}".strip())
        if step else NONE,
        "time_left": str(max(0, math.ceil(float(left)))) if left is not None else "0",
        "fault": _clip(fault),
        "running": "ON" if state in MOVING else "OFF",
    }


def message_payload(command: str, *, seq: int, message: str,
                    error: ServiceError | None = None) -> str:
    """The JSON on the message topic after each command: what was done or why not.

    ``{"command": "start", "ok": false, "code": 1002, "error": "NOT_ACKNOWLEDGED",
    "message": "...", "seq": 7}`` (code and error are null when it was done)."""
    return json.dumps({"command": command, "ok": error is None,
                       "code": int(error.code) if error else None,
                       "error": error.code.name if error else None,
                       "message": _clip(message), "seq": seq})


def parse_command(name: str, payload: bytes, token: str | None) -> Any:
    """The value a command carries: None for a button, the program's name, the intensity.

    Without a token a payload is plain text (``PRESS``, ``lumbar``, ``3``) or a JSON object
    ``{"value": ...}``; with one it must be a JSON object whose ``"token"`` equals it.
    Raises ServiceError UNAUTHORIZED (no or wrong token) or INVALID (a bad payload)."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ServiceError(ErrorCode.INVALID, f"{name}: the payload is not UTF-8 text") from None
    data: dict[str, Any] | None = None
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ServiceError(ErrorCode.INVALID, f"{name}: the payload is not a JSON object")
    if token is not None:
        given = data.get("token") if data is not None else None
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(),
                                                                 token.encode()):
            raise ServiceError(ErrorCode.UNAUTHORIZED,
                               f"{name}: a token is required: send {{\"token\": ..., "
                               "\"value\": ...}} (the discovery config carries it)")
    value = data.get("value") if data is not None else text
    if name == "program":
        if not isinstance(value, str) or not value:
            raise ServiceError(ErrorCode.INVALID, "program: send a program's name")
        return value
    if name == "intensity":
        return _intensity(value)
    return None


def _intensity(value: Any) -> int:
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or not number.is_integer() or \
            not INTENSITY_MIN <= number <= INTENSITY_MAX:
        raise ServiceError(ErrorCode.INVALID, f"intensity {value!r}: choose a whole number "
                           f"from {INTENSITY_MIN} (gentlest) to {INTENSITY_MAX}")
    return int(number)
