"""What the controller does on each tick while running a program, and how it holds its
setpoints at the device (running, scanning and parking alike).

A mixin of `chair.controller.Controller`, as `chair.scanpark` is: the running tick asks the
executor for the step's setpoints and fires ``finish`` at the program's end or the session
timer; `_apply` sends what changed and returns what is no longer wanted to rest; `_safe`
puts everything to rest with one STOP. The machine itself stays in `chair.controller`.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

from chair import protocol as p
from chair.executor import off_command

if TYPE_CHECKING:
    from chair.controller import Controller


class RunSteps:
    """The running tick and the setpoints in force, for `Controller` to inherit."""

    def in_force(self: Controller) -> tuple[p.Command, ...]:
        """The setpoints sent and in force now (none outside a session's motion)."""
        return tuple(self._sent.values())

    def current_step(self: Controller):
        """The step whose setpoints are in force (a report read before the next step's
        commands went out belongs to the step before), or None outside a program."""
        if self._step_index is None or self.state not in ("running", "paused"):
            return None
        return self.program.steps[self._step_index]

    def _apply(self: Controller, wanted: dict[Hashable, p.Command]) -> None:
        """Send what changed; return actuators no longer wanted to rest.

        Nothing wanted at all (a rest step) is one STOP: every actuator at rest and no lease
        left at the device, so the host may fall silent without tripping its dead-man (an
        actuator returned to rest one by one, such as the roller held where it stands,
        still holds a lease that only renewals keep alive).
        """
        if wanted is self._applied:
            return  # the executor's same answer, already sent: nothing changed
        if not wanted and self._sent:
            self._safe()
        self._applied = wanted
        now = self.clock.now()
        for key, command in wanted.items():
            if self._sent.get(key) != command:
                self._send(key, command, now)
        for key in [k for k in self._sent if k not in wanted]:
            del self._sent[key]
            off = off_command(key, self.status, self.lease_ms)
            if off is not None:
                self.link.send(off)
                self.supervisor.commanded(off, now)

    def _send(self: Controller, key: Hashable, command: p.Command, now: float) -> None:
        self._sent[key] = command
        self.link.send(command)
        self.supervisor.commanded(command, now)
        if not self._last_renew:
            self._last_renew = now

    def _tick_running(self: Controller, now: float) -> None:
        assert self.executor is not None and self._session_started is not None
        if now - self._session_started >= self.caps.session_s:
            self.fire("finish", reason="session timer")
            return
        elapsed = now - self._program_t0
        found = self.executor.step_at(elapsed)
        if found is None:
            self.fire("finish", reason="completed")
            return
        index, step = found
        if index != self._step_index:
            self._step_index = index
            self.trace.event(self.t, "step", number=step.number, zone=step.zone,
                             name=step.name, seconds=step.seconds)
        self._apply(self.executor.setpoints(elapsed, self.status))

    def _safe(self: Controller) -> None:
        """Everything to rest with one STOP (the supervisor then expects it at rest)."""
        self._forget_sent()
        self.link.send(p.Stop())
        self.reported_since_stop = False
        if self.supervisor is not None:
            self.supervisor.commanded(p.Stop(), self.clock.now())

    def _forget_sent(self: Controller) -> None:
        self._sent.clear()
        self._applied = None
