"""JSON-RPC 2.0 over a `Host`, with no I/O: a message's text in, the reply's text out.

`Dispatcher.handle(text)` answers one message (a request, a notification, or a batch of
them) and returns the reply's text, or None when nothing is to be sent (notifications only).
A front end that must run some calls elsewhere (off its event loop, or `chair.estop` on a
path of its own) uses the two halves: `parse(text)` -> `Parsed` (the calls to make and the
error replies already known), `Dispatcher.call(call)` -> the reply object or None, and
`Parsed.reply(replies)` -> the text to send.

Methods (docs/api.md says the same, with examples): see `METHODS`. Errors are JSON-RPC error
objects ``{"code", "message", "data"}``: -32700 parse error, -32600 invalid request, -32601
method not found, -32602 invalid params (the message names the param and what is wrong),
-32603 internal error (generic message; the exception is logged), and our
`chair.service.api.ErrorCode`s with the `ServiceError`'s message and data (a message of
`chair run` naming its flags names session.start's params instead: startcheck.api_words).
An object with a duplicate key and a batch of more than `MAX_BATCH` are -32600; a number of
more than `MAX_DIGITS` digits is -32700.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chair.errors import ChairError, LinkError, ProgramError, UsageError
from chair.service.api import ErrorCode, Host, ServiceError, StartRequest
from chair.service.startcheck import api_words

log = logging.getLogger("chair.service.rpc")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

#: The most requests one batch may hold; a larger batch is one INVALID_REQUEST error.
MAX_BATCH = 32
#: The most digits a JSON integer may have (an id, a param); a longer one is a parse error.
MAX_DIGITS = 100

#: The params of `session.start`, in the order positional params take them:
#: name -> (accepted JSON type, may be null, StartRequest field).
START_PARAMS: dict[str, tuple[str, bool, str]] = {
    "program": ("string", False, "program"),
    "intensity": ("integer", False, "intensity"),
    "minutes": ("number", True, "minutes"),
    "cautions": ("list of strings", False, "cautions"),
    "height": ("number", True, "height_cm"),
    "shoulder_mm": ("number", True, "shoulder_mm"),
    "firm_legs": ("boolean", False, "firm_legs"),
    "acknowledged": ("boolean", False, "acknowledged"),
}

#: Every method: name -> the Host method it calls (status.subscribe and
#: status.unsubscribe are the connection's, see `Subscriptions`).
METHODS: dict[str, str] = {
    "server.info": "server_info", "chair.info": "chair_info", "programs.list": "programs",
    "status.get": "status", "sessions.list": "sessions", "session.start": "start",
    "session.pause": "pause", "session.resume": "resume", "session.stop": "stop",
    "chair.estop": "estop", "chair.reset": "reset",
    "status.subscribe": "", "status.unsubscribe": "",
}
#: Methods that change the chair: the host records who asked (`by`).
COMMANDS = {"session.pause", "session.resume", "session.stop", "chair.estop", "chair.reset"}


class RpcError(Exception):
    """An error reply: `code`, `message` and optional `data` (JSON-able)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


@dataclass(frozen=True)
class Call:
    """One well-formed request: `id` is absent (`notification`) or a string, number or null."""

    method: str
    params: dict[str, Any] | list[Any]
    id: Any = None
    notification: bool = False


@dataclass
class Parsed:
    """A message taken apart: the `calls` to make, in order, and each slot's reply so far
    (an error reply, or None for a call's reply to come). `batch`: the message was a list."""

    calls: list[tuple[int, Call]] = field(default_factory=list)
    replies: list[dict[str, Any] | None] = field(default_factory=list)
    batch: bool = False

    def reply(self, results: dict[int, dict[str, Any] | None]) -> str | None:
        """The text to send, given each call's reply by slot (None: nothing to send)."""
        out = [results.get(i, r) if r is None else r for i, r in enumerate(self.replies)]
        out = [r for r in out if r is not None]
        if not out:
            return None
        return dump(out if self.batch else out[0])


class Subscriptions:
    """What a connection does for status.subscribe / status.unsubscribe (the web layer's
    websocket bridges Host.subscribe to its client). Returns True when it changed anything."""

    def subscribe(self) -> bool:
        raise RpcError(METHOD_NOT_FOUND, "status.subscribe needs a connection that can "
                       "receive notifications (the websocket at /websocket)")

    def unsubscribe(self) -> bool:
        return False


def dump(message: Any) -> str:
    """`message` as compact JSON text (NaN and infinities are not JSON: a ValueError)."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False)


def error_reply(error: RpcError, id_: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": error.to_json(), "id": id_}


def notification(method: str, params: Any) -> str:
    """A notification's text, e.g. ``notification("status.update", snapshot)``."""
    return dump({"jsonrpc": "2.0", "method": method, "params": params})


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class _DuplicateKey(ValueError):
    """An object with a key twice: which value is meant is unknown (INVALID_REQUEST)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(f"an object has the key {key!r} twice (duplicate key "
                                f"{key!r}): give each key once")
        result[key] = value
    return result


def _short_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        raise ValueError(f"a number of {digits} digits is too long (at most {MAX_DIGITS})")
    return int(text)


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int)


def _call(message: Any) -> Call:
    """One request object as a Call; RpcError(INVALID_REQUEST) when it is not one."""
    if not isinstance(message, dict):
        raise RpcError(INVALID_REQUEST, "a request is a JSON object with jsonrpc, method, "
                       "params and id")
    if message.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, 'the request needs "jsonrpc": "2.0"')
    if "id" in message and not _valid_id(message["id"]):
        raise RpcError(INVALID_REQUEST, "id must be a string, a number or null")
    method = message.get("method")
    if not isinstance(method, str):
        raise RpcError(INVALID_REQUEST, "method must be a string, such as \"status.get\"")
    params = message.get("params", {})
    if not isinstance(params, dict | list):
        raise RpcError(INVALID_REQUEST, "params must be an object (by name) or an array")
    return Call(method, params, message.get("id"), "id" not in message)


def parse(text: str | bytes) -> Parsed:
    """Take one message apart. Never raises: what is wrong becomes an error reply."""
    parsed = Parsed()
    try:
        if isinstance(text, bytes | bytearray):
            text = bytes(text).decode("utf-8")
        message = json.loads(text, parse_constant=_no_constants, parse_int=_short_int,
                             object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        parsed.replies.append(error_reply(RpcError(INVALID_REQUEST, str(exc))))
        return parsed
    except (ValueError, RecursionError, TypeError) as exc:
        parsed.replies.append(error_reply(RpcError(PARSE_ERROR, f"parse error: {exc}")))
        return parsed
    if isinstance(message, list):
        if not message:
            parsed.replies.append(error_reply(RpcError(INVALID_REQUEST, "an empty batch")))
            return parsed
        if len(message) > MAX_BATCH:
            parsed.replies.append(error_reply(RpcError(
                INVALID_REQUEST, f"a batch holds at most {MAX_BATCH} requests, not "
                f"{len(message)}: send fewer at a time", {"max_batch": MAX_BATCH})))
            return parsed
        parsed.batch = True
    for item in message if parsed.batch else [message]:
        try:
            call = _call(item)
        except RpcError as exc:
            id_ = item.get("id") if isinstance(item, dict) else None
            parsed.replies.append(error_reply(exc, id_ if _valid_id(id_) else None))
            continue
        parsed.calls.append((len(parsed.replies), call))
        parsed.replies.append(None)
    return parsed


# ---------------------------------------------------------------------------- params


def _check_type(method: str, name: str, value: Any, kind: str, nullable: bool) -> Any:
    if value is None and nullable:
        return None
    ok = {
        "string": isinstance(value, str),
        "integer": (isinstance(value, int) and not isinstance(value, bool))
                   or (isinstance(value, float) and value.is_integer()),
        "number": isinstance(value, int | float) and not isinstance(value, bool)
                  and math.isfinite(value),
        "boolean": isinstance(value, bool),
        "list of strings": isinstance(value, list) and all(isinstance(v, str) for v in value),
    }[kind]
    if not ok:
        article = "an" if kind[0] in "aeiou" else "a"
        raise RpcError(INVALID_PARAMS, f"{method}: param {name!r} must be {article} {kind}"
                       f"{' or null' if nullable else ''}, not {json.dumps(value)[:40]}",
                       {"param": name, "expected": kind})
    if kind == "integer":
        return int(value)
    if kind == "list of strings":
        return tuple(value)
    return value


def _named(method: str, params: dict[str, Any] | list[Any],
           names: list[str]) -> dict[str, Any]:
    """Params by name, or by position in the order of `names`; unknown ones refused."""
    if isinstance(params, list):
        if len(params) > len(names):
            raise RpcError(INVALID_PARAMS, f"{method} takes at most {len(names)} positional "
                           f"params ({', '.join(names) or 'none'}), not {len(params)}",
                           {"expected": names})
        return dict(zip(names, params, strict=False))
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise RpcError(INVALID_PARAMS, f"{method}: unknown param {unknown[0]!r}; it takes "
                       f"{', '.join(names) or 'no params'}",
                       {"param": unknown[0], "expected": names})
    return params


def start_request(params: dict[str, Any] | list[Any], by: str) -> StartRequest:
    """`session.start`'s params as a StartRequest; RpcError(INVALID_PARAMS) naming the param."""
    given = _named("session.start", params, list(START_PARAMS))
    if "program" not in given:
        raise RpcError(INVALID_PARAMS, "session.start: param 'program' is required (a name "
                       "from programs.list, such as \"lumbar\")", {"param": "program"})
    fields = {}
    for name, value in given.items():
        kind, nullable, attr = START_PARAMS[name]
        fields[attr] = _check_type("session.start", name, value, kind, nullable)
    return StartRequest(**fields, by=by)


# ---------------------------------------------------------------------------- dispatch


class Dispatcher:
    """Answers JSON-RPC messages by calling `host` (blocking: run it where blocking is fine).

    `by` is who the host records for commands (web, api or mqtt); `subscriptions` is the
    connection's (the default refuses status.subscribe: no way to notify); `server` is what
    the front end knows of itself, added to server.info's result (token_required).
    """

    def __init__(self, host: Host, *, by: str = "api",
                 subscriptions: Subscriptions | None = None,
                 server: dict[str, Any] | None = None) -> None:
        self.host, self.by = host, by
        self.subscriptions = subscriptions or Subscriptions()
        self.server = server or {}

    def handle(self, text: str | bytes) -> str | None:
        """One message in, the reply's text out (None: no reply). Never raises."""
        parsed = parse(text)
        return parsed.reply({slot: self.call(call) for slot, call in parsed.calls})

    def call(self, call: Call) -> dict[str, Any] | None:
        """One call's reply object (None for a notification). Never raises."""
        try:
            result = self.result(call.method, call.params)
            dump(result)  # a result that is not JSON is our bug: caught below
            reply: dict[str, Any] = {"jsonrpc": "2.0", "result": result, "id": call.id}
        except RpcError as exc:
            reply = error_reply(exc, call.id)
        except Exception:
            log.exception("internal error in %s", call.method)
            reply = error_reply(RpcError(INTERNAL_ERROR, "internal error: the server logged "
                                         "it; please report it"), call.id)
        return None if call.notification else reply

    def result(self, method: str, params: dict[str, Any] | list[Any]) -> Any:
        """What `method` returns; RpcError for every error the client should see."""
        if method not in METHODS:
            raise RpcError(METHOD_NOT_FOUND, f"no method {method!r}; the methods are "
                           f"{', '.join(METHODS)}", {"method": method})
        try:
            if method == "session.start":
                return self.host.start(start_request(params, self.by))
            _named(method, params, [])
            if method == "status.subscribe":
                self.subscriptions.subscribe()
                return {"subscribed": True}
            if method == "status.unsubscribe":
                return {"subscribed": False, "was": self.subscriptions.unsubscribe()}
            if method == "server.info":
                return {**self.host.server_info(), **self.server}
            function: Callable[..., Any] = getattr(self.host, METHODS[method])
            return function(by=self.by) if method in COMMANDS else function()
        except ServiceError as exc:
            raise RpcError(int(exc.code), exc.message, exc.data) from exc
        except LinkError as exc:
            raise RpcError(int(ErrorCode.LINK), str(exc)) from exc
        except (UsageError, ProgramError) as exc:  # chair run's flags named as params
            raise RpcError(int(ErrorCode.INVALID), api_words(str(exc))) from exc
        except ChairError as exc:
            raise RpcError(int(ErrorCode.REFUSED), str(exc)) from exc
