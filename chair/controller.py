"""The brain: one state machine (transitions) that scans, runs, pauses, parks and faults.

Everything that affects the controller's state lives in this module. `STATES` and
`TRANSITIONS` are the whole machine; the README's diagram is generated from them
(`chair diagram`). Any (state, event) pair not listed is refused: nothing is sent and the
chair stays as safe as it was. What the scanning and parking states do on each tick (and
when they fire ``scanned``, ``parked`` or ``fault``) is in `chair.scanpark`; what running
does (and when it fires ``finish``), with the setpoints held at the device, in
`chair.running`.
"""

from __future__ import annotations

from collections.abc import Hashable

from transitions import EventData, Machine, MachineError

from chair import protocol as p
from chair import scanpark
from chair.caps import Caps
from chair.chairinfo import REFERENCE, Chair
from chair.clock import Clock
from chair.errors import ChairRefused, LinkError, Stalled, UsageError
from chair.executor import Executor
from chair.fit import Skip, fit
from chair.limits import HOST
from chair.link import DeviceInfo, Link, Refused
from chair.program import Program
from chair.running import RunSteps
from chair.safety import Supervisor
from chair.scanpark import PARK_MM as PARK_MM  # importable from here, as before
from chair.scanpark import PARK_TIMEOUT_S as PARK_TIMEOUT_S
from chair.scanpark import SCAN_TIMEOUT_S as SCAN_TIMEOUT_S
from chair.scanpark import ScanAndPark
from chair.shoulder import BodyScan
from chair.trace import PLAUSIBLE_C, Trace, sample_record

STATES = ["disconnected", "connecting", "idle", "scanning", "running", "paused", "parking",
          "fault", "estop"]
#: States in which the chair may be moving.
MOTION_STATES = ("scanning", "running", "paused", "parking")
_LIVE = ["connecting", "idle", *MOTION_STATES]

TRANSITIONS = [
    {"trigger": "connect", "source": "disconnected", "dest": "connecting"},
    {"trigger": "connected", "source": "connecting", "dest": "idle"},
    {"trigger": "start", "source": "idle", "dest": "scanning", "conditions": "can_start"},
    {"trigger": "scanned", "source": "scanning", "dest": "running"},
    {"trigger": "pause", "source": "running", "dest": "paused"},
    {"trigger": "resume", "source": "paused", "dest": "running"},
    {"trigger": "stop", "source": ["scanning", "running", "paused"], "dest": "parking"},
    {"trigger": "finish", "source": "running", "dest": "parking"},
    {"trigger": "parked", "source": "parking", "dest": "idle"},
    {"trigger": "fault", "source": _LIVE, "dest": "fault"},
    {"trigger": "fault", "source": "fault", "dest": None},
    {"trigger": "estop", "source": [*_LIVE, "fault"], "dest": "estop"},
    {"trigger": "estop", "source": "estop", "dest": None},
    {"trigger": "reset", "source": ["fault", "estop"], "dest": "idle", "conditions": "can_reset"},
    {"trigger": "disconnect", "source": [*_LIVE, "fault", "estop"], "dest": "disconnected"},
]
EVENTS = sorted({t["trigger"] for t in TRANSITIONS})

TICK_S = 0.05
RENEW_S = 0.25
#: A renewal may go out this much before it is due when the controller is awake anyway:
#: it then rides on a tick or a report instead of waking the controller by itself.
RENEW_EARLY_S = TICK_S
#: The shortest sleep `wait` takes on a virtual clock (a deadline that is due but whose
#: strict test is not yet true, such as the link timeout, then passes a moment later).
MIN_WAIT_S = 0.001


def build_machine(model: object, **options: object) -> Machine:
    """The controller's machine on `model` (also used to draw the diagram)."""
    machine_class = options.pop("machine_class", Machine)
    return machine_class(model=model, states=STATES, transitions=TRANSITIONS,
                         initial="disconnected", auto_transitions=False, queued=True,
                         send_event=True, **options)


def diagram() -> str:
    """The state diagram as mermaid source, generated from the machine itself."""
    from transitions.extensions import GraphMachine

    class _Model:
        def can_start(self, event: EventData) -> bool:
            return True

        can_reset = can_start

    model = _Model()
    build_machine(model, machine_class=GraphMachine, graph_engine="mermaid",
                  show_conditions=True, title="chair controller")
    return model.get_graph().draw(None)


class Controller(ScanAndPark, RunSteps):
    """Drives one chair through one program; call `tick` every `TICK_S` seconds.

    Or let `wait` say when: in real time it is the fixed tick; on a virtual clock with a
    port that can wake it (``sim://``), the controller sleeps until its next deadline
    (`next_due`) or the device's next line, whichever comes first, so fast-forward skips
    every tick that would find nothing to do.
    """

    state: str

    def __init__(self, link: Link, clock: Clock, trace: Trace, program: Program,
                 caps_for: callable) -> None:
        self.link = link
        self.clock = clock
        self.trace = trace
        self.program = program
        self._caps_for = caps_for
        self.t0 = clock.now()
        self.info: DeviceInfo | None = None
        #: The chair the device described at connect (the reference chair until then).
        self.chair: Chair = REFERENCE
        #: The program's parts this chair lacks, left out at connect (chair.fit).
        self.skipped: tuple[Skip, ...] = ()
        self.caps: Caps | None = None
        self.supervisor: Supervisor | None = None
        self.executor: Executor | None = None
        self.status: p.StatusReport | None = None
        self.reason = ""
        self.completed = False
        self.lease_ms = int(HOST["lease_ms"])
        self._sent: dict[Hashable, p.Command] = {}
        self._applied: dict[Hashable, p.Command] | None = None  # `_sent` answers it
        self._last_renew = 0.0
        self._phase_started = 0.0
        self._session_started: float | None = None
        self._program_t0 = 0.0
        self._paused_at = 0.0
        self._scan_homed = False
        self._step_index: int | None = None
        self._vetoed = False
        #: A session began and the chair is not yet confirmed in its safe state: the
        #: supervisor keeps checking every report, also once idle (chair.settle).
        self.unconfirmed = False
        self.reported_since_stop = False  # a status report came after the last STOP
        self._vented = False  # parking: every airbag read vented, the STOP went out
        self.plausible_c = PLAUSIBLE_C  # the thermistor range, the device's once connected
        #: How the shoulder line is placed (chair.shoulder.choose, after connecting): a
        #: given line skips the roller's scan. None: the force scan.
        self.body_scan: BodyScan | None = None
        # recorded before the state changes (conditions passed: it will), so an on_enter
        # callback that raises (a write failing in on_enter_fault) cannot lose the record
        self.machine = build_machine(self, before_state_change="_record_state")

    def close(self) -> None:
        """Let go of the link (with its port), the program and the trace: the run is over.

        transitions binds every trigger to the model, so a controller lives in a reference
        cycle that only the cyclic collector frees, and everything it holds would wait for
        that with it (a simulated chair and its plant, per run, in a long-lived process).
        """
        self.link = self.executor = self.supervisor = None  # type: ignore[assignment]
        self.trace = self.program = self._caps_for = None  # type: ignore[assignment]
        self._sent, self._applied = {}, None

    # ------------------------------------------------------------------ events

    @property
    def t(self) -> float:
        """Seconds since this controller was made (the trace's time base)."""
        return self.clock.now() - self.t0

    def fire(self, event: str, **info: object) -> bool:
        """Trigger `event`; False when the machine or a condition refused it (traced)."""
        self._vetoed = False
        try:
            self.trigger(event, **info)  # queued machines always answer True: see _vetoed
            return not self._vetoed
        except MachineError as exc:
            self.trace.event(self.t, "refused", trigger=event, state=self.state,
                             why=str(exc.value) if hasattr(exc, "value") else str(exc))
            return False

    def _record_state(self, event: EventData) -> None:
        # an internal transition (a second fault while faulted) stays where it is
        source = event.transition.source
        self.trace.event(self.t, "state", source=source,
                         dest=event.transition.dest or source, trigger=event.event.name,
                         **{k: v for k, v in event.kwargs.items() if k == "reason"})

    def can_start(self, event: EventData) -> bool:
        why = None
        if self.status is None:
            why = "no status report from the chair yet: check the link"
        elif not self.status.occupied:
            why = "nobody is seated: the chair starts only with a person in it"
        elif self.status.faults:
            why = "the device has latched faults: " + ",".join(f.wire for f in self.status.faults)
        if why:
            self.trace.event(self.t, "refused", trigger="start", state=self.state, why=why)
            self.reason = why
            self._vetoed = True
        return why is None

    def can_reset(self, event: EventData) -> bool:
        """Ask the device to reset; allowed only when it accepts (its conditions cleared)."""
        self.link.send(p.Reset())
        if self.supervisor is not None:
            self.supervisor.commanded(p.Reset(), self.clock.now())
        deadline = self.clock.now() + 1.0
        while self.clock.now() < deadline:
            for message in self.link.poll():
                if isinstance(message, Refused) and isinstance(message.command, p.Reset):
                    self.trace.event(self.t, "refused", trigger="reset", state=self.state,
                                     why=f"{message.error.code.wire} {message.error.detail}")
                    self._vetoed = True
                    return False
                self._handle(message)
            if self.link.idle:
                self._forget_sent()
                return True
            self.clock.sleep_until(self.clock.now() + 0.01)
        self._vetoed = True
        return False

    # ------------------------------------------------------------------ state entries

    def on_enter_connecting(self, event: EventData) -> None:
        self.info = self.link.connect(accept=self._accept)
        limits = self.info.limits
        self.plausible_c = (limits.get("thermistor_c_min", PLAUSIBLE_C[0]),
                            limits.get("thermistor_c_max", PLAUSIBLE_C[1]))
        self.supervisor = Supervisor(self.caps, self.chair)
        self._await_status()
        self.fire("connected")

    def _accept(self, info: DeviceInfo) -> None:
        """Learn the chair from what its device said, before the session starts (nothing
        sent yet but queries): its caps, and the program fitted to it (chair.fit).

        Raises ChairRefused (exit 3) when its limits table lacks a cap the host needs,
        ProgramError (exit 2) when the chair can do none of the program, and UsageError
        (exit 2) when a caution needs a recline the chair cannot make."""
        self.chair = chair = info.chair
        why = chair.refusal()
        if why:
            raise ChairRefused(why)
        self.caps = self._caps_for(info.limits)
        if self.caps.back_pct_min > 0 and "back" not in chair.axes:
            raise UsageError(f"a caution needs the backrest reclined at least "
                             f"{self.caps.back_pct_min:g} %, and this chair has no backrest "
                             "drive: nothing moved")
        fitted = fit(self.program, chair)
        self.program, self.skipped = fitted.program, fitted.skipped

    def _await_status(self, timeout_s: float = 1.0) -> None:
        """Poll until the device's first status report (the session starts from it)."""
        self.status = None
        deadline = self.clock.now() + timeout_s
        while self.status is None and self.clock.now() < deadline:
            for message in self.link.poll():
                self._handle(message)
            self.clock.sleep_until(self.clock.now() + 0.01)
        if self.status is None:  # it answered the handshake, then fell silent: the link
            raise LinkError(f"no status report within {timeout_s:g} s of connecting: the "
                            "device fell silent or the link is too slow; check the cable")

    def on_enter_idle(self, event: EventData) -> None:
        if event.transition.source == "parking":
            self.completed = True

    def on_enter_scanning(self, event: EventData) -> None:
        self._session_started = self.clock.now()
        self._phase_started = self.clock.now()
        self._scan_homed = False
        self.unconfirmed = True

    def on_enter_running(self, event: EventData) -> None:
        now = self.clock.now()
        if event.transition.source == "paused":
            self._program_t0 += now - self._paused_at
        else:
            self._program_t0 = now

    def on_enter_paused(self, event: EventData) -> None:
        self._paused_at = self.clock.now()
        self._safe()  # nothing active while paused, so the dead-man has nothing to trip

    def on_enter_parking(self, event: EventData) -> None:
        self._phase_started = self.clock.now()
        self._vented = False
        self.reason = str(event.kwargs.get("reason", self.reason or "stopped"))

    def on_enter_fault(self, event: EventData) -> None:
        self.reason = str(event.kwargs.get("reason", "fault"))
        self.trace.event(self.t, "fault", source=event.kwargs.get("source", "host"),
                         detail=self.reason)
        self._safe()

    def on_enter_estop(self, event: EventData) -> None:
        self.link.estop()
        self.reported_since_stop = False
        self.reason = str(event.kwargs.get("reason", "emergency stop"))
        self._forget_sent()
        if self.supervisor is not None:  # everything is to rest now: bags must vent
            self.supervisor.commanded(p.Stop(), self.clock.now())

    # ------------------------------------------------------------------ the loop

    def tick(self) -> None:
        """Read the device, check it, and do this state's work."""
        now = self.clock.now()
        for message in self.link.poll():
            self._handle(message)
        if self.state in _LIVE and now - self.link.last_report > HOST["link_timeout_s"]:
            self.fire("fault", reason=f"link lost: no valid report for "
                      f"{now - self.link.last_report:.1f} s", source="link")
            return
        work = getattr(self, f"_tick_{self.state}", None)
        if work is not None:
            work(now)
        if self._sent and now - self._last_renew >= RENEW_S - RENEW_EARLY_S - 1e-9:
            self._last_renew = now
            self.link.send(p.Renew(self.lease_ms))

    def next_due(self) -> float:
        """The clock time of this controller's next deadline if nothing arrives before it.

        The link's resend and timeout, the lease renewal, the scan and park timeouts, the
        session timer and the program's next step or airbag phase. Everything else the
        controller does answers a device line (a status report, a reply, a fault).
        """
        now = self.clock.now()
        link = self.link
        due = link.next_due()
        if self.state in _LIVE:
            due = min(due, link.last_report + HOST["link_timeout_s"])
        if self._sent:
            due = min(due, self._last_renew + RENEW_S)
        state = self.state
        if state in ("scanning", "parking"):
            due = min(due, self._phase_started + (scanpark.SCAN_TIMEOUT_S if state == "scanning"
                                                  else scanpark.PARK_TIMEOUT_S))
        elif state == "running" and self.executor is not None:
            due = min(due, self._session_started + self.caps.session_s,
                      self._program_t0 + self.executor.next_change(now - self._program_t0))
        return max(due, now + MIN_WAIT_S)

    def wait(self, tick_at: float) -> float:
        """Sleep until the next tick, due at `tick_at`; return the time it was due.

        In real time (or on a port that cannot wake us) that is `tick_at` itself. On a
        virtual clock with a port that can, nothing happens between a deadline and the
        device's next line: sleep until the first of `next_due` and that line.
        """
        if self.link.can_wait:
            due = self.next_due()
            try:
                self.link.wait(due)
            except Stalled as exc:
                raise Stalled(f"{exc}; the controller was {self.state}, next due at "
                              f"t={due:.3f} s") from None
            return self.clock.now()
        self.clock.sleep_until(tick_at)
        return tick_at

    def _handle(self, message: p.DeviceMessage | Refused) -> None:
        if isinstance(message, p.StatusReport):
            self.status = message
            self.reported_since_stop = True
            step = self.current_step()
            self.trace.emit(sample_record(self.t, self.state, message,
                                          step.number if step else None, self.plausible_c,
                                          self.chair))
            supervised = self.state in MOTION_STATES or self.unconfirmed
            if supervised and self.supervisor is not None:
                why = self.supervisor.check(message, self.clock.now())
                if why and self.state not in ("fault", "estop"):  # (already stopped)
                    self.fire("fault", reason=why, source="supervisor")
            if self.state in MOTION_STATES and not message.occupied:
                self.fire("fault", reason="the seat emptied mid-session", source="occupancy")
        elif isinstance(message, p.FaultReport):
            self.trace.event(self.t, "device-fault", code=message.code.wire,
                             detail=message.detail)
            if message.code is p.FaultCode.ESTOP:
                self.fire("estop", reason="emergency stop at the device")
            else:
                self.fire("fault", reason=f"device {message.code.wire} {message.detail}".strip(),
                          source="device")
        elif isinstance(message, p.Banner):
            self.trace.event(self.t, "device-restart", firmware=message.firmware)
            self.fire("fault", reason="the device restarted; it will not resume by itself",
                      source="device")
        elif isinstance(message, Refused):
            self.trace.event(self.t, "device-refused", command=message.command.wire(),
                             code=message.error.code.wire, detail=message.error.detail)
            if self.state in MOTION_STATES:
                self.fire("fault", reason=f"device refused {message.command.VERB}: "
                          f"{message.error.code.wire}", source="device")
        elif isinstance(message, p.Info):
            self.trace.event(self.t, "device-info", text=message.text)
