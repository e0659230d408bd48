"""What every check shares: the context read at first contact, the known state a check
starts from (`begin`), the probes (outputs that show in a status line, on an axis the
device's banner names), the watchers, and the one registry of checks (`check`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass

from chair import protocol as p
from chair.conformance.rules import PROBE_KPA, VENT_S
from chair.conformance.wire import EPS, CheckFailed, CheckSkipped, Wire, is_status, ms, text
from chair.errors import LinkError
from chair.ports import baud_of

# --------------------------------------------------------------------------- context


@dataclass
class Context:
    """What every check may use: the wire, the banner and the limits table read at start."""

    wire: Wire
    url: str
    banner: p.Banner | None
    banner_at_open: bool
    limits: dict[str, float]
    occupied: bool

    @property
    def zone(self) -> str:
        """The airbag zone the probes use."""
        zones = self.banner.zones if self.banner else ()
        return "lumbar" if "lumbar" in zones else (zones[0] if zones else "lumbar")

    @property
    def zone_index(self) -> int:
        zones = self.banner.zones if self.banner else ()
        return zones.index(self.zone) if self.zone in zones else 0

    def has(self, axis: str) -> bool:
        """The banner names drive `axis` (a banner that says nothing of its axes, as
        protocol 1's, is taken to have them all)."""
        axes = self.banner.axes if self.banner else None
        return axes is None or axis in axes

    @property
    def probe_name(self) -> str:
        """What the probe setpoint drives, in words."""
        return "foot rollers" if self.has("foot") else "roller heads"

    def probe(self, s: p.StatusReport, lease_ms: int, level: int = 1) -> p.Command:
        """A setpoint that shows in the status line (`level` 0: off): the foot rollers at
        `level`, or on a chair without them the roller heads kneading where they are at
        speed `level`."""
        if self.has("foot"):
            return p.SetFoot(level, lease_ms)
        return p.SetRoller(round(s.pos_mm, 1), "knead" if level else "off", 1, 1,
                           max(1, level), lease_ms)

    def probe_on(self, s: p.StatusReport, level: int = 1) -> bool:
        """The probe at `level` shows in `s`."""
        if self.has("foot"):
            return s.foot == level
        return s.technique == "knead" and s.speed == level


def contact(wire: Wire, url: str, contact_s: float) -> Context:
    """First contact: the banner (asking with INFO, for `contact_s` at most), the limits
    table and occupancy. LinkError when nothing answers."""
    wire.pump()
    at_open = wire.banners > 0
    deadline = wire.now() + contact_s
    reply = None
    while reply is None and wire.now() < deadline:  # a board may still be booting: ask again
        reply = wire.line(p.encode_command(p.QueryInfo()), None, loose=True,
                          timeout_s=min(1.0, max(0.0, deadline - wire.now())))
    if reply is None:
        raise LinkError(f"no answer from {url} within {contact_s:g} s: is a chair (or "
                        f"`chair sim`) on that port, at {baud_of(wire.port) or 'its baud rate'} "
                        "(--baud N tries another), and its firmware running?")
    banners = wire.since(0, p.Banner)
    wire.banners_asked = wire.banners  # every banner so far was at start or asked for
    limits: dict[str, float] = {}
    try:
        before, _ = wire.query(p.QueryLimits(), timeout_s=2.0)
        limits = {m.name: m.value for m in before if isinstance(m, p.LimitLine)}
        occupied = wire.status().occupied
    except CheckFailed:
        occupied = False
    return Context(wire, url, banners[-1] if banners else None, at_open, limits, occupied)


def begin(c: Context, *, report_ms: int = 0, seated: bool = False,
          clear: bool = True) -> p.StatusReport:
    """A known state: a new session (SYNC: outputs safe), RESET if latched, reports set."""
    w = c.wire
    reply = w.send(p.Sync())
    if not isinstance(reply, p.Ok):
        raise CheckFailed("ok to SYNC", text(reply), "SYNC is accepted in every state")
    s = w.status()
    if s.faults and clear:
        present = conditions(c, s)
        if present:
            raise CheckSkipped(f"{flt(s)} latched while {'; '.join(present)}: fix the cause "
                               "first")
        reply = w.send(p.Reset())
        if not isinstance(reply, p.Ok):
            raise CheckSkipped(f"{flt(s)} latched and RESET refused ({text(reply)}): fix "
                               "its cause first")
        s = w.status()
    if report_ms:
        reply = w.send(p.SetReport(report_ms))
        if not isinstance(reply, p.Ok):
            raise CheckFailed(f"ok to REPORT {report_ms}", text(reply),
                              "REPORT takes 20..5000 ms; the timed checks need status "
                              "reports every 20 ms")
    if seated and not s.occupied:
        raise CheckSkipped("nobody seated (occ=0): this check actuates, which needs "
                           "someone in the chair")
    return s


def end(c: Context) -> None:
    """Leave the device safe: a new session (every output to its safe value), no reports."""
    with contextlib.suppress(CheckFailed):
        c.wire.send(p.Sync())
        c.wire.send(p.SetReport(0))


# --------------------------------------------------------------------------- helpers


def flt(s: p.StatusReport) -> str:
    return ",".join(f"F{f.value:02d}" for f in s.faults) or "-"


def running(s: p.StatusReport) -> str:
    """The probed outputs still on in `s` ('' when none)."""
    parts = []
    if s.foot:
        parts.append(f"foot={s.foot}")
    if s.technique != "off" or s.depth:
        parts.append(f"tech={s.technique} d={s.depth}")
    return " ".join(parts)


def show(c: Context, s: p.StatusReport) -> str:
    kpa = s.air_kpa[c.zone_index] if len(s.air_kpa) > c.zone_index else math.nan
    return (f"<{s.state} t={s.t:.3f} foot={s.foot} tech={s.technique} d={s.depth} "
            f"air.{c.zone}={kpa:.1f} flt={flt(s)}>")


def expect_ok(reply: p.Ok | p.Error, what: str, hint: str) -> None:
    if isinstance(reply, p.Error):
        if reply.code is p.ErrorCode.UNOCCUPIED:
            raise CheckSkipped(f"{what} refused with E12: the device reports nobody seated")
        raise CheckFailed(f"ok to {what}", text(reply), hint)


def verb(command: p.Command) -> str:
    """A command as a person names it: its verb and arguments without the lease."""
    return command.wire().rsplit(" ", 1)[0]


def refused(reply: p.Ok | p.Error, code: p.ErrorCode) -> bool:
    return isinstance(reply, p.Error) and reply.code is code


def start_probe(c: Context, s: p.StatusReport, lease_ms: int, *, air: bool = True) -> None:
    """Foot rollers at 1 (if the chair has them), the heads kneading where they are, and
    (`air`) a gentle airbag."""
    commands: list[p.Command] = [p.SetRoller(round(s.pos_mm, 1), "knead", 1, 1, 1, lease_ms)]
    if c.has("foot"):
        commands.insert(0, p.SetFoot(1, lease_ms))
    if air:
        cap = c.limits.get(f"airbag_kpa_max.{c.zone}", PROBE_KPA * 2)
        commands.append(p.SetAir(c.zone, min(PROBE_KPA, cap / 2), lease_ms))
    for command in commands:
        expect_ok(c.wire.send(command), command.wire(), "a valid setpoint inside every cap must be "
            "accepted when nothing is latched")


def stop_all(c: Context) -> None:
    """STOP, after a check saw something run that should not have."""
    with contextlib.suppress(CheckFailed):
        c.wire.send(p.Stop())


def watch(c: Context, until_t: float, *, keepalive_s: float | None = None,
          slack_s: float = 1.0) -> list[p.StatusReport]:
    """Status lines until one reaches device time `until_t` (or `slack_s` of host time
    more than that span). With `keepalive_s`, a CRC'd STATUS that often keeps the dead-man
    quiet."""
    w = c.wire
    mark = w.mark()
    last = [m for m in w.log if is_status(m)]
    start_t = last[-1].t if last else 0.0
    host_deadline = w.now() + max(0.0, until_t - start_t) + slack_s
    next_keepalive = w.now()
    while True:
        now = w.now()
        if keepalive_s is not None and now >= next_keepalive:
            w.keepalive()
            next_keepalive = now + keepalive_s
        statuses = w.since(mark, p.StatusReport)
        if (statuses and statuses[-1].t >= until_t) or now >= host_deadline:
            return statuses
        w.clock.sleep_until(now + w.poll_s)


def vented(c: Context, statuses: list[p.StatusReport], safe: p.StatusReport) -> str:
    """The probe airbag must fall once the outputs are safe (every safe state vents)."""
    z = c.zone_index
    later = next((s for s in statuses if s.t >= safe.t + VENT_S - EPS), None)
    p0 = safe.air_kpa[z]
    if p0 < 0.5:
        return f"airbag {c.zone} had not filled ({p0:.1f} kPa), venting not observed"
    if later is None:
        return "no status line to see the airbag vent"
    p1 = later.air_kpa[z]
    if p1 > 0.9 * p0:
        raise CheckFailed(f"airbag {c.zone} venting once the outputs stopped",
                          f"{p0:.1f} kPa at the stop, {p1:.1f} kPa {ms(later.t - safe.t)} "
                          "later", "the safe state opens every vent and stops the pump: "
                          "holding an airbag inflated may trap a person (safety 7)")
    return f"airbag vented {p0:.1f} -> {p1:.1f} kPa in {ms(later.t - safe.t)}"


def stopped(c: Context, statuses: list[p.StatusReport], ref_t: float, limit_s: float,
             what: str, hint: str) -> p.StatusReport:
    """The first status after `ref_t` with the probe outputs off; fails if any status
    later than `limit_s` after `ref_t` still shows them on, or none shows them off."""
    after = [s for s in statuses if s.t >= ref_t - EPS]
    late = next((s for s in after if running(s) and s.t - ref_t > limit_s + EPS), None)
    expected = f"{what} within {ms(limit_s)}"
    if late is not None:
        raise CheckFailed(expected, f"{running(late)} still on {ms(late.t - ref_t)} later: "
                          f"{show(c, late)}", hint, f"> {ms(late.t - ref_t)}")
    safe = next((s for s in after if not running(s)), None)
    if safe is None:
        seen = (f"no status line showed it (last: {show(c, after[-1])})" if after
                else "no status lines at all (REPORT 20 not honoured?)")
        raise CheckFailed(expected, seen, hint)
    return safe



def conditions(c: Context, s: p.StatusReport) -> list[str]:
    """Fault conditions visible in a status line (or the limits table): RESET must wait."""
    L = c.limits
    heaters = c.banner.heaters if c.banner else ()
    zones = c.banner.zones if c.banner else ()
    lo, hi = L.get("thermistor_c_min", -math.inf), L.get("thermistor_c_max", math.inf)
    found = []
    for name, temp in zip(heaters, s.heat_c, strict=False):
        if not lo <= temp <= hi:
            found.append(f"thermistor {name} reads {temp:.1f} C (plausible {lo:g}..{hi:g})")
        elif temp > L.get("heat_c_max", math.inf):
            found.append(f"heater {name} at {temp:.1f} C")
    for zone, kpa in zip(zones, s.air_kpa, strict=False):
        if kpa > L.get(f"airbag_kpa_max.{zone}", math.inf):
            found.append(f"airbag {zone} at {kpa:.1f} kPa")
    if s.pinch:
        found.append("pinch sensor on")
    if p.FaultCode.LIMITS_CRC in s.faults:
        found.append("limits table fails its CRC")
    return found


def estop_byte(c: Context) -> bytes:
    """The emergency stop of the protocol the device's banner names (`!` if unknown)."""
    return bytes([p.estop_byte(c.banner.proto if c.banner else 1)])


# --------------------------------------------------------------------------- the checks


@dataclass(frozen=True)
class Check:
    name: str
    rule: str
    title: str
    run: Callable[[Context], tuple[str, str]]


CHECKS: list[Check] = []


def check(name: str, rule: str, title: str) -> Callable:
    """Register a check: it returns (figure, detail) or raises CheckFailed/CheckSkipped."""
    def register(func: Callable[[Context], tuple[str, str]]) -> Callable:
        CHECKS.append(Check(name, rule, title, func))
        return func
    return register

