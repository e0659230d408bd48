"""The drive stage: after the rules' checks, a short real session on the device's own
zones, as `chair run` drives it, failing (naming the step) on anything that would make
`chair run` fail.

Steps: connect (the link's handshake: INFO, LIMITS and its CRC, SYNC, REPORT; then the
chair the banner and table describe: a cap for every zone, heater and drive the banner
names, and caps for no zone it does not), the body scan (the controller's: home, roll
toward the seat until the roller feels the shoulders; skipped, saying so, when the banner
names no force sensor), a roller sweep down and back, one airbag cycle per banner zone
(fill, a hold longer than the inflation took, vent; every other zone stays at rest; the
first zone's inflation and hold together outlast `airbag_inflate_s_max`, as holding is not
inflating), a
heat ramp per banner heater (its reading follows and rises; the others do not), and
parking (vented, heaters off, the roller home, stopped, the safe state confirmed). Each
figure is in `chair.conformance.rules`; every report is judged by `session.Session`.
"""

from __future__ import annotations

import math

from chair import protocol as p
from chair.caps import make_caps
from chair.conformance.rules import PARK_MM, R
from chair.conformance.session import DriveFailed, Session
from chair.conformance.setup import Context, begin, check
from chair.errors import LinkError
from chair.executor import ARRIVED_MM
from chair.landmarks import landmark_positions
from chair.limits import cap
from chair.link import Link
from chair.runner import SETTLE_S
from chair.safety import TRANSIT_REPORTS

#: The table entries a chair needs for each drive the banner names, and for heaters.
NEEDS = {"carriage": ("roller_depth_max", "roller_width_max", "roller_speed_max"),
         "foot": ("foot_speed_max",)}
HEATER_NEEDS = ("heat_target_c_max",)


@check("drive", "rules 7-9 drive",
       "a short session as `chair run` drives it, on the banner's own zones and heaters: "
       "connect, body scan, roller sweep, one airbag cycle per zone (a hold longer than its "
       "inflation), a heat ramp per heater, parking")
def check_drive(c: Context) -> tuple[str, str]:
    begin(c, seated=True)
    link = Link(c.wire.port, c.wire.clock)
    try:
        info = link.connect()
    except LinkError as exc:
        raise DriveFailed("connect", "the handshake `chair run` does (INFO, LIMITS and its "
                          "CRC, SYNC, REPORT)", str(exc), "answer every step of the "
                          "handshake (protocol.md sections 6, 7)") from None
    ses = Session(link, info)
    describe(ses)
    if ses.run_until(lambda s: True, 1.0) is None:
        raise ses.fail("a status report within 1 s of connecting", "none",
                       "REPORT 100 must start the reports")
    ses.rest()
    start = ses.clock.now()
    done = [scan(ses)]
    if has(ses, "carriage"):
        done.append(sweep(ses))
    done.extend(airbag(ses, zone) for zone in ses.banner.zones)
    done.extend(heat(ses, heater) for heater in ses.banner.heaters)
    if not ses.banner.heaters:
        done.append("no heaters (heaters= empty): no heat ramp")
    done.append(park(ses))
    took = ses.clock.now() - start
    return f"{len(done)} steps in {took:.0f} s", "; ".join(done)


def has(ses: Session, axis: str) -> bool:
    """The banner names drive `axis` (a banner silent about its axes has them all)."""
    return ses.banner.axes is None or axis in ses.banner.axes


def describe(ses: Session) -> None:
    """The chair the banner and table describe must be whole: what `chair run` keys by."""
    b, limits = ses.banner, ses.limits
    needed = [f"airbag_kpa_max.{z}" for z in b.zones]
    needed += [n for axis, names in NEEDS.items() if has(ses, axis) for n in names]
    needed += list(HEATER_NEEDS) if b.heaters else []
    missing = [name for name in needed if name not in limits]
    if missing:
        raise ses.fail("a limits table with a cap for every zone, heater and drive the "
                       "banner names", f"no {', '.join(missing)} (zones={','.join(b.zones)})",
                       "add them to the table and its CRC (protocol.md section 7): the host "
                       "refuses a zone it has no cap for")
    # caps for zones the banner does not name are harmless: the host keys every zone by
    # the banner's names (issue 12: a bridge with the reference chair's full table)


def scan(ses: Session) -> str:
    """The controller's body scan: home, then roll toward the seat until force shows."""
    ses.step = "scan"
    b = ses.banner
    if b.sensors is not None and "force" not in b.sensors:
        return ("scan skipped: the banner names no force sensor (chair run takes the "
                "shoulder line from the person)")
    if not has(ses, "carriage"):
        return "scan skipped: the banner names no carriage"
    move(ses, 0.0, "off", home=True)
    seat = b.seat_mm
    ses.send(p.SetRoller(seat, "roll", 1, 1, 1, ses.lease_ms))
    s = ses.run_until(lambda s: s.force_n > 0 or s.pos_mm >= seat - PARK_MM, R.scan_s)
    if s is None:
        raise ses.fail(f"the scan done within {R.scan_s:g} s", f"roller at "
                       f"{ses.status.pos_mm:.0f} mm", "the carriage must move when told")
    if s.force_n <= 0:
        raise ses.fail("a shoulder line (force > 0) above the seat", f"no force down to "
                       f"{s.pos_mm:.0f} mm (seat {seat:g} mm)", "the banner names a force "
                       "sensor: report its reading as `force`, or leave `force` out of "
                       "`sensors` (the host then asks the person)")
    try:
        landmark_positions(s.pos_mm, seat, b.track_mm)
    except ValueError as exc:
        raise ses.fail("a plausible body scan", str(exc), "report `force` only while the "
                       "roller touches the back") from None
    ses.send(p.SetRoller(round(s.pos_mm, 1), "off", 1, 1, 1, ses.lease_ms))
    return f"scan: shoulders at {s.pos_mm:.0f} mm"


def move(ses: Session, target: float, technique: str, *, home: bool = False) -> float:
    """The roller to `target` mm with `technique`; it must keep moving (1 mm within
    `stall_s`) and arrive within the device's track timeout. Returns the seconds taken."""
    ses.send(p.SetRoller(round(target, 1), technique, 1, 1, 1, ses.lease_ms))
    clock = ses.clock
    start = clock.now()
    last = [start, ses.status.pos_mm]
    over = [0]

    def arrived(s: p.StatusReport) -> bool:
        now = clock.now()
        if abs(s.pos_mm - last[1]) >= 1.0:
            last[:] = [now, s.pos_mm]
        elif now - last[0] > R.stall_s:
            raise ses.fail(f"the roller moving toward {target:.0f} mm", f"stuck at "
                           f"{s.pos_mm:.0f} mm for {now - last[0]:.1f} s", "drive the "
                           "carriage when told; report its encoder as `pos`")
        over[0] = over[0] + 1 if s.technique not in ("off", technique) else 0
        if over[0] > TRANSIT_REPORTS:
            raise ses.fail(f"technique {technique}", f"technique {s.technique}",
                           "report the technique in force")
        return s.pos_mm < PARK_MM if home else abs(s.pos_mm - target) <= ARRIVED_MM

    timeout = ses.limits.get("track_timeout_s", 42.0)
    if ses.run_until(arrived, timeout) is None:
        raise ses.fail(f"the roller at {target:.0f} mm within {timeout:g} s",
                       f"at {ses.status.pos_mm:.0f} mm", "the carriage must reach a "
                       "position on the track")
    return clock.now() - start


def sweep(ses: Session) -> str:
    """The roller heads rolling down the back and up again."""
    ses.step = "roller sweep"
    top = ses.status.pos_mm
    far = min(max(ses.banner.track_mm * R.sweep_share, top + 100.0),
              ses.banner.track_mm - 2 * ARRIVED_MM)
    down = move(ses, far, "roll")
    up = move(ses, top, "roll")
    ses.send(p.SetRoller(round(top, 1), "off", 1, 1, 1, ses.lease_ms))
    return f"sweep {top:.0f}-{far:.0f}-{top:.0f} mm in {down + up:.1f} s"


def airbag(ses: Session, zone: str) -> str:
    """Fill `zone` to a share of its cap, hold it longer than the fill took, vent it."""
    ses.step = f"airbag {zone}"
    clock = ses.clock
    # on a seated person: never above what `chair run` would allow by default (its cap for
    # the zone, the gentle calf and foot cap), and filled and held no longer than its
    # airbag_hold_s_max (found by the tester: 12 kPa calves and an 11 s hold)
    caps = make_caps(ses.limits, zones=tuple(ses.banner.zones))
    target = round(min(ses.limits[f"airbag_kpa_max.{zone}"] * R.drive_air_share,
                       caps.airbag_kpa[zone]), 1)
    inflate_s = ses.limits.get("airbag_inflate_s_max", R.airbag_inflate_s_max)
    on_s_max = cap("airbag_hold_s_max", ses.limits)
    ses.rest(air=(zone,))
    start = clock.now()
    ses.send(p.SetAir(zone, target, ses.lease_ms))

    def over(kpa: float) -> DriveFailed:
        return ses.fail(f"{zone} regulated to {target:g} kPa (at most "
                        f"{target + R.air_margin_kpa:g})", f"{kpa:.1f} kPa", "close the fill "
                        "valve once the bag reaches its target: the regulator overfills")

    def filled(s: p.StatusReport) -> bool:
        kpa = ses.air(s, zone)
        if kpa > target + R.air_margin_kpa:
            raise over(kpa)
        if kpa < 0.2 * target and clock.now() - start > R.air_rise_s:
            raise ses.fail(f"{zone} inflating (20 % of {target:g} kPa within "
                           f"{R.air_rise_s:g} s)", f"{kpa:.1f} kPa", "open that zone's "
                           "fill valve and run the pump on AIR")
        return kpa >= R.drive_air_fill * target

    if ses.run_until(filled, inflate_s) is None:
        raise ses.fail(f"{zone} at {R.drive_air_fill * target:.1f} kPa within "
                       f"{inflate_s:g} s", f"{ses.air(ses.status, zone):.1f} kPa",
                       "fill to the target; check the pump and the valve")
    fill_s = clock.now() - start
    hold_s = min(fill_s + R.drive_air_hold, on_s_max - fill_s)  # longer than the fill

    def held(s: p.StatusReport) -> bool:
        kpa = ses.air(s, zone)
        if kpa > target + R.air_margin_kpa:
            raise over(kpa)
        if kpa < R.drive_air_hold_band * target:
            raise ses.fail(f"{zone} held at {target:g} kPa for {hold_s:.1f} s (longer than "
                           "the inflation)", f"{kpa:.1f} kPa after "
                           f"{clock.now() - start - fill_s:.1f} s of the hold",
                           "hold the bag at its target while the setpoint is in force: a "
                           "hold is not part of the inflation (F06)")
        return False

    ses.run_until(held, hold_s)
    p0, vent_at = ses.air(ses.status, zone), clock.now()
    ses.send(p.SetAir(zone, 0.0, ses.lease_ms))

    def vented(s: p.StatusReport) -> bool:
        kpa, late = ses.air(s, zone), max(0.0, clock.now() - vent_at - R.air_vent_lag_s)
        bound = p0 * math.exp(-late / R.air_vent_tau_s) + R.air_vent_margin_kpa
        if kpa >= R.vented_kpa and kpa > bound:
            raise ses.fail(f"{zone} venting (under {bound:.1f} kPa "
                           f"{clock.now() - vent_at:.1f} s after {p0:.1f})", f"{kpa:.1f} "
                           "kPa", "open the zone's vent valve on AIR 0")
        return kpa < R.vented_kpa

    limit = R.air_vent_lag_s + R.air_vent_tau_s * math.log(max(p0, 1.0) /
                                                          R.air_vent_margin_kpa) + 1.0
    if ses.run_until(vented, limit) is None:
        raise ses.fail(f"{zone} vented within {limit:.1f} s", f"{ses.air(ses.status, zone):.1f}"
                       " kPa", "open the zone's vent valve on AIR 0")
    ses.rest()
    return (f"{zone} {target:g} kPa in {fill_s:.1f} s, held {hold_s:.1f} s, vented in "
            f"{clock.now() - vent_at:.1f} s")


def heat(ses: Session, heater: str) -> str:
    """Heat `heater` toward a gentle target until its reading has risen, then off."""
    ses.step = f"heat {heater}"
    clock = ses.clock
    target = min(R.drive_heat_c, ses.limits.get("heat_target_c_max", R.drive_heat_c))
    ses.rest(heat=(heater,))
    c0 = ses.heat(ses.status, heater)
    start = clock.now()
    follow = [start, c0]  # since when, and the lowest reading since the last rise
    ses.send(p.SetHeat(heater, target, ses.lease_ms))

    def warmed(s: p.StatusReport) -> bool:
        c, now = ses.heat(s, heater), clock.now()
        if c >= follow[1] + R.heat_follow_c or c >= target - 1.0:
            follow[:] = [now, c]
        elif now - follow[0] > R.heat_follow_s:
            raise ses.fail(f"{heater}'s reading following its powered heater (+"
                           f"{R.heat_follow_c:g} °C within {R.heat_follow_s:g} s)",
                           f"{c:.1f} °C, from {c0:.1f} °C", "power the pad on HEAT and "
                           "check its thermistor touches it")
        follow[1] = min(follow[1], c)
        return c >= c0 + R.heat_rise_c

    if ses.run_until(warmed, R.heat_ramp_s) is None:
        raise ses.fail(f"{heater} {R.heat_rise_c:g} °C warmer within {R.heat_ramp_s:g} s",
                       f"{ses.heat(ses.status, heater):.1f} °C, from {c0:.1f} °C",
                       "power the pad on HEAT")
    took = clock.now() - start
    ses.send(p.SetHeat(heater, 0.0, ses.lease_ms))
    ses.rest(heat=(heater,))
    return f"{heater} +{R.heat_rise_c:g} °C in {took:.1f} s"


def park(ses: Session) -> str:
    """As `chair run` parks: everything to rest, the roller home, STOP, confirmed safe."""
    ses.step = "parking"
    clock = ses.clock
    start = clock.now()
    for zone in ses.banner.zones:
        ses.send(p.SetAir(zone, 0.0, ses.lease_ms))
    for heater in ses.banner.heaters:
        ses.send(p.SetHeat(heater, 0.0, ses.lease_ms))
    if has(ses, "carriage"):
        move(ses, 0.0, "off", home=True)
    ses.send(p.Stop())

    def safe(s: p.StatusReport) -> bool:
        return (s.state != "Run" and max(s.air_kpa, default=0.0) < R.vented_kpa
                and s.technique == "off" and not s.foot
                and (s.pos_mm < PARK_MM or not has(ses, "carriage")))

    if ses.run_until(safe, SETTLE_S) is None:
        s = ses.status
        raise ses.fail(f"the safe state confirmed within {SETTLE_S:g} s of STOP",
                       f"<{s.state} pos={s.pos_mm:.0f} tech={s.technique} foot={s.foot} "
                       f"air={max(s.air_kpa, default=0.0):.1f}>", "STOP puts every output "
                       "to its safe value")
    return f"parked and safe in {clock.now() - start:.1f} s"
