"""What the controller does on each tick while scanning the body and while parking.

A mixin of `chair.controller.Controller`: these ticks read its status and fire its events
(``scanned``, ``parked``, ``fault``); the machine itself (states, transitions) stays in
`chair.controller`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chair import protocol as p
from chair.executor import Executor
from chair.landmarks import landmark_positions
from chair.link import DeviceInfo
from chair.safety import VENTED_KPA
from chair.shoulder import senses_force

if TYPE_CHECKING:
    from chair.controller import Controller

PARK_MM = 5.0
PARK_TIMEOUT_S = 25.0
SCAN_TIMEOUT_S = 45.0


class ScanAndPark:
    """The body scan's and the parking's ticks, for `Controller` to inherit."""

    def _tick_scanning(self: Controller, now: float) -> None:
        status, info = self.status, self.info
        if status is None or info is None:
            return
        if now - self._phase_started > SCAN_TIMEOUT_S:
            self.fire("fault", reason="body scan took too long")
            return
        given = self.body_scan.shoulder_mm if self.body_scan is not None else None
        if given is not None:  # the person gave it (no force sensing): nothing to roll
            self._scanned(given, info)
            return
        if not self._scan_homed:
            self._apply({"roller": p.SetRoller(0.0, "off", 1, 1, 1, self.lease_ms)})
            self._scan_homed = status.pos_mm < PARK_MM
            return
        seat = info.banner.seat_mm
        self._apply({"roller": p.SetRoller(seat, "roll", 1, 1, 1, self.lease_ms)})
        if status.force_n > 0:
            self._scanned(status.pos_mm, info)
        elif status.pos_mm >= seat - PARK_MM:
            hint = "" if senses_force(info.banner) else (
                ": this chair's roller senses no force; give the person's height")
            self.fire("fault", reason=f"body scan found no shoulder line above the seat{hint}")

    def _scanned(self: Controller, shoulder_mm: float, info: DeviceInfo) -> None:
        """Place the landmarks from the shoulder line (scanned or given) and start running."""
        try:
            landmarks = landmark_positions(shoulder_mm, info.banner.seat_mm,
                                           info.banner.track_mm)
        except ValueError as exc:
            self.fire("fault", reason=f"body scan implausible: {exc}")
            return
        method = self.body_scan.method if self.body_scan is not None else "force"
        self.trace.event(self.t, "scan", shoulder_mm=shoulder_mm, method=method,
                         landmarks={k: round(v, 1) for k, v in landmarks.items()})
        self.executor = Executor(self.program, landmarks, self.supervisor, self.lease_ms)
        if self.fire("scanned"):
            # the first step's commands replace the scan's now (its clock started in
            # on_enter_running, after the scan's tick)
            self._tick_running(self.clock.now())

    def _tick_parking(self: Controller, now: float) -> None:
        """Vent, cool and take the roller home, heads in; parked once home.

        Everything but the roller goes to rest at once: airbags to 0 kPa through their
        vent valves (the supervisor judges each fall against its start), heaters and foot
        rollers off. Once every airbag reads vented, one STOP opens the dump path as well
        and cuts the heater supply, and the roller goes on home alone. A chair that
        cannot park within PARK_TIMEOUT_S is a fault, never a completion.
        """
        status = self.status
        if now - self._phase_started > PARK_TIMEOUT_S:
            where = f" (roller at {status.pos_mm:.0f} mm)" if status else ""
            self.fire("fault", reason=f"parking took over {PARK_TIMEOUT_S:g} s{where}")
            return
        if not self._vented and status is not None and self.reported_since_stop \
                and max(status.air_kpa, default=0.0) < VENTED_KPA:
            self._vented = True
            self._safe()
        self._apply({"roller": p.SetRoller(0.0, "off", 1, 1, 1, self.lease_ms)})
        if status is not None and status.pos_mm < PARK_MM:
            self._safe()
            self.fire("parked")
