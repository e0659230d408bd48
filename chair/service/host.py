"""`ChairHost`: the `chair.service.api.Host` of `chair serve`, holding one chair.

`open()` opens the port, does the handshake once (so `chair_info` is known before any
session) and starts the chair thread (chair.service.chairloop), which alone reads and
drives the port. Front ends call the methods here from any thread; each one either reads
the newest snapshot, hands a request to the chair thread (start, stop, pause, resume,
reset), or, for the emergency stop, writes the stop byte itself at once, under the
port's lock (chair.service.sharedport), before the chair thread fires the controller's
estop. `close()` parks the chair as Ctrl-C does in `chair run`, then closes the port.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chair import __version__
from chair import protocol as p
from chair.caps import Caps, make_caps
from chair.clock import MonotonicClock, wall_now
from chair.controller import Controller
from chair.errors import ChairError, LinkError, UsageError
from chair.interrupts import Requests
from chair.link import DeviceInfo, Link
from chair.ports import PORT_ERRORS, SIM_SCHEME, open_port
from chair.reset import fresh_status, send_reset
from chair.runurls import sim_url
from chair.scanpark import PARK_TIMEOUT_S
from chair.service import catalog
from chair.service.api import ErrorCode, ServeOptions, ServiceError, StartRequest
from chair.service.chairloop import Call, ChairLoop, Pending
from chair.service.publish import Publisher
from chair.service.sharedport import SharedPort
from chair.service.snapshot import SessionWatch
from chair.service.startcheck import (
    api_words,
    cautions_text,
    check_acknowledged,
    prepare,
)
from chair.service.store import Store

log = logging.getLogger(__name__)

API_VERSION = 1
#: How long a caller waits for the chair thread (real seconds): a session to start (the
#: connect handshake, at most 3 s of chair time), a reset's answer.
START_WAIT_S = 30.0
CALL_WAIT_S = 15.0
#: What each request needs the controller's state to be.
ALLOWED = {"stop": ("scanning", "running", "paused"), "pause": ("running",),
           "resume": ("paused",)}
#: `close()` waits this long (chair seconds) for a running session to park and settle.
CLOSE_S = PARK_TIMEOUT_S + 10.0


class ChairHost(ChairLoop):
    """One chair, held for `chair serve` (see the module docstring); implements Host."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.store = Store(options.data_dir)
        self._publisher = Publisher()
        self._lock = threading.RLock()
        self._real = MonotonicClock()  # paces snapshots, in real seconds
        self._published_at = float("-inf")
        self._snapshot: dict[str, Any] | None = None
        self._pending: Pending | None = None  # a start waiting for the chair thread
        self._session: Pending | None = None  # the session running
        self._last: SessionWatch | None = None  # the last session that ran
        self._calls: list[Call] = []
        self._controller: Controller | None = None
        self._status: p.StatusReport | None = None
        self._reason = ""
        self._link_ok = False
        self._last_report = self._asked = self._retried = 0.0
        self._resync = False  # the device restarted: do the handshake again
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._port: SharedPort | None = None
        self._closed = False
        self._close_by = "close"
        self._url = options.port
        self.info: DeviceInfo | None = None

    # ------------------------------------------------------------------ open and close

    def open(self) -> None:
        """Open the port, do the handshake, start the chair thread. Raises UsageError (a
        wrong URL, --speed on a real port, a data directory that cannot be made) and
        LinkError (the port cannot be opened or the chair does not answer)."""
        if self._thread is not None or self._closed:
            raise UsageError("this host was opened already; make a new ChairHost")
        url = sim_url(self.options.port, fast=False, seed=self.options.seed, faults=(),
                      speed=self.options.speed)
        try:
            self.store.ensure()
        except OSError as exc:
            raise UsageError(f"data directory {self.store.dir}: cannot make it "
                             f"({exc.strerror or exc}); choose another") from exc
        raw = open_port(url, baudrate=self.options.baud)
        port = SharedPort(raw)
        clock = getattr(raw, "clock", None) or MonotonicClock()
        link = Link(port, clock)
        try:
            self.info = link.connect()
            self._status = fresh_status(link, clock)
        except (LinkError, *PORT_ERRORS) as exc:
            port.close()
            raise LinkError(f"{url}: {exc}") from exc
        self._url, self._port, self._clock, self._link = url, port, clock, link
        self.chair = self.info.chair
        self._caps = self._default_caps(self.info)
        self._link_ok, self._last_report = True, clock.now()
        self._requests = Requests(wake=getattr(clock, "wake", None))
        self._publish(force=True)
        self._thread = threading.Thread(target=self._main, name="chair-thread", daemon=True)
        self._thread.start()

    @staticmethod
    def _default_caps(info: DeviceInfo) -> Caps | None:
        """The caps a session with the default options would have (shown between
        sessions); None for a chair whose table lacks one (its sessions are refused)."""
        try:
            return make_caps(info.limits, zones=info.chair.zones)
        except (KeyError, ChairError):
            return None

    def close(self, by: str = "close") -> None:
        """Park the chair (a session running is stopped, parked and settled, its trace
        ended; the trace's `user` event says `by`: "close", or "signal" when `chair serve`
        was stopped by one), stop the chair thread, close the port. No session starts once
        it is called; the emergency stop (`estop`) still works until it returns.
        Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._close_by = by
        thread = self._thread
        if thread is not None:
            self._closing.set()
            self._requests.ask("stop", by)
            speed = getattr(self._clock, "speed", 1.0)
            thread.join(CLOSE_S / speed + 5.0)
            if thread.is_alive():  # not parked in time: stop everything at once
                log.error("the chair thread did not end: emergency stop")
                self.send_estop_byte()
                thread.join(5.0)
        if self._port is not None:
            with contextlib.suppress(*PORT_ERRORS):  # a port that vanished is closed too
                self._port.close()
        self._publisher.close()

    def __enter__(self) -> ChairHost:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ queries

    def server_info(self) -> dict[str, Any]:
        return {"name": "chair serve", "version": __version__, "api": API_VERSION,
                "port": self._url, "speed": self.options.speed,
                "simulated": self._url.startswith(SIM_SCHEME),
                "data_dir": str(self.store.dir), "token_required": False}

    def chair_info(self) -> dict[str, Any]:
        return catalog.chair_described(self._need_info(), self._caps)

    def programs(self) -> dict[str, Any]:
        return catalog.programs_listed(self.store)

    def status(self) -> dict[str, Any]:
        with self._lock:
            if self._snapshot is None:
                raise ServiceError(ErrorCode.LINK, "the chair is not connected yet")
            return copy.deepcopy(self._snapshot)

    def sessions(self) -> list[dict[str, Any]]:
        with self._lock:
            running = self._session or self._pending
            active = running.id if running is not None else None
        return self.store.sessions(active=active)

    def trace_path(self, session_id: str) -> Path:
        return self.store.trace_path(session_id)

    def plot_path(self, session_id: str) -> Path:
        try:
            return self.store.plot_path(session_id)
        except ServiceError:
            raise
        except ChairError as exc:
            raise ServiceError(ErrorCode.REFUSED, f"cannot draw {session_id}: {exc}") from None

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """`callback(snapshot)` on its own thread, with the newest snapshot at once, then
        at least every 0.2 s and on every state change (a slow callback misses the oldest
        ones, never the newest). Every subscriber gets the same dict: read it, do not
        change it."""
        with self._lock:
            first = self._snapshot
        return self._publisher.subscribe(callback, first)

    # ------------------------------------------------------------------ commands

    def start(self, request: StartRequest) -> dict[str, Any]:
        info = self._need_info()
        program, options, caps_for = prepare(request, info, self.options.port)
        text = cautions_text(program)
        with self._lock:
            self._need_thread()
            if self._pending is not None or self._session is not None:
                raise ServiceError(ErrorCode.BUSY, "a session is running: stop it first")
            if not self._link_ok:
                raise ServiceError(ErrorCode.LINK, f"the chair is not connected: "
                                   f"{self._reason or 'no report from it'}")
            latched = self._status.faults if self._status is not None else ()
            if latched:
                raise ServiceError(ErrorCode.LATCHED, "the chair has latched faults ("
                                   + ", ".join(code.wire for code in latched)
                                   + "): read what to do, then reset")
            remembered = self.store.acknowledged(program.name, text)
            check_acknowledged(request, program, text, remembered, wall_now())
            acknowledged = self.store.acknowledge(program.name, text, request.by) \
                if request.acknowledged is True else remembered
            pending = Pending(
                id=self.store.new_id(program.name), program=program, options=options,
                caps_for=caps_for, by=request.by,
                started_at=wall_now().isoformat(timespec="seconds"),
                acknowledged=acknowledged,
                watch=SessionWatch("", program.name, program.title, request.by,
                                   request.intensity, lambda: None))
            pending.watch.id = pending.id
            self._pending = pending
        self._wake()
        if not pending.started.wait(START_WAIT_S):
            raise ServiceError(ErrorCode.LINK, "the session did not start in time: the "
                               "chair thread is stuck or the link too slow")
        if pending.error is not None:
            raise pending.error
        if not pending.watch.reached:
            raise _not_started(pending)
        return {"session": pending.watch.describe(pending.watch.t)}

    def _request(self, action: str, by: str) -> dict[str, Any]:
        self._need_thread()
        state = self.status()["state"]
        if state not in ALLOWED[action]:
            what = "no session is running" if action == "stop" else f"the chair is {state}"
            raise ServiceError(ErrorCode.REFUSED, f"cannot {action}: {what}")
        self._requests.ask(action, by)
        return {"state": state, "asked": action}

    def pause(self, by: str = "api") -> dict[str, Any]:
        return self._request("pause", by)

    def resume(self, by: str = "api") -> dict[str, Any]:
        return self._request("resume", by)

    def stop(self, by: str = "api") -> dict[str, Any]:
        return self._request("stop", by)

    def estop(self, by: str = "api") -> dict[str, Any]:
        """The emergency stop: the device's stop byte goes out now, from this thread; the
        chair thread then fires the controller's estop (its trace says `by`)."""
        if self._port is None:
            raise ServiceError(ErrorCode.LINK, "the chair is not connected")
        if not self.send_estop_byte():
            raise ServiceError(ErrorCode.LINK, "the emergency stop could not be written: "
                               "the port failed; use the chair's own stop")
        self._requests.ask("stop-now", by)
        return {"state": "estop", "sent": True}

    def send_estop_byte(self) -> bool:
        """Write the device's emergency-stop byte at once (True when written)."""
        port, link = self._port, getattr(self, "_link", None)
        proto = link.proto if link is not None else None
        data = bytes([p.estop_byte(proto)]) if proto else \
            bytes([p.ESTOP_BYTE, p.TYPED_ESTOP_BYTE])
        try:
            port.write(data)
            return True
        except PORT_ERRORS:
            return False

    def reset(self, by: str = "api") -> dict[str, Any]:
        """Clear the device's latched faults, as `chair reset` does: only when the device
        accepts (REFUSED with its reason otherwise); never starts anything."""
        self._need_thread()
        with self._lock:
            if self._pending is not None or self._session is not None:
                raise ServiceError(ErrorCode.REFUSED, "cannot reset while a session runs")
        return self._call(self._do_reset)

    def _do_reset(self) -> dict[str, Any]:
        link, clock = self._link, self._clock
        link.poll()  # reports already on their way say how the chair was, not how it is
        status = fresh_status(link, clock)
        known = self._status
        if status.faults or status.state != "Idle" or (known is not None and known.faults):
            refusal = send_reset(link, clock)
            if refusal is not None:
                raise ServiceError(ErrorCode.REFUSED, f"the chair refused to reset: "
                                   f"{refusal.code.wire} {refusal.detail}; clear that "
                                   "condition first (what is still present is named)")
            status = fresh_status(link, clock)
        self._status, self._last_report = status, clock.now()
        if status.faults:
            raise ServiceError(ErrorCode.REFUSED, "the chair accepted the reset but latched "
                               "again: " + ", ".join(c.wire for c in status.faults))
        self._reason = ""
        self._publish(force=True)
        return {"state": self._idle_state()}

    # ------------------------------------------------------------------ helpers

    def _call(self, work: Callable[[], Any]) -> Any:
        call = Call(work)
        with self._lock:
            self._calls.append(call)
        self._wake()
        if not call.done.wait(CALL_WAIT_S):
            raise ServiceError(ErrorCode.LINK, "the chair thread did not answer in time")
        if isinstance(call.error, LinkError):
            raise ServiceError(ErrorCode.LINK, str(call.error))
        if call.error is not None:
            raise call.error
        return call.result

    def _wake(self) -> None:
        wake = getattr(self._clock, "wake", None)
        if wake is not None:
            wake()

    def _need_info(self) -> DeviceInfo:
        if self.info is None:
            raise ServiceError(ErrorCode.LINK, "the chair is not connected: open the host")
        return self.info

    def _need_thread(self) -> None:
        thread = self._thread
        if self._closing.is_set() and thread is not None and thread.is_alive():
            raise ServiceError(ErrorCode.LINK, "chair serve is stopping: the chair parks "
                               "and no session starts now")
        if thread is None or not thread.is_alive() or self._closing.is_set():
            raise ServiceError(ErrorCode.LINK, "the chair is not held: chair serve is not "
                               f"running or has stopped ({self._reason or 'closed'})")


def _not_started(pending: Pending) -> ServiceError:
    """Why a session ended before it started moving, as an API error."""
    outcome = pending.outcome
    why = outcome.detail if outcome is not None else "the session did not start"
    if outcome is not None and outcome.reason == "link":
        return ServiceError(ErrorCode.LINK, why)
    if outcome is not None and outcome.reason == "usage":
        return ServiceError(ErrorCode.INVALID, api_words(why))
    if why.startswith("the device has latched faults"):
        return ServiceError(ErrorCode.LATCHED, why)
    return ServiceError(ErrorCode.REFUSED, why)
