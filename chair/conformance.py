"""`chair conformance PORT`: check a device against the safety rules, over any pyserial URL.

What a hobbyist runs against the board they bridged before anyone sits in the chair. Each
check probes one rule of the safety guide through the wire protocol (docs/protocol.md),
starts from a known state (SYNC, and RESET if something is latched), judges the device on
its own status lines (their `t`, outputs and latched faults, so a slow link does not blur
the figures) and leaves the device safe. A real port is read without blocking and polled
with short clock sleeps; on a ``sim://?clock=virtual`` port the battery runs in virtual
time, in milliseconds.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import textwrap
from collections.abc import Callable
from dataclasses import asdict, dataclass

import serial

from chair import protocol as p
from chair.clock import Clock, MonotonicClock
from chair.errors import Exit, LinkError, UsageError
from chair.limits import Limit, table_crc
from chair.ports import open_port

# The rules' own figures (safety.md), not the device's table: the device is what is checked.
DEADMAN_S = 0.5  # rule 1: host silent this long -> safe state ...
TICK_S = 0.01  # ... within one device tick; also the emergency stop's budget (rule 3)
LEASE_MAX_MS = 2000  # rule 2
BAD_FRAMES_MAX = 3  # rule 4: this many bad frames ...
BAD_WINDOW_S = 1.0  # ... within this window latch F03
RULE_CAPS = {"deadman_ms": (">", 500), "tick_ms": (">", 10), "lease_ms_max": (">", 2000),
             "bad_frames_max": (">", 3), "bad_frames_window_ms": ("<", 1000),
             "session_s_max": (">", 1800), "airbag_inflate_s_max": (">", 10),
             "heat_c_max": (">", 45)}

REPORT_MS = 20  # report period while timing something: the protocol's fastest
REPLY_S = 0.5  # a reply later than this counts as none
EPS = 0.0011  # status `t` has 3 decimals: two readings differ by at most 1 ms of rounding
PROBE_KPA = 5.0  # a gentle airbag pressure for the probes
VENT_S = 0.2  # how long after a stop the airbag must be seen falling
CONTACT_S = 3.0  # first contact: an Arduino resets when the port opens and boots in ~2 s
QUERY_TAGS = (50000, 60000)  # queries carry a tag (never sequenced) so replies match

READ_CHUNK = 4096  # a non-blocking read returns at most this much

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
EXIT_OK, EXIT_FAILED, EXIT_LINK = Exit.OK, Exit.FAULT, Exit.LINK


class CheckFailed(Exception):
    """The device broke the rule: what was expected, what was seen, and what to fix."""

    def __init__(self, expected: str, seen: str, hint: str, figure: str = "") -> None:
        super().__init__(f"expected {expected}; saw {seen}")
        self.expected, self.seen, self.hint, self.figure = expected, seen, hint, figure


class CheckSkipped(Exception):
    """The check could not run; the reason says why (the run is then incomplete)."""


@dataclass
class Result:
    """One row of the report."""

    check: str
    rule: str
    title: str
    result: str
    figure: str = ""
    detail: str = ""
    expected: str = ""
    seen: str = ""
    hint: str = ""


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


# --------------------------------------------------------------------------- the wire


def _is_status(m: object) -> bool:
    return isinstance(m, p.StatusReport)


class Wire:
    """The checker's end of the link: raw lines out, decoded device lines in, one clock."""

    def __init__(self, port: serial.SerialBase, clock: Clock) -> None:
        self.port = port
        self.clock = clock
        self.poll_s = 0.01 if getattr(clock, "virtual", False) else 0.005
        self._decoder = p.DeviceDecoder()
        self.log: list[p.DeviceMessage] = []
        self.bad_lines = 0  # device lines that failed their CRC or did not parse
        self.banners = 0
        self.banners_asked = 0  # answers to INFO; any other banner means a restart
        self.seq = 0
        self.tag = QUERY_TAGS[0]  # the last query tag used
        self.last_bad_sent = -math.inf  # when we last sent a damaged line (F03 window)

    def now(self) -> float:
        return self.clock.now()

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"writing to {self.port.port}: {exc}; the port vanished or was "
                            "unplugged") from exc

    def pump(self) -> None:
        """Read and decode whatever has arrived (never blocks)."""
        try:
            waiting = self.port.in_waiting  # socket:// only says 0 or 1: read what is there
            data = self.port.read(max(waiting, READ_CHUNK)) if waiting else b""
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"reading from {self.port.port}: {exc}; the port vanished or "
                            "was unplugged") from exc
        for message in self._decoder.feed(data) if data else ():
            if isinstance(message, p.BadLine):
                self.bad_lines += 1
                continue
            if isinstance(message, p.Banner):
                self.banners += 1
            self.log.append(message)

    def mark(self) -> int:
        """A position in the log: what arrives from now on comes after it."""
        self.pump()
        return len(self.log)

    def since(self, mark: int, kind: type | tuple = object) -> list:
        self.pump()
        return [m for m in self.log[mark:] if isinstance(m, kind)]

    def sleep(self, seconds: float) -> None:
        self.sleep_until(self.now() + seconds)

    def sleep_until(self, deadline: float) -> None:
        """Wait on the clock in poll steps, reading as we go."""
        while True:
            self.pump()
            now = self.now()
            if now >= deadline:
                return
            self.clock.sleep_until(min(now + self.poll_s, deadline))

    def wait(self, predicate: Callable[[object], bool], timeout_s: float,
             mark: int) -> p.DeviceMessage | None:
        """The first message after `mark` that satisfies `predicate`, or None in time."""
        deadline = self.now() + timeout_s
        i = mark
        while True:
            self.pump()
            while i < len(self.log):
                i += 1
                if predicate(self.log[i - 1]):
                    return self.log[i - 1]
            now = self.now()
            if now >= deadline:
                return None
            self.clock.sleep_until(min(now + self.poll_s, deadline))

    def next_seq(self) -> int:
        self.seq = p.seq_after(self.seq)
        return self.seq

    def next_tag(self) -> int:
        low, high = QUERY_TAGS
        self.tag = low + (self.tag + 1 - low) % (high - low)
        return self.tag

    def line(self, data: bytes, seq: int | None, *, loose: bool = False,
             timeout_s: float = REPLY_S) -> p.Ok | p.Error | None:
        """Send raw bytes; the reply tagged `seq` (an untagged error always counts)."""
        mark = self.mark()
        self.write(data)

        def answers(m: object) -> bool:
            if isinstance(m, p.Ok):
                return m.seq == seq or (loose and m.seq is None)
            return isinstance(m, p.Error) and (m.seq == seq or m.seq is None)

        return self.wait(answers, timeout_s, mark)  # type: ignore[return-value]

    def send(self, command: p.Command, *, seq: int | None = None, crc: bool = True,
             timeout_s: float = REPLY_S) -> p.Ok | p.Error:
        """One command (a fresh seq for control and actuate lines); its reply, or fail."""
        if seq is None and command.KIND in (p.Kind.CONTROL, p.Kind.ACTUATE):
            seq = self.next_seq()
        data = p.encode_command(command, seq, crc=crc)
        reply = self.line(data, seq, timeout_s=timeout_s)
        if reply is None:
            raise CheckFailed(f"a reply to {data.decode().strip()!r}", f"none within "
                              f"{_ms(timeout_s)}", "the device stopped answering lines: "
                              "check that its main loop never blocks")
        return reply

    def query(self, command: p.Command, *, tag: bool = True, crc: bool = True,
              timeout_s: float = REPLY_S) -> tuple[list, p.Ok | p.Error]:
        """A query: the messages that came before its reply, and the reply."""
        seq = self.next_tag() if tag else None
        mark = self.mark()
        reply = self.line(p.encode_command(command, seq, crc=crc), seq, loose=not tag,
                          timeout_s=timeout_s)
        if reply is None:
            raise CheckFailed(f"a reply to {command.VERB}", f"none within {_ms(timeout_s)}",
                              "queries are answered in every state: check the parser")
        before = self.log[mark:self.log.index(reply, mark)]
        return before, reply

    def status(self) -> p.StatusReport:
        """``STATUS`` with a CRC (it restarts the dead-man): the status line it returns."""
        before, reply = self.query(p.QueryStatus())
        statuses = [m for m in before if isinstance(m, p.StatusReport)]
        if not isinstance(reply, p.Ok) or not statuses:
            raise CheckFailed("a status line, then ok, in answer to STATUS",
                              _text(reply) if statuses else "no status line",
                              "STATUS sends one <...> line, then ok <tag>")
        return statuses[-1]

    def keepalive(self) -> None:
        """A CRC'd STATUS without waiting for it: restarts the dead-man, renews nothing."""
        self.write(p.encode_command(p.QueryStatus(), self.next_tag()))


def _text(message: object) -> str:
    if isinstance(message, p.Ok | p.Error | p.FaultReport | p.Banner | p.Info):
        return message.payload()
    return repr(message)


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


def _contact(wire: Wire, url: str) -> Context:
    """First contact: the banner (asking with INFO), the limits table and occupancy."""
    wire.pump()
    at_open = wire.banners > 0
    deadline = wire.now() + CONTACT_S
    reply = None
    while reply is None and wire.now() < deadline:  # a board may still be booting: ask again
        reply = wire.line(p.encode_command(p.QueryInfo()), None, loose=True,
                          timeout_s=min(1.0, max(0.0, deadline - wire.now())))
    if reply is None:
        raise LinkError(f"no answer from {url} within {CONTACT_S:g} s: is a chair (or "
                        "`chair sim`) on that port, at 115200 baud, and its firmware "
                        "running?")
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
        raise CheckFailed("ok to SYNC", _text(reply), "SYNC is accepted in every state")
    s = w.status()
    if s.faults and clear:
        present = _conditions(c, s)
        if present:
            raise CheckSkipped(f"{_flt(s)} latched while {'; '.join(present)}: fix the cause "
                               "first")
        reply = w.send(p.Reset())
        if not isinstance(reply, p.Ok):
            raise CheckSkipped(f"{_flt(s)} latched and RESET refused ({_text(reply)}): fix "
                               "its cause first")
        s = w.status()
    if report_ms:
        reply = w.send(p.SetReport(report_ms))
        if not isinstance(reply, p.Ok):
            raise CheckFailed(f"ok to REPORT {report_ms}", _text(reply),
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


def _flt(s: p.StatusReport) -> str:
    return ",".join(f"F{f.value:02d}" for f in s.faults) or "-"


def _running(s: p.StatusReport) -> str:
    """The probed outputs still on in `s` ('' when none)."""
    parts = []
    if s.foot:
        parts.append(f"foot={s.foot}")
    if s.technique != "off" or s.depth:
        parts.append(f"tech={s.technique} d={s.depth}")
    return " ".join(parts)


def _show(c: Context, s: p.StatusReport) -> str:
    kpa = s.air_kpa[c.zone_index] if len(s.air_kpa) > c.zone_index else math.nan
    return (f"<{s.state} t={s.t:.3f} foot={s.foot} tech={s.technique} d={s.depth} "
            f"air.{c.zone}={kpa:.1f} flt={_flt(s)}>")


def _ok(reply: p.Ok | p.Error, what: str, hint: str) -> None:
    if isinstance(reply, p.Error):
        if reply.code is p.ErrorCode.UNOCCUPIED:
            raise CheckSkipped(f"{what} refused with E12: the device reports nobody seated")
        raise CheckFailed(f"ok to {what}", _text(reply), hint)


def _refused(reply: p.Ok | p.Error, code: p.ErrorCode) -> bool:
    return isinstance(reply, p.Error) and reply.code is code


def start_probe(c: Context, s: p.StatusReport, lease_ms: int, *, air: bool = True) -> None:
    """Foot rollers at 1, the heads kneading where they are, and (`air`) a gentle airbag."""
    commands: list[p.Command] = [p.SetFoot(1, lease_ms),
                                 p.SetRoller(round(s.pos_mm, 1), "knead", 1, 1, 1, lease_ms)]
    if air:
        cap = c.limits.get(f"airbag_kpa_max.{c.zone}", PROBE_KPA * 2)
        commands.append(p.SetAir(c.zone, min(PROBE_KPA, cap / 2), lease_ms))
    for command in commands:
        _ok(c.wire.send(command), command.wire(), "a valid setpoint inside every cap must be "
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
    last = [m for m in w.log if _is_status(m)]
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


def _vented(c: Context, statuses: list[p.StatusReport], safe: p.StatusReport) -> str:
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
                          f"{p0:.1f} kPa at the stop, {p1:.1f} kPa {_ms(later.t - safe.t)} "
                          "later", "the safe state opens every vent and stops the pump: "
                          "holding an airbag inflated may trap a person (safety 7)")
    return f"airbag vented {p0:.1f} -> {p1:.1f} kPa in {_ms(later.t - safe.t)}"


def _stopped(c: Context, statuses: list[p.StatusReport], ref_t: float, limit_s: float,
             what: str, hint: str) -> p.StatusReport:
    """The first status after `ref_t` with the probe outputs off; fails if any status
    later than `limit_s` after `ref_t` still shows them on, or none shows them off."""
    after = [s for s in statuses if s.t >= ref_t - EPS]
    late = next((s for s in after if _running(s) and s.t - ref_t > limit_s + EPS), None)
    expected = f"{what} within {_ms(limit_s)}"
    if late is not None:
        raise CheckFailed(expected, f"{_running(late)} still on {_ms(late.t - ref_t)} later: "
                          f"{_show(c, late)}", hint, f"> {_ms(late.t - ref_t)}")
    safe = next((s for s in after if not _running(s)), None)
    if safe is None:
        seen = (f"no status line showed it (last: {_show(c, after[-1])})" if after
                else "no status lines at all (REPORT 20 not honoured?)")
        raise CheckFailed(expected, seen, hint)
    return safe


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


@check("banner", "rule 12 restart", "INFO answers #CHAIR proto=1 or 2 with every field, then ok")
def check_banner(c: Context) -> tuple[str, str]:
    w = c.wire
    w.banners_asked += 1
    before, reply = w.query(p.QueryInfo())
    banners = [m for m in before if isinstance(m, p.Banner)]
    hint = ("send `#CHAIR proto=2 fw=... zones=... heaters=... track=... seat=... "
            "limits=XXXX*CRC` at every start and in answer to INFO (protocol section 6)")
    if not banners or not isinstance(reply, p.Ok):
        if not banners:
            w.banners_asked -= 1
        raise CheckFailed("a #CHAIR banner, then ok", f"{len(banners)} banners, then "
                          f"{_text(reply)}", hint)
    b = banners[-1]
    problems = []
    if b.proto not in p.PROTOCOL_VERSIONS:
        problems.append(f"proto={b.proto} (this host speaks "
                        f"{' and '.join(map(str, p.PROTOCOL_VERSIONS))})")
    if not b.zones:
        problems.append("no airbag zones")
    if not b.track_mm > 0 or not 0 <= b.seat_mm <= b.track_mm:
        problems.append(f"track={b.track_mm:g} seat={b.seat_mm:g}")
    if problems:
        raise CheckFailed(f"protocol {' or '.join(map(str, p.PROTOCOL_VERSIONS))} and a "
                          "plausible chair",
                          "; ".join(problems), hint)
    return (f"proto={b.proto} fw={b.firmware}",
            f"{len(b.zones)} zones, {len(b.heaters)} heaters, track {b.track_mm:g} mm; "
            f"banner {'pushed' if c.banner_at_open else 'not seen'} when the port opened")


@check("status", "rule 1 reports",
       "`?` gives one status line within 100 ms; STATUS is tagged; REPORT paces reports")
def check_status(c: Context) -> tuple[str, str]:
    w = c.wire
    begin(c, clear=False)
    mark = w.mark()
    t0 = w.now()
    w.write(b"?")
    first = w.wait(_is_status, 0.1, mark)
    hint = "`?` is caught as it arrives and answered with one <...> status line, no reply"
    if first is None:
        raise CheckFailed("a status line within 100 ms of `?`", "none", hint)
    took = w.now() - t0
    w.sleep_until(t0 + 0.1)
    got = w.since(mark)
    statuses = [m for m in got if _is_status(m)]
    replies = [_text(m) for m in got if isinstance(m, p.Ok | p.Error)]
    if len(statuses) != 1 or replies:
        raise CheckFailed("exactly one status line and no reply to `?`",
                          f"{len(statuses)} status lines, replies {replies}", hint)
    before, reply = w.query(p.QueryStatus())
    tag = w.tag
    if not (isinstance(reply, p.Ok) and reply.seq == tag) or not any(map(_is_status, before)):
        raise CheckFailed(f"a status line, then `ok {tag}`", f"{_text(reply)} after "
                          f"{len(before)} lines", "a query's seq tags its reply")
    s = [m for m in before if _is_status(m)][-1]
    if c.banner and (len(s.air_kpa), len(s.heat_c)) != (len(c.banner.zones),
                                                        len(c.banner.heaters)):
        raise CheckFailed("one air value per banner zone and one heat value per heater",
                          f"air={len(s.air_kpa)} heat={len(s.heat_c)}",
                          "list the status values in the banner's order")
    _ok(w.send(p.SetReport(100)), "REPORT 100", "REPORT 20..5000 sets the report period")
    reports = watch(c, s.t + 0.45)
    gaps = [b.t - a.t for a, b in itertools.pairwise(reports)]
    _ok(w.send(p.SetReport(0)), "REPORT 0", "REPORT 0 turns reports off")
    if len(gaps) < 3 or any(abs(g - 0.1) > TICK_S + EPS for g in gaps):
        raise CheckFailed("a status report every 100 ms after REPORT 100",
                          f"{len(reports)} reports, gaps {[_ms(g) for g in gaps]}",
                          "push a report from the tick when its period is due")
    mark = w.mark()
    w.sleep(0.25)
    if w.since(mark, p.StatusReport):
        raise CheckFailed("no reports after REPORT 0", "reports kept coming",
                          "REPORT 0 turns reports off")
    return f"? in {_ms(took)}", f"STATUS tagged ok {tag}; reports every {_ms(max(gaps))}"


REQUIRED_LIMITS = ("deadman_ms", "tick_ms", "lease_ms_max", "bad_frames_max",
                   "bad_frames_window_ms", "roller_depth_max", "roller_width_max",
                   "roller_speed_max", "foot_speed_max")


@check("limits", "rule 14 limits",
       "LIMITS lines' CRC equals the ok line's and the banner's; every entry within the rules")
def check_limits(c: Context) -> tuple[str, str]:
    w = c.wire
    begin(c, clear=False)
    before, reply = w.query(p.QueryLimits(), timeout_s=2.0)
    lines = [m for m in before if isinstance(m, p.LimitLine)]
    crc = table_crc([Limit(m.name, m.value, "", "", "") for m in lines])
    claimed = dict(pair.split("=", 1) for pair in getattr(reply, "data", "").split()
                   if "=" in pair)
    names = {m.name for m in lines}
    table = {m.name: m.value for m in lines}
    problems = []
    if not isinstance(reply, p.Ok):
        problems.append(f"reply {_text(reply)}")
    if claimed.get("n") != str(len(lines)):
        problems.append(f"{len(lines)} $ lines but n={claimed.get('n')}")
    if claimed.get("crc") != f"{crc:04X}":
        problems.append(f"the lines' CRC is {crc:04X} but crc={claimed.get('crc')}")
    corrupt = c.banner is not None and c.banner.limits_crc != crc
    if corrupt:
        problems.append(f"the lines' CRC {crc:04X} differs from the banner's "
                        f"limits={c.banner.limits_crc:04X}: the table is not the one the "
                        "firmware was built with")
    zones = c.banner.zones if c.banner else ()
    heaters = c.banner.heaters if c.banner else ()
    required = (*REQUIRED_LIMITS, *(f"airbag_kpa_max.{z}" for z in zones),
                *(("airbag_held_s_max", "airbag_duty_max", "airbag_duty_window_s")
                  if zones else ()),
                *(("heat_target_c_max", "heat_c_max", "heat_follow_s", "heat_follow_c")
                  if heaters else ()))
    missing = [n for n in required if n not in names]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    for name, (sign, bound) in RULE_CAPS.items():
        value = table.get(name)
        if value is not None and (value > bound if sign == ">" else value < bound):
            problems.append(f"{name}={value:g} breaks the rule ({'max' if sign == '>' else 'min'}"
                            f" {bound})")
    if corrupt or claimed.get("crc") != f"{crc:04X}":
        s = w.status()
        gate = w.send(p.SetFoot(0, 300))
        if p.FaultCode.LIMITS_CRC in s.faults and _refused(gate, p.ErrorCode.LIMITS_INVALID):
            problems.append("(the device did latch F14 and refuses actuation with E14)")
        else:
            problems.append(f"the device does not refuse actuation (flt={_flt(s)}, "
                            f"FOOT 0 answered {_text(gate)})")
    if problems:
        raise CheckFailed("every $ line, with n= and crc= in the ok line and the banner's "
                          "limits= all agreeing, and every safety number within its rule",
                          "; ".join(problems), "a corrupt or hand-edited table: reflash the "
                          "firmware; keep the table as $name=value strings in flash and check "
                          "their CRC at start (protocol section 7)", f"crc={crc:04X}")
    return f"crc={crc:04X} n={len(lines)}", (f"matches the banner and the ok line; deadman_ms="
                                             f"{table['deadman_ms']:g} lease_ms_max="
                                             f"{table['lease_ms_max']:g}")


def _flip_bit(line: bytes, index: int, bit: int) -> bytes:
    data = bytearray(line)
    data[index] ^= 1 << bit
    return bytes(data)


@check("crc", "rule 4 integrity", "a bad CRC is refused E01 and a missing one E06, with no change")
def check_crc(c: Context) -> tuple[str, str]:
    w = c.wire
    begin(c, seated=True)
    seq = p.seq_after(w.seq)
    good = p.encode_command(p.SetFoot(1, 300), seq)
    star = good.rindex(b"*")
    cases = (("a flipped CRC bit", _flip_bit(good, star + 4, 0), p.ErrorCode.BAD_CRC),
             ("a flipped payload bit", good.replace(b"FOOT 1", b"FOOT 3"), p.ErrorCode.BAD_CRC),
             ("no CRC", good[:star] + b"\n", p.ErrorCode.NEED_CRC))
    for what, line, code in cases:
        reply = w.line(line, seq)
        if code is p.ErrorCode.BAD_CRC:
            w.last_bad_sent = w.now()
        s = w.status()
        if not _refused(reply, code) or _running(s):
            stop_all(c)
            raise CheckFailed(f"{code.wire} and nothing changed for {line.strip()!r} "
                              f"({what})", f"{_text(reply) if reply else 'no reply'}; "
                              f"{_show(c, s)}", "check the CRC of every line before "
                              "anything else, and require one on every control and "
                              "actuate line outside console mode")
        if code is p.ErrorCode.BAD_CRC and reply.seq is not None:
            raise CheckFailed(f"`error - {code.wire}` (a damaged line's seq cannot be "
                              "trusted)", _text(reply), "answer bad lines with `-`")
    w.seq = seq
    reply = w.line(good, seq)
    s = w.status()
    if not isinstance(reply, p.Ok) or s.foot != 1:
        raise CheckFailed(f"the intact line {good.strip()!r} accepted (the damaged ones did "
                          "not use up its seq)", f"{_text(reply) if reply else 'no reply'}; "
                          f"{_show(c, s)}", "a damaged or refused-for-CRC line changes "
                          "nothing, its seq included")
    _ok(w.send(p.SetFoot(0, 300)), "FOOT 0", "FOOT 0 turns the foot rollers off")
    return "E01 E01 E06", "flipped CRC bit, flipped payload bit, no CRC: each refused, no change"


@check("sequence", "rule 4 integrity",
       "a gap is refused E05 expect=N; a duplicate is never run twice, across the wrap")
def check_sequence(c: Context) -> tuple[str, str]:
    w = c.wire
    begin(c, seated=True)
    _ok(w.send(p.Sync(), seq=65533), "SYNC", "SYNC is accepted with any seq")
    w.seq = 65533
    hint_gap = "refuse a seq ahead of the expected one with E05 expect=N and run nothing"
    reply = w.send(p.SetFoot(1, 300), seq=1)  # 3 ahead of 65534, across the wrap
    s = w.status()
    if not _refused(reply, p.ErrorCode.SEQ_GAP) or reply.detail != "expect=65534" \
            or _running(s):
        stop_all(c)
        raise CheckFailed("`error 1 E05 seq-gap expect=65534` and nothing run for seq 1 "
                          "when 65534 is expected", f"{_text(reply)}; {_show(c, s)}", hint_gap)
    first = p.encode_command(p.SetFoot(1, 2000), 65534)
    reply = w.line(first, 65534)
    w.seq = 65534
    s = w.status()
    if not isinstance(reply, p.Ok) or s.foot != 1:
        raise CheckFailed("ok 65534 and foot=1", f"{_text(reply)}; {_show(c, s)}",
                          "the expected seq is executed")
    _ok(w.send(p.SetFoot(0, 2000)), "65535 FOOT 0", "the next seq is executed")
    _ok(w.send(p.Renew(500)), "0 RENEW", "the seq wraps from 65535 to 0")
    again = w.line(first, 65534)  # a duplicate from before the wrap
    s = w.status()
    if _running(s):
        stop_all(c)
        raise CheckFailed("the duplicate 65534 answered from memory and not run again",
                          f"{_text(again)}; {_show(c, s)}", "remember the replies of the "
                          "last 32 seqs; a seq behind the expected one is a duplicate "
                          "(distance modulo 65536): replay its reply, run nothing")
    if not (isinstance(again, p.Ok) and again.seq == 65534):
        raise CheckFailed("`ok 65534` replayed for the duplicate", _text(again),
                          "replay the remembered reply of a duplicate")
    _ok(w.send(p.Stop()), "1 STOP", "the sequence goes on after a duplicate")
    return "E05, replayed", "gap refused expect=65534; duplicate 65534 replayed after the wrap"


@check("range", "rule 5 caps", "a value above each device cap is refused E04 and nothing moves")
def check_range(c: Context) -> tuple[str, str]:
    w = c.wire
    s = begin(c, seated=True)
    L = c.limits
    zones = c.banner.zones if c.banner else ()
    heaters = c.banner.heaters if c.banner else ()
    pos = round(s.pos_mm, 1)
    cases: list[tuple[str, p.Command]] = []
    missing = []

    def case(limit: str, make: Callable[[float], p.Command]) -> None:
        if limit in L:
            cases.append((f"{limit}={L[limit]:g}", make(L[limit])))
        else:
            missing.append(limit)

    for zone in zones:
        case(f"airbag_kpa_max.{zone}", lambda cap, z=zone: p.SetAir(z, cap + 1.0, 300))
    for heater in heaters:
        case("heat_target_c_max", lambda cap, h=heater: p.SetHeat(h, cap + 1.0, 300))
    case("roller_depth_max", lambda cap: p.SetRoller(pos, "knead", 1, int(cap) + 1, 1, 300))
    case("roller_width_max", lambda cap: p.SetRoller(pos, "knead", int(cap) + 1, 1, 1, 300))
    case("roller_speed_max", lambda cap: p.SetRoller(pos, "knead", 1, 1, int(cap) + 1, 300))
    case("foot_speed_max", lambda cap: p.SetFoot(int(cap) + 1, 300))
    lease = int(L.get("lease_ms_max", LEASE_MAX_MS))
    cases.append((f"lease_ms_max={lease}", p.SetFoot(1, lease + 1)))
    cases.append((f"lease_ms_max={lease}", p.Renew(lease + 1)))
    if c.banner:
        cases.append((f"track={c.banner.track_mm:g}",
                      p.SetRoller(c.banner.track_mm + 10.0, "off", 1, 1, 1, 300)))
    accepted, wrong = [], []
    for cap, command in cases:
        reply = w.send(command)
        if isinstance(reply, p.Ok):
            accepted.append(f"{command.wire()} (cap {cap})")
            stop_all(c)
        elif reply.code is not p.ErrorCode.OUT_OF_RANGE:
            wrong.append(f"{command.wire()}: {_text(reply)}")
    s = w.status()
    inflated = [f"{z}={kpa:.1f}" for z, kpa in zip(zones, s.air_kpa, strict=False) if kpa > 1.0]
    if accepted or wrong or _running(s) or inflated:
        stop_all(c)
        seen = "; ".join(filter(None, [accepted and f"accepted {', '.join(accepted)}",
                                       wrong and f"answered {', '.join(wrong)}",
                                       _running(s), inflated and f"air {inflated}"]))
        raise CheckFailed("E04 out-of-range for every value above a device cap, nothing "
                          "moving", seen, "check every argument against the device's own "
                          "limits table before acting: the device is the last line of "
                          "defence when the host is wrong", f"{len(accepted)} accepted")
    note = f"; not in the table: {', '.join(missing)}" if missing else ""
    return f"{len(cases)} refused", f"every cap+1 refused E04, nothing moved{note}"


@check("lease", "rule 2 leases", "a setpoint not renewed stops after its lease (+1 tick); RENEW "
       "extends it")
def check_lease(c: Context) -> tuple[str, str]:
    w = c.wire
    s = begin(c, report_ms=REPORT_MS, seated=True)
    lease, renew = 0.3, 0.5
    start_probe(c, s, int(lease * 1000), air=False)
    ref = w.status()
    limit = lease + TICK_S
    statuses = watch(c, ref.t + limit + 0.15, keepalive_s=0.1)
    hint = ("time every setpoint from the line that set it; at the end of its lease put that "
            "actuator to its safe value (a host that stops renewing must not leave it on)")
    safe = _stopped(c, statuses, ref.t, limit, "foot rollers and roller heads off at the end "
                    f"of a {_ms(lease)} lease", hint)
    expired = safe.t - ref.t
    if safe.faults:
        raise CheckFailed("a lease ending latches nothing (and a CRC'd STATUS every 100 ms "
                          "keeps the dead-man quiet)", _show(c, safe),
                          "any line with a valid CRC restarts the dead-man timer")
    # RENEW: extend a running lease past its end
    _ok(w.send(p.SetFoot(1, int(lease * 1000))), "FOOT 1", "FOOT 1 with a lease is accepted")
    ref = w.status()
    watch(c, ref.t + 0.15, keepalive_s=0.1)
    _ok(w.send(p.Renew(int(renew * 1000))), f"RENEW {int(renew * 1000)}",
        "RENEW 1..lease_ms_max extends every active lease")
    renewed = w.status()
    statuses = watch(c, renewed.t + renew + TICK_S + 0.1, keepalive_s=0.1)
    between = [x for x in statuses
               if ref.t + lease + TICK_S + EPS < x.t < renewed.t + renew - TICK_S - EPS]
    dropped = next((x for x in between if not _running(x)), None)
    if not between or dropped is not None:
        raise CheckFailed(f"foot rollers still on between the first lease's end "
                          f"({_ms(lease)}) and the renewed one's "
                          f"({_ms(renewed.t - ref.t + renew)})",
                          _show(c, dropped) if dropped else "no status line in between",
                          "RENEW moves the end of every active lease to now + lease_ms")
    safe = _stopped(c, statuses, renewed.t, renew + TICK_S, "foot rollers off at the end of "
                    f"the renewed {_ms(renew)} lease", hint)
    return (f"lease {_ms(expired)}", f"{_ms(lease)} lease: off after {_ms(expired)}; "
            f"RENEW {_ms(renew)}: off after {_ms(safe.t - renewed.t)}")


@check("deadman", "rule 1 dead-man",
       "host silent: safe state within 500 ms + 1 tick of the last valid frame, F02 latched")
def check_deadman(c: Context) -> tuple[str, str]:
    w = c.wire
    s = begin(c, report_ms=REPORT_MS, seated=True)
    start_probe(c, s, LEASE_MAX_MS)
    mark = w.mark()
    ref = w.status()  # the last valid frame; from here on the host is silent
    if not _running(ref):
        raise CheckFailed("the probe outputs on", _show(c, ref), "an accepted setpoint acts")
    limit = DEADMAN_S + TICK_S
    statuses = watch(c, ref.t + limit + REPORT_MS / 1000 + VENT_S + 0.05)
    hint = ("check the time since the last valid frame in every tick; at 500 ms go to the "
            "safe state and latch F02")
    safe = _stopped(c, statuses, ref.t, limit, "the safe state after the host fell silent",
                    hint)
    took = safe.t - ref.t
    figure = f"dead-man {_ms(took)}"
    if took > limit + REPORT_MS / 1000 + EPS:
        raise CheckFailed(f"a status line showing the stop within {_ms(limit)} (reports "
                          f"every {REPORT_MS} ms)", f"first at {_ms(took)}", hint, figure)
    pushed = [m for m in w.since(mark, p.FaultReport) if m.code is p.FaultCode.DEADMAN]
    if p.FaultCode.DEADMAN not in safe.faults or safe.state != "Fault" or not pushed:
        raise CheckFailed("F02 deadman latched (pushed `!F02`, state Fault) when the "
                          "outputs stop", f"{_show(c, safe)}; !F02 "
                          f"{'pushed' if pushed else 'not pushed'}", "the outputs stopped "
                          "for another reason (a lease?): the dead-man must latch F02",
                          figure)
    vent = _vented(c, statuses, safe)
    after = w.status()
    gate = w.send(p.SetFoot(1, 300))
    if p.FaultCode.DEADMAN not in after.faults or not _refused(gate, p.ErrorCode.FAULTED):
        stop_all(c)
        raise CheckFailed("F02 still latched after new frames, actuation refused E07",
                          f"{_show(c, after)}; FOOT 1 answered {_text(gate)}",
                          "faults latch until a RESET that succeeds", figure)
    _ok(w.send(p.Reset()), "RESET", "F02 has no lasting condition: RESET clears it")
    early = f" (early: the rule allows {_ms(DEADMAN_S)})" if took < DEADMAN_S - 0.1 else ""
    return figure, (f"safe {_ms(took)} after the last valid frame{early}, reports every "
                    f"{REPORT_MS} ms; F02 latched; {vent}")


@check("estop", "rule 3 e-stop", "the stop byte (0x9E; `!` in protocol 1) mid-line beats "
       "queued lines: safe within one tick, F01 latched, actuation refused E08 until RESET")
def check_estop(c: Context) -> tuple[str, str]:
    w = c.wire
    stop = _estop_byte(c)
    s = begin(c, report_ms=REPORT_MS, seated=True)
    start_probe(c, s, LEASE_MAX_MS)
    ref = w.status()
    watch(c, ref.t + 0.3, keepalive_s=0.1)  # let the airbag fill a little
    s1, s2, s3 = w.next_seq(), w.next_seq(), w.next_seq()
    queued = p.encode_command(p.SetFoot(2, LEASE_MAX_MS), s1)
    middle = p.encode_command(p.SetFoot(3, LEASE_MAX_MS), s2)
    half = len(middle) // 2
    after = p.encode_command(p.SetAir(c.zone, 10.0, LEASE_MAX_MS), s3)
    mark = w.mark()
    w.write(b"?" + queued + middle[:half] + stop + middle[half:] + after + b"?")

    def reply_to(seq: int) -> p.Ok | p.Error | None:
        return w.wait(lambda m: isinstance(m, p.Ok | p.Error) and m.seq == seq, REPLY_S, mark)

    replies = {seq: reply_to(seq) for seq in (s1, s2, s3)}
    first = w.wait(_is_status, REPLY_S, mark)
    if first is None:
        raise CheckFailed("a status line for `?`", "none", "answer `?` at once")
    watch(c, first.t + TICK_S + VENT_S + 0.05)
    statuses = w.since(mark, p.StatusReport)
    hint = (f"catch the stop byte 0x{stop[0]:02X} in the receive interrupt, before any line "
            "is finished or queued; go to the safe state at once and latch F01")
    bad = [f"{seq}: {_text(r) if r else 'no reply'}" for seq, r in replies.items()
           if seq != s1 and not _refused(r, p.ErrorCode.ESTOPPED)]
    if bad:
        stop_all(c)
        then = f"; then {_show(c, statuses[-1])}" if statuses else ""
        raise CheckFailed(f"E08 for the line with the stop inside it ({s2}) and the line after it "
                          f"({s3})", "; ".join(bad) + then, hint)
    safe = _stopped(c, statuses, first.t, TICK_S, "the safe state after the stop byte", hint)
    took = safe.t - first.t
    figure = f"stop {_ms(took)}"
    pushed = [m for m in w.since(mark, p.FaultReport) if m.code is p.FaultCode.ESTOP]
    if safe.state != "Estop" or p.FaultCode.ESTOP not in safe.faults or not pushed:
        raise CheckFailed("state Estop with F01 latched (pushed `!F01`)", f"{_show(c, safe)}; "
                          f"!F01 {'pushed' if pushed else 'not pushed'}", hint, figure)
    vent = _vented(c, statuses, safe)
    # the latch survives a new session and time, and refuses actuation
    _ok(w.send(p.Sync()), "SYNC", "SYNC is accepted in every state")
    gate = w.send(p.SetFoot(1, 300))
    w.sleep(0.2)
    later = w.status()
    if not _refused(gate, p.ErrorCode.ESTOPPED) or later.state != "Estop" or _running(later):
        stop_all(c)
        raise CheckFailed("F01 still latched after SYNC and 200 ms, FOOT 1 refused E08",
                          f"FOOT 1 answered {_text(gate)}; {_show(c, later)}",
                          "only a RESET that succeeds clears the emergency stop", figure)
    _ok(w.send(p.Reset()), "RESET", "RESET clears F01")
    cleared = w.status()
    if cleared.faults or cleared.state != "Idle":
        raise CheckFailed("Idle with nothing latched after RESET", _show(c, cleared),
                          "RESET clears every latch whose condition is gone", figure)
    queued_note = "ran before the stop" if isinstance(replies[s1], p.Ok) else "refused E08"
    return figure, (f"safe {_ms(took)} after `!` (budget one tick, {_ms(TICK_S)}); lines "
                    f"with and after it refused E08 (the one before it {queued_note}); F01 "
                    f"survived SYNC; {vent}")


def _conditions(c: Context, s: p.StatusReport) -> list[str]:
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


def _estop_byte(c: Context) -> bytes:
    """The emergency stop of the protocol the device's banner names (`!` if unknown)."""
    return bytes([p.estop_byte(c.banner.proto if c.banner else 1)])


@check("reset", "rule 12 reset", "RESET is refused while a fault condition is present, returns to "
       "Idle and never starts motion")
def check_reset(c: Context) -> tuple[str, str]:
    w = c.wire
    s = begin(c, report_ms=REPORT_MS, clear=False)
    present = _conditions(c, s)
    if s.faults:
        reply = w.send(p.Reset())
        after = w.status()
        if present and (isinstance(reply, p.Ok) or not set(s.faults) <= set(after.faults)):
            raise CheckFailed(f"RESET refused (E11) while {'; '.join(present)}",
                              f"{_text(reply)}; {_show(c, after)}", "before clearing a latch, "
                              "check that its condition has gone; otherwise answer E11 and "
                              "change nothing")
        if present:
            if not _refused(reply, p.ErrorCode.RESET_REFUSED):
                raise CheckFailed("E11 reset-refused", _text(reply), "refuse with E11")
            return "refused E11", (f"RESET refused while {'; '.join(present)} "
                                   f"({_flt(s)} kept); motion after RESET not tested")
        if not isinstance(reply, p.Ok):
            raise CheckSkipped(f"a fault is latched that RESET does not clear ({_flt(s)}: "
                               f"{_text(reply)}); fix its cause first")
        s = after
    if not s.occupied:
        raise CheckSkipped("the device reports nobody seated (occ=0): cannot test that "
                           "RESET never starts motion")
    hint = ("RESET clears the latches and every setpoint: nothing moves until the host "
            "sends a new setpoint (a chair that resumed after a pinch caught a dog, Korea "
            "2024)")
    # RESET with nothing latched still clears every setpoint
    _ok(w.send(p.SetFoot(1, LEASE_MAX_MS)), "FOOT 1", "FOOT 1 is accepted")
    _ok(w.send(p.Reset()), "RESET", "a RESET with nothing latched succeeds")
    s = w.status()
    if _running(s) or s.state != "Idle":
        stop_all(c)
        raise CheckFailed("Idle with every setpoint cleared after RESET", _show(c, s), hint)
    # after a latched fault, RESET must not restart what the fault stopped
    start_probe(c, s, LEASE_MAX_MS)
    mark = w.mark()
    w.write(_estop_byte(c))
    if w.wait(lambda m: isinstance(m, p.FaultReport), REPLY_S, mark) is None:
        raise CheckFailed("`!F01` pushed after the stop byte (a latched fault to test RESET "
                          "with)", "nothing", "latch F01 on the stop byte")
    reset = w.send(p.Reset())
    _ok(reset, "RESET", "F01 has no lasting condition: RESET clears it")
    ref = w.status()
    statuses = watch(c, ref.t + 0.3, keepalive_s=0.1)
    z = c.zone_index
    moved = next((x for x in [ref, *statuses] if _running(x) or x.state != "Idle"
                  or x.air_kpa[z] > ref.air_kpa[z] + 0.2), None)
    if moved is not None:
        stop_all(c)
        raise CheckFailed("nothing on and Idle for 300 ms after RESET",
                          f"{_show(c, moved)} {_ms(moved.t - ref.t)} after RESET", hint)
    note = ("refusal not tested (no fault condition present; try "
            "sim://?fault=thermistor-open@0)")
    return "no motion", f"Idle after RESET with and without a latch, nothing restarted; {note}"


@check("bad-frames", "rule 4 integrity", "3 bad lines within 1 s latch F03; RESET clears it")
def check_bad_frames(c: Context) -> tuple[str, str]:
    w = c.wire
    begin(c)
    window = c.limits.get("bad_frames_window_ms", BAD_WINDOW_S * 1000) / 1000
    w.sleep_until(w.last_bad_sent + max(window, BAD_WINDOW_S) + 0.05)  # an empty window
    bad = ((b"STATUS*0000\n", p.ErrorCode.BAD_CRC), (b"STAT\x08US\n", p.ErrorCode.BAD_BYTE),
           (b"X" * 100 + b"\n", p.ErrorCode.LINE_TOO_LONG))
    mark = w.mark()
    t0 = w.now()
    for line, code in bad:
        reply = w.line(line, None)
        w.last_bad_sent = w.now()
        if not _refused(reply, code):
            raise CheckFailed(f"`error - {code.wire}` for {line[:12]!r}...",
                              _text(reply) if reply else "no reply",
                              "refuse bad lines with E01 (CRC), E13 (bytes), E09 (length)")
    took = w.now() - t0
    pushed = w.wait(lambda m: isinstance(m, p.FaultReport)
                    and m.code is p.FaultCode.BAD_FRAMES, 0.1, mark)
    s = w.status()
    if pushed is None or p.FaultCode.BAD_FRAMES not in s.faults:
        raise CheckFailed(f"F03 latched (pushed `!F03`) after {BAD_FRAMES_MAX} bad lines "
                          f"within {_ms(BAD_WINDOW_S)}", f"{BAD_FRAMES_MAX} bad lines in "
                          f"{_ms(took)}; {_show(c, s)}", "count bad lines (E01, E09, E13) in a "
                          "sliding 1 s window and latch F03 at the third: a noisy cable must "
                          "stop the chair")
    gate = w.send(p.SetFoot(1, 300))
    if not _refused(gate, p.ErrorCode.FAULTED):
        stop_all(c)
        raise CheckFailed("actuation refused with E07 while F03 is latched", _text(gate),
                          "refuse every actuate line while a fault is latched")
    _ok(w.send(p.Reset()), "RESET", "F03 has no lasting condition: RESET clears it")
    return f"F03 after {BAD_FRAMES_MAX} in {_ms(took)}", "latched, actuation refused E07, " \
        "RESET cleared it"



# --------------------------------------------------------------------------- the run


def _run_one(c: Context, chk: Check) -> Result:
    w = c.wire
    restarts = w.banners - w.banners_asked
    result = Result(chk.name, chk.rule, chk.title, PASS)
    try:
        result.figure, result.detail = chk.run(c)
    except CheckFailed as failed:
        result.result, result.figure = FAIL, failed.figure
        result.expected, result.seen, result.hint = failed.expected, failed.seen, failed.hint
        result.detail = f"expected {failed.expected}; saw {failed.seen}. Fix: {failed.hint}"
    except CheckSkipped as skipped:
        result.result, result.detail = SKIP, str(skipped)
    except LinkError:
        raise
    except Exception as exc:  # a device answer the checker did not foresee
        result.result = FAIL
        result.detail = f"the checker could not go on: {type(exc).__name__}: {exc}"
    finally:
        end(c)
    if w.banners - w.banners_asked > restarts:
        note = ("the device restarted during the check (a #CHAIR banner came unasked): a "
                "brown-out or a watchdog reset? check the power supply")
        if result.result == PASS:
            result.result, result.expected = FAIL, "no restart"
            result.seen, result.hint = "a banner", note
            result.detail = f"expected no restart; saw a banner. Fix: {note}"
        else:
            result.detail = f"{result.detail} [{note}]"
    return result


def _finish(c: Context) -> None:
    """Leave the chair idle: a new session, nothing latched that can be cleared."""
    with contextlib.suppress(CheckFailed):
        c.wire.send(p.Sync())
        c.wire.send(p.Reset())
        c.wire.send(p.SetReport(0))


def _table(results: list[Result], width: int = 110) -> str:
    heads = ("check", "rule", "result", "figure")
    widths = [max(len(h), *(len(str(getattr(r, h))) for r in results)) for h in heads]
    indent = sum(widths) + 2 * len(widths)
    wrap = max(30, width - indent)
    rows = ["  ".join(h.ljust(n) for h, n in zip(heads, widths, strict=True)) + "  detail"]
    for r in results:
        cells = [r.check, r.rule, r.result, r.figure]
        lines = textwrap.wrap(r.detail, wrap) or [""]
        rows.append("  ".join(x.ljust(n) for x, n in zip(cells, widths, strict=True))
                    + "  " + lines[0])
        rows.extend(" " * indent + line for line in lines[1:])
    return "\n".join(rows)


def run_conformance(url: str, *, json_out: bool = False, only: list[str] | None = None) -> int:
    """Run the battery against `url`; print a table (or JSON); 0 pass, 3 fail, 4 link."""
    names = [chk.name for chk in CHECKS]
    unknown = [name for name in only or () if name not in names]
    if unknown:
        raise UsageError(f"unknown check {unknown[0]!r}; the checks are {', '.join(names)}")
    selected = [chk for chk in CHECKS if not only or chk.name in only]
    wall = MonotonicClock()  # to report the run's length, not to control anything
    port = open_port(url)
    results: list[Result] = []
    lost = ""
    try:
        clock = getattr(port, "clock", None) or MonotonicClock()
        c = _contact(Wire(port, clock), url)
        try:
            for chk in selected:
                results.append(_run_one(c, chk))
            _finish(c)
        except LinkError as exc:
            lost = str(exc)
            results.append(Result(selected[len(results)].name, selected[len(results)].rule,
                                  selected[len(results)].title, FAIL,
                                  detail=f"link lost: {exc}"))
    finally:
        port.close()
    counts = {k: sum(r.result == k for r in results) for k in (PASS, FAIL, SKIP)}
    complete = len(results) == len(selected) and not counts[SKIP]
    #: checks that passed with a part they could not try on this device (said in the row)
    untested = [r.check for r in results if r.result == PASS and "not tested" in r.detail]
    code = EXIT_LINK if lost else EXIT_OK if complete and not counts[FAIL] else EXIT_FAILED
    b = c.banner
    summary = {"port": url, "firmware": b.firmware if b else None,
               "proto": b.proto if b else None, "occupied": c.occupied,
               "passed": counts[PASS], "failed": counts[FAIL], "skipped": counts[SKIP],
               "complete": complete, "untested": untested, "ok": code == EXIT_OK,
               "exit": code,
               "seconds": round(wall.now(), 3)}
    if json_out:
        print(json.dumps({"checks": [asdict(r) for r in results], "summary": summary},
                         indent=2))
        return code
    device = f"fw={b.firmware} proto={b.proto}, {len(b.zones)} zones, " \
        f"{len(b.heaters)} heaters" if b else "no banner"
    print(f"chair conformance {url}: {device}")
    if not c.occupied:
        print("note: the device reports nobody seated (occ=0): actuation checks are skipped "
              "and the run is incomplete")
    print(_table(results))
    verdict = "PASS" if code == EXIT_OK else "LINK LOST" if lost else \
        "FAIL" if counts[FAIL] else "INCOMPLETE"
    print(f"{len(results)} checks: {counts[PASS]} passed, {counts[FAIL]} failed, "
          f"{counts[SKIP]} skipped in {summary['seconds']:.1f} s: {verdict}")
    if untested:
        print(f"not tested on this device, so not shown safe: part of {', '.join(untested)} "
              "(their rows say what and how to test it)")
    return code
