"""The drive stage's session: the link `chair run` uses, its leases renewed as the controller
renews them, and every status report judged as `chair run` would judge it, on the chair the
device's banner and table describe (its zones and heaters, by name).

`DriveFailed` names the step it failed in; `Session.run_until` waits for a report that
satisfies a condition, failing on the first report `chair run` would fault on (unreadable,
a latched fault, the seat emptied, a pinch, an airbag over its cap, a zone rising that was
not filled, a heater warming that was not heated, a restart, a refused command).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from chair import protocol as p
from chair.conformance.rules import R
from chair.conformance.wire import CheckFailed
from chair.controller import RENEW_S
from chair.errors import LinkError
from chair.limits import HOST
from chair.link import DeviceInfo, Link, Refused
from chair.safety import AIR_MARGIN_KPA, HEAT_OFF_RISE_C, REGION_TOLERANCE_MM

TECHNIQUES = ("off", "knead", "tap", "press", "roll")


class DriveFailed(CheckFailed):
    """`chair run` would fail here: in step `step`, `seen` instead of `expected`."""

    def __init__(self, step: str, expected: str, seen: str, hint: str) -> None:
        super().__init__(f"{step}: {expected}", seen, hint, f"failed at {step}")
        self.step = step


def unreadable(status: p.StatusReport, banner: p.Banner) -> str:
    """Why `status` cannot be read against `banner`'s zones and heaters, or ''."""
    if (len(status.air_kpa), len(status.heat_c)) != (len(banner.zones), len(banner.heaters)):
        return (f"a status line with {len(status.air_kpa)} airbag pressures and "
                f"{len(status.heat_c)} temperatures; the banner names {len(banner.zones)} "
                f"zones and {len(banner.heaters)} heaters")
    values = (status.t, status.pos_mm, status.force_n, *status.air_kpa, *status.heat_c)
    if not math.isfinite(sum(values)):
        return "a status value that is not a finite number"
    if status.technique not in TECHNIQUES:
        return f"technique {status.technique!r}, not one of {', '.join(TECHNIQUES)}"
    if not -REGION_TOLERANCE_MM <= status.pos_mm <= banner.track_mm + REGION_TOLERANCE_MM:
        return f"pos={status.pos_mm:g} mm, off the {banner.track_mm:g} mm track"
    return ""


class Session:
    """One drive session on `link` (connected: `info`), on the link's clock."""

    def __init__(self, link: Link, info: DeviceInfo) -> None:
        self.link, self.info = link, info
        self.clock = link.clock
        self.banner, self.limits = info.banner, info.limits
        self.lease_ms = int(HOST["lease_ms"])
        self.step = "connect"
        self.status: p.StatusReport | None = None
        self.active = False  # a setpoint is in force: renew it as the controller does
        self._renewed = self.clock.now()
        #: per zone and heater: the reading it may not rise above while not driven
        self.air_rest: dict[str, float] = {}
        self.heat_rest: dict[str, float] = {}

    def fail(self, expected: str, seen: str, hint: str) -> DriveFailed:
        return DriveFailed(self.step, expected, seen, hint)

    def send(self, command: p.Command) -> None:
        """Send a setpoint (or STOP) the way the controller does, renewed while active."""
        self.link.send(command)
        if isinstance(command, p.Stop):
            self.active = False
        elif command.KIND is p.Kind.ACTUATE:
            if not self.active:
                self._renewed = self.clock.now()
            self.active = True

    def rest(self, *, air: tuple[str, ...] = (), heat: tuple[str, ...] = ()) -> None:
        """From the current report: every zone but `air` and heater but `heat` is not driven
        and must not rise (a zone rising that was not filled: the status line's order is not
        the banner's, or a valve is wired to the wrong bag)."""
        s = self.status
        assert s is not None
        self.air_rest = {z: max(kpa, 0.0) + R.vented_kpa for z, kpa in
                         zip(self.banner.zones, s.air_kpa, strict=True) if z not in air}
        self.heat_rest = {h: c + HEAT_OFF_RISE_C for h, c in
                          zip(self.banner.heaters, s.heat_c, strict=True) if h not in heat}

    def air(self, s: p.StatusReport, zone: str) -> float:
        return s.air_kpa[self.banner.zones.index(zone)]

    def heat(self, s: p.StatusReport, heater: str) -> float:
        return s.heat_c[self.banner.heaters.index(heater)]

    def run_until(self, done: Callable[[p.StatusReport], bool], timeout_s: float) -> \
            p.StatusReport | None:
        """Reports until one satisfies `done` (returned), or None after `timeout_s`."""
        clock, link = self.clock, self.link
        deadline = clock.now() + timeout_s
        while True:
            try:
                events = link.poll()
            except LinkError as exc:
                raise self.fail("the link to hold", str(exc), "check the cable") from None
            found = None
            for message in events:
                if isinstance(message, p.StatusReport):
                    self.judge(message)
                    self.status = message
                    if found is None and done(message):
                        found = message
                else:
                    self.judge_other(message)
            if found is not None:
                return found
            now = clock.now()
            if now >= deadline:
                return None
            if self.active and now >= self._renewed + RENEW_S - 1e-9:
                self._renewed = now
                link.send(p.Renew(self.lease_ms))
            wake = min(deadline, self._renewed + RENEW_S if self.active else math.inf,
                       link.next_due())
            if link.can_wait:
                link.wait(max(wake, now + 0.001))
            else:
                clock.sleep_until(min(max(wake, now + 0.001), now + 0.01))

    def judge_other(self, message: object) -> None:
        """A pushed fault, a restart or a refused command: `chair run` would stop."""
        if isinstance(message, p.FaultReport):
            raise self.fail("no fault", f"!{message.code.wire} {message.detail}".strip(),
                            "the device latched a fault during an ordinary session: see "
                            "its code in docs/protocol.md")
        if isinstance(message, p.Banner):
            raise self.fail("no restart", "a #CHAIR banner came unasked", "a brown-out or "
                            "a watchdog reset? check the power supply")
        if isinstance(message, Refused):
            raise self.fail(f"ok to {message.command.wire()}",
                            f"{message.error.code.wire} {message.error.detail}".strip(),
                            "a setpoint within every cap, on a zone or heater the banner "
                            "names, must be accepted")

    def judge(self, s: p.StatusReport) -> None:
        """What `chair run`'s supervisor faults on, keyed by the banner's names."""
        why = unreadable(s, self.banner)
        if why:
            raise self.fail("a status line the host can read", why,
                            "list one value per banner zone and heater, in its order "
                            "(protocol.md section 4)")
        if s.faults:
            raise self.fail("nothing latched", ",".join(f.wire for f in s.faults),
                            "see the fault's code in docs/protocol.md")
        if not s.occupied:
            raise self.fail("someone seated all session", "occ=0", "the seat switch must "
                            "stay on while someone sits")
        if s.pinch:
            raise self.fail("no pinch", "pinch=1", "check the pinch sensor's wiring")
        for zone, kpa in zip(self.banner.zones, s.air_kpa, strict=True):
            cap = self.limits.get(f"airbag_kpa_max.{zone}", math.inf)
            if kpa > cap + AIR_MARGIN_KPA:
                raise self.fail(f"airbag {zone} under its cap {cap:g} kPa", f"{kpa:.1f} kPa",
                                "regulate to the target; vent at the cap")
            if zone in self.air_rest and kpa > self.air_rest[zone]:
                raise self.fail(f"airbag {zone} at rest (not filled in this step)",
                                f"{kpa:.1f} kPa", "list `air` in the banner's zone order, "
                                "and check each fill valve is wired to its own bag")
        for heater, c in zip(self.banner.heaters, s.heat_c, strict=True):
            if c > self.limits.get("heat_c_max", R.heat_c_max):
                raise self.fail(f"heater {heater} under the cut-off", f"{c:.1f} °C",
                                "cut the heater at heat_c_max")
            if heater in self.heat_rest and c > self.heat_rest[heater]:
                raise self.fail(f"heater {heater} not warming (not heated in this step)",
                                f"{c:.1f} °C", "list `heat` in the banner's heater order, "
                                "and check each relay drives its own pad")
