"""The chair thread of `chair serve`: the one thread that reads and drives the port.

Between sessions it keeps reading the chair (asking a status with ``?`` when no report
came for `ASK_S`), serves the calls that need the link (a reset), and publishes status
snapshots. A session runs here with `chair.runner.drive`, the very loop of `chair run`
(controller, supervisor, trace, settle), its user requests (stop, stop-now, pause,
resume) taken between ticks from `chair.interrupts.Requests`.

`ChairLoop` is the thread's half of `chair.service.host.ChairHost` (which holds the
state both halves share and the front ends' half).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import serial

from chair import protocol as p
from chair.cautions import RED_FLAGS
from chair.controller import TICK_S, Controller
from chair.errors import ChairError, LinkError
from chair.limits import HOST
from chair.ports import PORT_ERRORS
from chair.program import Program
from chair.reset import fresh_status
from chair.runner import Outcome, RunOptions, drive
from chair.service import snapshot
from chair.service.api import SNAPSHOT_PERIOD_S, ErrorCode, ServiceError
from chair.service.snapshot import SessionWatch
from chair.trace import Record, Trace

log = logging.getLogger(__name__)

#: Ask for a status (``?``) when no report came for this long (chair seconds): 5 Hz.
ASK_S = 0.2
#: Snapshots go out at least this often (real seconds), and at once on a state change.
PUBLISH_S = SNAPSHOT_PERIOD_S / 2
#: The idle loop's turn, real seconds at least (a sped-up chair would spin otherwise).
IDLE_REAL_S = 0.02
#: A link lost between sessions is tried again (the handshake) this often, chair seconds.
RETRY_S = 2.0


@dataclass
class Pending:
    """A session on its way to the chair thread, and what became of it."""

    id: str
    program: Program
    options: RunOptions
    caps_for: Callable[[dict[str, float]], Any]
    by: str
    started_at: str  # wall-clock time, ISO 8601 (the trace header's `started`)
    acknowledged: dict[str, Any]  # the record of the cautions acknowledged (Store)
    watch: SessionWatch
    started: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None
    error: ServiceError | None = None


@dataclass
class Call:
    """Work that needs the link between sessions (a reset), done on the chair thread."""

    work: Callable[[], Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class ChairLoop:
    """The chair thread's methods (mixed into ChairHost, which sets every attribute)."""

    # ------------------------------------------------------------------ the thread

    def _main(self) -> None:
        try:
            while not self._closing.is_set():
                pending = self._take_pending()
                if pending is not None:
                    self._run_session(pending)
                else:
                    self._idle_turn()
        except BaseException as exc:  # a bug: leave the chair at rest, say so, and end
            log.exception("the chair thread failed")
            self._crashed(exc)
        finally:
            self._fail_pending("chair serve is closing: no session starts now")

    def _take_pending(self) -> Pending | None:
        with self._lock:
            pending, self._pending = self._pending, None
            if pending is not None:
                self._session = pending
            return pending

    def _fail_pending(self, why: str) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            pending.error = ServiceError(ErrorCode.LINK, why)
            pending.started.set()
        for call in self._take_calls():
            call.error = ServiceError(ErrorCode.LINK, why)
            call.done.set()

    def _take_calls(self) -> list[Call]:
        with self._lock:
            calls, self._calls = self._calls, []
        return calls

    # ------------------------------------------------------------------ between sessions

    def _idle_turn(self) -> None:
        clock, link = self._clock, self._link
        for call in self._take_calls():
            try:
                call.result = call.work()
            except BaseException as exc:  # handed to the caller's thread
                call.error = exc
            call.done.set()
        self._requests.clear()  # an emergency stop's byte is out already; nothing else
        now = clock.now()
        changed = False
        try:
            for message in link.poll():
                changed |= self._idle_message(message, now)
            if now - self._last_report >= ASK_S and now - self._asked >= ASK_S:
                self._asked = now
                link.request_status()
        except (LinkError, *PORT_ERRORS) as exc:
            changed |= self._set_link(False, f"link lost: {exc}")
        if now - self._last_report > HOST["link_timeout_s"]:
            changed |= self._set_link(False, "link lost: no status report from the chair "
                                      f"for {now - self._last_report:.1f} s")
        if self._resync or (not self._link_ok and now - self._retried >= RETRY_S):
            changed |= self._reconnect(now)
        self._publish(force=changed)
        clock.sleep_until(now + max(TICK_S, IDLE_REAL_S * getattr(clock, "speed", 1.0)))

    def _idle_message(self, message: object, now: float) -> bool:
        """Take one message read between sessions; True when the state may have changed."""
        if isinstance(message, p.StatusReport):
            before = self._status.faults if self._status is not None else None
            self._status, self._last_report = message, now
            return self._set_link(True, self._reason) or message.faults != before
        if isinstance(message, p.FaultReport):
            self._reason = ("emergency stop at the device" if message.code is p.FaultCode.ESTOP
                            else f"device {message.code.wire} {message.detail}".strip())
            return True
        if isinstance(message, p.Banner):  # it forgot our session: connect again
            self._reason = "the device restarted; it will not resume by itself"
            self._resync = True
            return True
        return False

    def _reconnect(self, now: float) -> bool:
        """The handshake again (a device restarted, or a link lost between sessions);
        True when the link came back."""
        self._retried, self._resync = now, False
        link, clock = self._link, self._clock
        try:
            info = link.connect()
            status = fresh_status(link, clock)
        except (LinkError, *PORT_ERRORS) as exc:
            if not self._link_ok:
                self._reason = f"link lost: {exc}; trying again every {RETRY_S:g} s"
            return False
        self.info, self.chair, self._caps = info, info.chair, self._default_caps(info)
        self._status, self._last_report = status, clock.now()
        return self._set_link(True, "the chair answers again")

    def _set_link(self, ok: bool, reason: str) -> bool:
        changed = ok != self._link_ok
        self._link_ok = ok
        if changed:
            self._reason = reason
        return changed

    # ------------------------------------------------------------------ a session

    def _run_session(self, pending: Pending) -> None:
        watch, program = pending.watch, pending.program
        self._requests.clear()  # nothing asked before this session is about it
        if self._closing.is_set():  # close() asked its stop before the clear: ask again
            self._requests.ask("stop", self._close_by)
        try:
            trace = Trace(str(self.store.trace_file(pending.id)), program=program.name,
                          title=program.title, source=program.source, seed=self.options.seed,
                          port=self._url, fast=False, speed=self.options.speed,
                          started=pending.started_at, by=pending.by)
        except ChairError as exc:
            pending.error = ServiceError(ErrorCode.INVALID, str(exc))
            self._end_session(pending, Outcome("usage", "idle", str(exc)), None)
            return
        trace.listeners.extend([watch, self._on_record])
        trace.event(0.0, "cautions", acknowledged=True, by=pending.by,
                    red_flags=list(RED_FLAGS), acknowledged_by=pending.acknowledged["by"],
                    acknowledged_at=pending.acknowledged["at"])
        controller = Controller(self._link, self._clock, trace, program, pending.caps_for)
        self._controller = controller
        outcome = None
        try:
            outcome = drive(controller, pending.options, self._requests)
        except (serial.SerialException, OSError, LinkError) as exc:
            outcome = Outcome("link", "disconnected", f"link lost: {exc}")
            self._set_link(False, outcome.detail)
        except ChairError as exc:  # a shoulder line refused after connecting (exit 2)
            outcome = Outcome("usage", controller.state, str(exc))
        finally:
            self._end_session(pending, outcome or Outcome("fault", "fault",
                                                          "the chair thread failed"),
                              controller)

    def _end_session(self, pending: Pending, outcome: Outcome,
                     controller: Controller | None) -> None:
        if controller is not None and controller.status is not None:
            self._status = controller.status
            self._last_report = self._clock.now()
        pending.watch.active = False
        pending.watch.outcome = outcome.reason
        pending.outcome = outcome
        self._reason = outcome.detail
        with self._lock:
            self._controller = None
            self._session = None
            self._last = pending.watch
        pending.started.set()
        self._publish(force=True)

    def _on_record(self, record: Record) -> None:
        """Every record of the session's trace (on the chair thread): publish at once on a
        state change, else at the pace."""
        changed = record["type"] == "event" and record["event"] == "state"
        pending = self._session
        if changed and pending is not None and pending.watch.reached:
            pending.started.set()
        self._publish(force=changed)

    # ------------------------------------------------------------------ snapshots

    def _publish(self, *, force: bool = False) -> None:
        now = self._real.now()
        if not force and now - self._published_at < PUBLISH_S:
            return
        self._published_at = now
        snap = self._build()
        with self._lock:
            self._snapshot = snap
        self._publisher.publish(snap)

    def _build(self) -> dict[str, Any]:
        controller = self._controller
        pending = self._session
        watch = pending.watch if pending is not None else self._last
        busy = pending is not None or self._pending is not None
        if controller is not None:
            state = (watch.view.state if watch is not None else "") or controller.state
            reason = controller.reason
            if watch is not None and state != controller.state and watch.state_reason:
                reason = watch.state_reason  # a transition under way: the controller has
                # not entered the state (nor taken its reason) yet
            return snapshot.build(
                t=self._clock.now(), state=state, reason=reason,
                status=controller.status or self._status, chair=controller.chair,
                caps=controller.caps or self._caps, session=watch,
                in_force=controller.in_force(), link_ok=self._link_ok, port=self._url,
                busy=busy)
        return snapshot.build(
            t=self._clock.now(), state=self._idle_state(), reason=self._reason,
            status=self._status, chair=self.chair, caps=self._caps, session=watch,
            in_force=(), link_ok=self._link_ok, port=self._url, busy=busy)

    def _idle_state(self) -> str:
        if not self._link_ok:
            return "disconnected"
        faults = self._status.faults if self._status is not None else ()
        if p.FaultCode.ESTOP in faults:
            return "estop"
        return "fault" if faults else "idle"

    # ------------------------------------------------------------------ a failure

    def _crashed(self, exc: BaseException) -> None:
        """Everything to rest (STOP, and the emergency stop if it is not answered), then
        say the host can no longer drive the chair."""
        link, clock = self._link, self._clock
        try:
            link.send(p.Stop())
            deadline = clock.now() + 1.0
            while not link.idle and clock.now() < deadline:
                link.poll()
                clock.sleep_until(clock.now() + 0.01)
            if not link.idle:
                link.estop()
        except (LinkError, *PORT_ERRORS):
            self.send_estop_byte()
        self._controller = None
        self._link_ok = False
        self._reason = f"the chair thread failed ({type(exc).__name__}: {exc}); the chair " \
                       "was stopped: restart chair serve"
        try:
            self._publish(force=True)
        except Exception:  # the snapshot itself may be what failed
            log.exception("no last snapshot")
