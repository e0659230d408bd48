"""The simulated chair's firmware: docs/protocol.md on the device side, and its hard limits.

`Device` takes host bytes (`receive`), runs its 10 ms control tick as time passes
(`advance_to`) and leaves its replies and pushed lines for the host (`read_output`). It
writes the plant's inputs, reads the plant's sensors and never trusts the wire: every
argument is checked against its own limits table, every setpoint carries a lease, a silent
host trips the dead-man, and faults latch until a RESET that finds their condition gone.

Every safety number comes from the limits table handed in (`chair.limits.DEVICE_TABLE` by
default). The few constants below are control details that are not safety limits (valve
hysteresis, position tolerances, the over-current threshold) and are marked as such.

Time: the device ticks on a fixed grid (origin at creation, `tick_ms` apart). Host lines are
handled at once, at `clock.now()`; the tick runs the timers and the control loops.
The slow loops (thermostat, heat runaway, the refill or vent decision of a holding
airbag) run on every `SLOW_TICKS`-th tick, as heater loops do on real boards; everything
else, safety monitors first, runs on every tick. Across quiet stretches (no plant fault,
no heater near the cut-off, axes and inflations far from where they stop) nothing on the
fast path can act, so `advance_to` steps the plant once up to the next slow tick, deadline
or predicted stop, whichever comes first. The plant's dynamics are exact for any step: only
its noise rows differ from a tick-by-tick run. `quiet=False` turns that off.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from dataclasses import replace
from typing import NamedTuple

from chair import limits
from chair import protocol as p
from chair.clock import Clock
from chair.faults import FAULTS, PLANT_FAULTS
from chair.linequeue import LineQueue
from sim.airwatch import AirWatch
from sim.physics import Plant

FIRMWARE = "sim-0.1.0"

#: Conformance defects: each disables exactly one behaviour (for the conformance checker).
DEFECTS: dict[str, str] = {
    "no-deadman": "the dead-man timer never trips",
    "ignore-crc": "frames with a wrong CRC are executed",
    "no-estop-latch": "the emergency stop stops but does not latch",
    "no-lease": "leases never expire",
    "dup-exec": "duplicate sequence numbers are executed again",
    "no-caps": "arguments are not checked against the limits table",
    "corrupt-limits": "one value of the limits table differs from what its CRC covers",
    "no-need-crc": "control and actuate lines without a CRC are executed outside console mode",
    "no-seq-check": "lines ahead of the expected sequence number are executed",
    "no-bad-frame-latch": "bad frames never latch F03",
    "estop-queued": "the emergency stop is acted on after the lines received with it",
    "slow-deadman": "the dead-man trips after twice deadman_ms",
    "reset-resumes": "RESET restarts the foot rollers that a latched fault stopped",
    "reset-while-faulted": "RESET clears faults whose condition is still present",
}
#: Defects of rules the wire cannot show (a loose thermistor, a held or unvented bag need
#: the plant): for tests that show the other channel catches what the device then misses.
RULE_DEFECTS: dict[str, str] = {
    "no-heat-follow": "a powered heater whose reading does not follow is not a fault",
    "no-air-hold": "airbags may be held inflated for any time and any share of a window",
    "no-vent-check": "a bag told to vent that does not lose its pressure is not a fault",
}
#: The entry `corrupt-limits` changes, and by how much.
CORRUPT_ENTRY = ("airbag_kpa_max.lumbar", 10.0)

# Control details (not safety limits; assumed):
OVERCURRENT_A = 2.0  # between the moving (~0.8 A) and the stall (~3 A) current
CARRIAGE_TOL_MM = 1.0  # carriage "at target" band (one tick moves it ~0.84 mm)
ENCODER_STILL_MM = 0.5  # less movement than this counts as a still encoder
RECLINE_TOL_PCT = 0.5  # recline and leg rest "at target" band
FILL_STOP_KPA = 0.25  # close the fill valve this far under the target (valve lag)
AIR_BAND_KPA = 1.0  # refill below target - band, vent above target + band
HEAT_HYST_C = 0.5  # thermostat: on below target - hysteresis, off at target
OVERPRESSURE_SHARE = 4  # confirm an over-pressure within react_s / this (noise filter)
SLOW_TICKS = 10  # thermostat, heat runaway and airbag hold decisions: every 10th tick
QUIET_HEAT_MARGIN_C = 1.0  # a heater this close to the cut-off keeps the tick-by-tick path
QUIET_NOISE_KPA = 0.1  # bound on pressure-sensor noise, for predicting an inflation's end
PUMP_SENSE_A = 0.3  # pump current above this while commanded off: stuck on (F17)
HEATER_SENSE_A = 0.5  # heater current above this while its relay is off: welded (F17)
STUCK_TICKS = 5  # ticks of current while off before F17 latches (outputs settle in one)
AIR_RISE_KPA = 0.5  # a filling airbag's reading must rise this much ... (a healthy fill
AIR_RISE_S = 0.5  # ... within this long: rises >= 2 kPa; else F06, sensor or valve stuck)
# Protocol constants (docs/protocol.md):
REPORT_MIN_MS = 20
REPORT_MAX_MS = 5000
REPLY_MEMORY = 32
OUT_BYTES = 8192  # transmit buffer (assumed; ~0.7 s of line at 115200 baud): whole lines
#                   beyond it are dropped, oldest first; fault pushes go first (§11.1)
QUERY_MIN_S = REPORT_MIN_MS / 1000  # `?` is answered at most once per shortest report period
#: Untagged refusals of damaged lines, coalesced as one while one is waiting (§5.1).
_DAMAGED = frozenset({p.ErrorCode.BAD_CRC, p.ErrorCode.BAD_BYTE, p.ErrorCode.LINE_TOO_LONG})
PCT_MAX = 100.0

_EPS = 1e-9
_INF = math.inf

_QUERY = p.Kind.QUERY
_MODE = p.Kind.MODE


class _SeqBad(NamedTuple):
    """A bad line that carried a trustworthy sequence number (valid CRC or console mode)."""

    bad: p.BadLine
    crc: bool
    sequenced: bool  # its verb is a control or actuate verb, or unknown


class _Decoder(p.HostDecoder):
    """The codec's host decoder, plus what the firmware needs to know about bad lines."""

    def __init__(self, ignore_crc: bool, proto: int) -> None:
        super().__init__(proto)
        self.ignore_crc = ignore_crc

    def parse(self, line: bytes):  # type: ignore[override]
        event = p.parse_host_line(line)
        if type(event) is p.Frame:
            return event
        if event.code is p.ErrorCode.BAD_CRC and self.ignore_crc:  # defect: ignore-crc
            payload = line.rpartition(b"*")[0]
            again = p.parse_host_line(payload)
            if type(again) is p.Frame:
                return p.Frame(again.seq, again.command, True)
        if event.seq is None:
            return event
        tokens = line.split(b"*")[0].split()
        verb = tokens[1].decode().upper() if len(tokens) > 1 else ""
        cls = p.COMMANDS.get(verb)
        sequenced = cls is None or cls.KIND not in (_QUERY, _MODE)
        return _SeqBad(event, b"*" in line, sequenced)


def _fmt(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


class _Refuse(Exception):  # internal control flow, never escapes
    def __init__(self, code: p.ErrorCode, detail: str) -> None:
        self.code, self.detail = code, detail


class Device:
    """The chair's board: protocol end, hard limits, dead-man, leases and latched faults.

    Drive it with `receive(data)` (host bytes at `clock.now()`), `advance_to(t)` (run the
    ticks up to `t`) and `read_output()` (the bytes for the host, from a bounded transmit
    buffer: fault pushes first, whole lines dropped when full, garbage refusals coalesced);
    `schedule(fault, at)` injects a plant fault or a ``power-cycle`` at clock time `at`.
    Read-only views for tests: `state`, `faults`/`latched` (code -> detail), `setpoints()`,
    `status()`, `expected_seq`, `synced`, `console`, `report_ms`, `air_target`,
    `heat_target`, `roller`, `recline`, `foot`, `active`, `uptime`, `ticks` and
    `plant_steps`. `defects` names conformance defects from `DEFECTS`.
    """

    def __init__(self, clock: Clock, plant: Plant, *, defects: frozenset[str] = frozenset(),
                 table: tuple[limits.Limit, ...] = limits.DEVICE_TABLE,
                 table_crc: int = limits.DEVICE_TABLE_CRC, firmware: str = FIRMWARE,
                 quiet: bool = True, proto: int = p.PROTOCOL_VERSION) -> None:
        unknown = sorted(set(defects) - set(DEFECTS) - set(RULE_DEFECTS))
        if unknown:
            raise ValueError(f"unknown defect {unknown[0]!r}; valid defects: "
                             f"{', '.join([*DEFECTS, *RULE_DEFECTS])}")
        self.clock = clock
        self.plant = plant
        self.defects = frozenset(defects)
        self.firmware = firmware
        self.quiet = quiet
        self.proto = proto  # 1: `!` always stops; 2: 0x9E, and `!` outside a host session
        table = tuple(table)
        if "corrupt-limits" in self.defects:
            name, delta = CORRUPT_ENTRY
            table = tuple(replace(lim, value=lim.value + delta) if lim.name == name else lim
                          for lim in table)
        self.table = table
        self.table_crc = table_crc
        self.actual_crc = limits.table_crc(table)
        self.limits: dict[str, float] = {lim.name: lim.value for lim in table}
        self._load_limits()
        self._limit_lines = b"".join(p.encode_device(p.LimitLine(lim.name, lim.value))
                                     for lim in table)
        self._banner = p.encode_device(p.Banner(
            proto, firmware, limits.ZONES, limits.HEATERS, limits.TRACK_MM,
            limits.SEAT_BEND_MM, table_crc))

        self._no_deadman = "no-deadman" in self.defects
        self._no_estop_latch = "no-estop-latch" in self.defects
        self._no_lease = "no-lease" in self.defects
        self._dup_exec = "dup-exec" in self.defects
        self._no_caps = "no-caps" in self.defects
        self._no_need_crc = "no-need-crc" in self.defects
        self._no_seq_check = "no-seq-check" in self.defects
        self._no_bad_latch = "no-bad-frame-latch" in self.defects
        self._estop_queued = "estop-queued" in self.defects
        self._reset_resumes = "reset-resumes" in self.defects
        self._reset_while_faulted = "reset-while-faulted" in self.defects
        self._resume_foot = 0  # defect reset-resumes: the foot speed a latch stopped
        self._no_heat_follow = "no-heat-follow" in self.defects
        self._no_air_hold = "no-air-hold" in self.defects
        self._no_vent_check = "no-vent-check" in self.defects
        if "slow-deadman" in self.defects:
            self.deadman_s *= 2

        # plant arrays are fixed objects; item writes go through (sim.physics contract)
        self._fill = plant.fill_open
        self._vent = plant.vent_open
        self._heat_on = plant.heater_on

        self._out = LineQueue(OUT_BYTES)
        self._faults_due: list[tuple[float, int, str]] = []
        self._fault_counter = itertools.count()
        self._next_fault_at = _INF
        t0 = float(clock.now())
        self._t0 = t0
        self._k = 0  # ticks run since t0
        self._now = t0  # time of the last tick run
        self.ticks = 0
        self.plant_steps = 0
        self._motion: tuple | None = None  # drives and speeds per tick over the last step
        self._boot(t0)

    # ------------------------------------------------------------------ limits

    def _load_limits(self) -> None:
        lim = self.limits
        self.tick_s = lim["tick_ms"] / 1000.0
        self.deadman_s = lim["deadman_ms"] / 1000.0
        self.lease_ms_max = int(lim["lease_ms_max"])
        self.session_s = lim["session_s_max"]
        self.bad_max = int(lim["bad_frames_max"])
        self.bad_window_s = lim["bad_frames_window_ms"] / 1000.0
        self.air_caps = [lim[f"airbag_kpa_max.{z}"] for z in limits.ZONES]
        self._min_cap = min(self.air_caps)
        self.inflate_s = lim["airbag_inflate_s_max"]
        react_ticks = lim["airbag_react_s"] / self.tick_s
        self._over_ticks = max(1, int(react_ticks / OVERPRESSURE_SHARE))
        self.heat_target_max = lim["heat_target_c_max"]
        self.heat_c_max = lim["heat_c_max"]
        self.therm_min = lim["thermistor_c_min"]
        self.therm_max = lim["thermistor_c_max"]
        self.rise_c = lim["heat_rise_c"]
        self.rise_s = lim["heat_rise_s"]
        self.band_c = lim["heat_band_c"]
        self.band_s = lim["heat_band_s"]
        self.follow_s = lim["heat_follow_s"]
        self.follow_c = lim["heat_follow_c"]
        self.jump_c = lim["heat_jump_c"]
        self.depth_max = int(lim["roller_depth_max"])
        self.width_max = int(lim["roller_width_max"])
        self.speed_max = int(lim["roller_speed_max"])
        self.stall_s = lim["stall_s"]
        self.track_timeout_s = lim["track_timeout_s"]
        self.overcurrent_s = lim["overcurrent_s"]
        self.recline_timeout_s = lim["recline_timeout_s"]
        self.pinch_reverse_pct = lim["pinch_reverse_pct"]
        self.foot_max = int(lim["foot_speed_max"])

    # ------------------------------------------------------------------ start

    def _boot(self, now: float) -> None:
        """Power on: every piece of firmware state starts afresh; the plant keeps its own."""
        self.boot_time = now
        self.latched: dict[p.FaultCode, str] = {}
        self.expected_seq: int | None = None
        self.console = False
        self.report_ms = 0
        self._report_next = _INF
        self._query_next = -_INF  # the earliest a `?` is answered at once
        self._query_owed = False  # a `?` came sooner: answered at _query_next
        self._decoder = _Decoder("ignore-crc" in self.defects, self.proto)
        self._crc_at = -_INF  # when the last valid line with a CRC came (host session)
        self._replies: dict[int, bytes] = {}
        self._reply_order: deque[int] = deque()
        self._bad_times: deque[float] = deque()
        self._last_valid = now
        # setpoints
        self.roller: tuple[float, str, int, int, int] | None = None
        self._roller_exp = _INF
        self.air_target = [0.0] * len(limits.ZONES)
        self._air_exp = [_INF] * len(limits.ZONES)
        self.heat_target = [0.0] * len(limits.HEATERS)
        self._heat_exp = [_INF] * len(limits.HEATERS)
        self.foot = 0
        self._foot_exp = _INF
        self.recline: tuple[float, float] | None = None
        self._recline_exp = _INF
        self._reverse: list[float | None] = [None, None]  # pinch reversal targets
        self._reverse_start = 0.0
        self._lease_next = _INF
        self.active = False
        self._massage = False
        self._session_end = _INF
        # control-loop state
        self._air_busy = False
        self._filling = [False] * len(limits.ZONES)
        self._fill_t = [0.0] * len(limits.ZONES)
        self._fill_kpa = [0.0] * len(limits.ZONES)  # reading when the inflation began
        self._rise_t = [0.0] * len(limits.ZONES)  # last time the reading rose AIR_RISE_KPA
        self._rise_kpa = [0.0] * len(limits.ZONES)  # and the reading then
        self._venting = [False] * len(limits.ZONES)
        self._over_n = 0
        self._kick = False  # run the slow loops at the next tick (a new setpoint)
        self._heat_mode = [0] * len(limits.HEATERS)  # 0 off, 1 heating, 2 near target
        self._heat_ref_t = [0.0] * len(limits.HEATERS)
        self._heat_ref_c = [0.0] * len(limits.HEATERS)
        self._heat_below = [_INF] * len(limits.HEATERS)
        self._heat_last: list[float | None] = [None] * len(limits.HEATERS)  # last slow tick
        # heat follow: the lowest reading since the last rise of follow_c, the heater's
        # on-time since then, and the slow tick that last counted it
        self._follow_ref = [_INF] * len(limits.HEATERS)
        self._follow_on = [0.0] * len(limits.HEATERS)
        self._follow_t = [_INF] * len(limits.HEATERS)
        self._airwatch = AirWatch(len(limits.ZONES), self.limits)
        self._stall_t = 0.0
        self._stall_pos = 0.0
        self._track_t = 0.0
        self._oc_since = _INF
        self._stuck_n = 0  # ticks an output has drawn current while off
        self._axis_t = [0.0, 0.0]
        self._safe_outputs()
        self._push(self._banner)
        if self.actual_crc != self.table_crc:
            self._latch(p.FaultCode.LIMITS_CRC,
                        f"table={self.actual_crc:04X} built={self.table_crc:04X}")

    # ------------------------------------------------------------------ public API

    def receive(self, data: bytes) -> None:
        """Host bytes, arriving at `clock.now()`: real-time bytes first, then the lines."""
        now = self.clock.now()
        self.advance_to(now)
        decoder = self._decoder
        # protocol 2: while a host session is live (a line with a valid CRC within the
        # dead-man time, console mode off), `!` is line data, not a stop
        decoder.session = not self.console and now - self._crc_at < self.deadman_s
        events = decoder.feed(bytes(data))
        if not events:
            return
        rt = p.RealTime
        late = self._estop_queued  # defect: the stop waits behind the lines read with it
        for event in events:
            if type(event) is rt and not (late and event.byte != p.STATUS_BYTE):
                self._realtime(event.byte, now)
        for event in events:
            kind = type(event)
            if kind is p.Frame:
                self._frame(event, now)
            elif kind is p.BadLine:
                self._bad_line(event, None, now)
            elif kind is _SeqBad:
                self._bad_line(event.bad, event, now)
        for event in events if late else ():
            if type(event) is rt and event.byte != p.STATUS_BYTE:
                self._realtime(event.byte, now)

    def read_output(self, limit: int | None = None) -> bytes:
        """What the device sends next: whole lines, fault pushes first, up to `limit` bytes
        (at least one line; everything waiting by default). `dropped` and `merged` count
        the lines the bounded transmit buffer dropped or coalesced."""
        return self._out.take(limit) if self._out else b""

    @property
    def dropped(self) -> int:
        return self._out.dropped_lines

    @property
    def merged(self) -> int:
        return self._out.merged

    @property
    def output_waiting(self) -> int:
        return len(self._out)

    def schedule(self, fault: str, at: float) -> None:
        """Start the fault `fault` (chair.faults.FAULTS) at clock time `at`, at the tick >= it.

        Plant faults are injected into the plant; ``power-cycle`` restarts the firmware.
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; valid names: {', '.join(FAULTS)}")
        if not math.isfinite(at):
            raise ValueError(f"fault {fault!r}: time {at!r} is not finite")
        heapq.heappush(self._faults_due, (float(at), next(self._fault_counter), fault))
        self._next_fault_at = self._faults_due[0][0]

    def advance_to(self, t: float, *, until_output: bool = False) -> float:
        """Run every tick up to and including time `t`; return the time of the last tick run.

        With `until_output`, stop after the first tick that leaves output for the host (a
        virtual-clock port moves time on to it: the host wakes for the device's next line).
        """
        tick = self.tick_s
        t0 = self._t0
        limit = t + _EPS
        plant = self.plant
        while True:
            k = self._k + 1
            now = t0 + k * tick
            if now > limit:
                return self._now
            n = 1
            if self.quiet and now + tick <= limit:
                n = self._quiet_span(k, limit)
                if n > 1:
                    k += n - 1
                    now = t0 + k * tick
            drives = (plant.carriage_drive, plant.back_drive, plant.leg_drive)
            if drives[0] or drives[1] or drives[2]:
                enc, back, leg = plant.encoder_mm, plant.back_pct, plant.leg_pct
                plant.step(n * tick)
                self._motion = (drives, (plant.encoder_mm - enc) / n,
                                (plant.back_pct - back) / n, (plant.leg_pct - leg) / n)
            else:
                plant.step(n * tick)
                self._motion = None
            self._k = k
            self._now = now
            self.ticks += n
            self.plant_steps += 1
            self._tick(now)
            if until_output and self._out:
                return now

    # read-only views for tests and tools

    @property
    def uptime(self) -> float:
        return self.clock.now() - self.boot_time

    @property
    def synced(self) -> bool:
        return self.expected_seq is not None

    @property
    def faults(self) -> frozenset[p.FaultCode]:
        return frozenset(self.latched)

    @property
    def state(self) -> str:
        if p.FaultCode.ESTOP in self.latched:
            return "Estop"
        if self.latched:
            return "Fault"
        return "Run" if self.active else "Idle"

    def setpoints(self) -> dict[str, object]:
        """The setpoints in force, by actuator."""
        sp: dict[str, object] = {}
        if self.roller is not None:
            sp["roller"] = self.roller
        for zone, target in zip(limits.ZONES, self.air_target, strict=True):
            if target > 0:
                sp[f"air.{zone}"] = target
        for zone, target in zip(limits.HEATERS, self.heat_target, strict=True):
            if target > 0:
                sp[f"heat.{zone}"] = target
        if self.foot:
            sp["foot"] = self.foot
        if self.recline is not None:
            sp["recline"] = self.recline
        return sp

    def status(self, now: float | None = None) -> p.StatusReport:
        """The status report as the device would send it now."""
        plant = self.plant
        t = self.clock.now() if now is None else now
        return p.StatusReport(
            state=self.state, t=max(0.0, t - self.boot_time), pos_mm=plant.encoder_mm,
            technique=plant.technique, width=plant.width, depth=plant.depth,
            speed=plant.speed, force_n=plant.roller_force_n,
            air_kpa=tuple(plant.pressure_kpa.tolist()),
            heat_c=tuple(plant.thermistor_c.tolist()), foot=plant.foot_speed,
            back_pct=plant.back_pct, leg_pct=plant.leg_pct, occupied=plant.occupied,
            pinch=plant.pinch, faults=tuple(sorted(self.latched)))

    # ------------------------------------------------------------------ output

    def _push(self, line: bytes) -> None:
        self._out.push(line)

    def _send(self, message: p.DeviceMessage) -> bytes:
        if type(message) is p.Error and message.seq is None:
            # untagged refusals of a burst of garbage: one line with a count (§5.1)
            code, detail = message.code, message.detail
            self._out.merge("damaged" if code in _DAMAGED else code, lambda n: p.encode_device(
                p.Error(None, code, f"n={n} first: {detail}" if n > 1 else detail)))
            return b""
        line = p.encode_device(message)
        self._out.push(line)
        return line

    def _query(self, now: float) -> None:
        """`?`: one status line now, or one at the end of the period if one just went."""
        if now >= self._query_next - _EPS:
            self._query_next = now + QUERY_MIN_S
            self._query_owed = False  # this answer is the one owed
            self._send(self.status(now))
        else:
            self._query_owed = True

    # ------------------------------------------------------------------ real-time bytes

    def _realtime(self, byte: int, now: float) -> None:
        if byte == p.STATUS_BYTE:
            self._query(now)
        else:  # an emergency stop (the decoder reports only the stop bytes in force)
            if self._no_estop_latch:  # defect: stops, latches nothing
                self._safe_outputs()
                self._recompute(now)
            else:
                self._latch(p.FaultCode.ESTOP, "emergency stop byte")

    # ------------------------------------------------------------------ lines

    def _bad_line(self, bad: p.BadLine, seqbad: _SeqBad | None, now: float) -> None:
        reply = p.Error(bad.seq, bad.code, bad.detail)
        if seqbad is not None and seqbad.sequenced and (seqbad.crc or self.console) \
                and self.expected_seq is not None:
            # a trustworthy sequenced line that was refused: it takes its sequence number
            dist = p.seq_distance(bad.seq, self.expected_seq)
            if dist == 0:
                self._remember(bad.seq, self._send(reply))
                self.expected_seq = p.seq_after(bad.seq)
                return
            if dist < 0 and bad.seq in self._replies:
                self._push(self._replies[bad.seq])
                return
            self._send(p.Error(bad.seq, p.ErrorCode.SEQ_GAP, f"expect={self.expected_seq}"))
            return
        self._send(reply)
        if bad.code in (p.ErrorCode.BAD_CRC, p.ErrorCode.BAD_BYTE, p.ErrorCode.LINE_TOO_LONG):
            times = self._bad_times
            times.append(now)
            while times and now - times[0] >= self.bad_window_s - _EPS:
                times.popleft()
            if len(times) >= self.bad_max and not self._no_bad_latch:
                times.clear()
                self._latch(p.FaultCode.BAD_FRAMES,
                            f"n={self.bad_max} within_ms={self.bad_window_s * 1000:g}")

    def _frame(self, frame: p.Frame, now: float) -> None:
        command = frame.command
        seq = frame.seq
        kind = command.KIND
        if frame.crc:
            self._last_valid = self._crc_at = now
        if kind is _QUERY or kind is _MODE:
            if not frame.crc and self.console:
                self._last_valid = now
            self._send(self._execute(command, seq, now))
            return
        if not frame.crc and not self.console and not self._no_need_crc:
            self._send(p.Error(seq, p.ErrorCode.NEED_CRC,
                               f"{command.VERB} needs *CRC and a sequence number "
                               "(or CONSOLE 1)"))
            return
        if not frame.crc:
            self._last_valid = now  # an accepted console line
        if type(command) is p.Sync:
            if seq is None:
                self._send(p.Error(None, p.ErrorCode.BAD_ARGS, "SYNC needs a sequence number"))
                return
            if self.expected_seq == p.seq_after(seq) and seq in self._replies:
                self._push(self._replies[seq])  # a resent SYNC with nothing since: a duplicate
                return
            self._remember(seq, self._send(self._execute(command, seq, now)))
            return
        if seq is None:
            if self.console:
                self._send(self._execute(command, None, now))
            else:
                self._send(p.Error(None, p.ErrorCode.BAD_ARGS,
                                   f"{command.VERB} needs a sequence number"))
            return
        expected = self.expected_seq
        if expected is None:
            self._send(p.Error(seq, p.ErrorCode.NOT_SYNCED, "send SYNC first"))
            return
        dist = p.seq_distance(seq, expected)
        if dist == 0:
            self.expected_seq = p.seq_after(seq)
            self._remember(seq, self._send(self._execute(command, seq, now)))
        elif dist < 0 and self._dup_exec:  # defect: duplicates executed again
            self._send(self._execute(command, seq, now))
        elif dist < 0 and seq in self._replies:
            self._push(self._replies[seq])
        elif dist > 0 and self._no_seq_check:  # defect: a gap goes unnoticed
            self.expected_seq = p.seq_after(seq)
            self._remember(seq, self._send(self._execute(command, seq, now)))
        else:
            self._send(p.Error(seq, p.ErrorCode.SEQ_GAP, f"expect={expected}"))

    def _remember(self, seq: int, line: bytes) -> None:
        order = self._reply_order
        if len(order) >= REPLY_MEMORY:
            self._replies.pop(order.popleft(), None)
        order.append(seq)
        self._replies[seq] = line

    # ------------------------------------------------------------------ commands

    def _execute(self, command: p.Command, seq: int | None, now: float):
        kind = type(command)
        try:
            if kind is p.QueryStatus:
                self._send(self.status(now))
            elif kind is p.QueryInfo:
                self._push(self._banner)
            elif kind is p.QueryLimits:
                self._push(self._limit_lines)
                return p.Ok(seq, f"crc={self.actual_crc:04X} n={len(self.table)}")
            elif kind is p.SetConsole:
                self._check_range("CONSOLE", "on", command.on, 0, 1)
                self.console = bool(command.on)
                self._send(p.Info("console mode on: lines need no CRC or seq; caps and "
                                  "leases still apply" if self.console
                                  else "console mode off"))
            elif kind is p.Sync:
                self.expected_seq = p.seq_after(seq)
                self.console = False
                self._replies.clear()
                self._reply_order.clear()
                self._safe_outputs()
                self._recompute(now)
            elif kind is p.Reset:
                self._reset(now)
            elif kind is p.SetReport:
                period = command.period_ms
                if period != 0:
                    self._check_range("REPORT", "period_ms", period, REPORT_MIN_MS,
                                      REPORT_MAX_MS)
                self.report_ms = period
                self._report_next = self._first_report(now, period) if period else _INF
            elif kind is p.Renew:
                self._check_lease("RENEW", command.lease_ms)
                self._renew(now + command.lease_ms / 1000.0)
            elif kind is p.Stop:
                self._safe_outputs()
                self._recompute(now)
            else:
                self._actuate(command, now)
        except _Refuse as refusal:
            return p.Error(seq, refusal.code, refusal.detail)
        return p.Ok(seq)

    def _check_range(self, verb: str, name: str, value: float, low: float, high: float,
                     what: str = "") -> None:
        suffix = f" ({what})" if what else ""
        if value > high:
            raise _Refuse(p.ErrorCode.OUT_OF_RANGE,
                          f"{verb} {name} {_fmt(value)} above cap {high:g}{suffix}")
        if value < low:
            raise _Refuse(p.ErrorCode.OUT_OF_RANGE,
                          f"{verb} {name} {_fmt(value)} below minimum {low:g}{suffix}")

    def _check_cap(self, verb: str, name: str, value: float, low: float, high: float,
                   what: str = "") -> None:
        """A range from the limits table (skipped by the `no-caps` defect)."""
        if not self._no_caps:
            self._check_range(verb, name, value, low, high, what)

    def _check_lease(self, verb: str, lease_ms: int) -> None:
        self._check_cap(verb, "lease_ms", lease_ms, 1, self.lease_ms_max)

    def _gate(self) -> None:
        """Refuse actuation while a fault is latched (E14, E08, E07)."""
        latched = self.latched
        if not latched:
            return
        if p.FaultCode.LIMITS_CRC in latched:
            raise _Refuse(p.ErrorCode.LIMITS_INVALID,
                          f"table={self.actual_crc:04X} built={self.table_crc:04X}")
        if p.FaultCode.ESTOP in latched:
            raise _Refuse(p.ErrorCode.ESTOPPED, "emergency stop latched; send RESET")
        codes = ",".join(f"F{code.value:02d}" for code in sorted(latched))
        raise _Refuse(p.ErrorCode.FAULTED, f"{codes} latched; send RESET")

    def _need_occupant(self, verb: str) -> None:
        if not self.plant.occupied:
            raise _Refuse(p.ErrorCode.UNOCCUPIED, f"{verb} refused: nobody is seated")

    def _actuate(self, command: p.Command, now: float) -> None:
        self._gate()
        kind = type(command)
        plant = self.plant
        if kind is p.SetAir:
            if command.zone not in limits.ZONES:
                raise _Refuse(p.ErrorCode.BAD_ARGS, f"AIR zone {command.zone!r}: choose "
                              f"{', '.join(limits.ZONES)}")
            z = limits.ZONES.index(command.zone)
            self._check_cap("AIR", "kpa", command.kpa, 0, self.air_caps[z], command.zone)
            self._check_lease("AIR", command.lease_ms)
            if command.kpa > 0:
                self._need_occupant("AIR")
                if command.kpa != self.air_target[z] and self._filling[z]:
                    self._filling[z] = False  # a new inflation is timed from its start
                    self._fill[z] = False
                self.air_target[z] = command.kpa
                self._air_exp[z] = self._expiry(now, command.lease_ms)
                self._airwatch.inflate(z)
                self._kick = True
            else:
                self._air_off(z)
        elif kind is p.SetRoller:
            self._check_range("ROLLER", "pos_mm", command.pos_mm, 0, limits.TRACK_MM)
            if command.technique not in limits.TECHNIQUES:
                raise _Refuse(p.ErrorCode.BAD_ARGS, f"ROLLER technique {command.technique!r}: "
                              f"choose {', '.join(limits.TECHNIQUES)}")
            self._check_cap("ROLLER", "width", command.width, 1, self.width_max)
            self._check_cap("ROLLER", "depth", command.depth, 1, self.depth_max)
            self._check_cap("ROLLER", "speed", command.speed, 1, self.speed_max)
            self._check_lease("ROLLER", command.lease_ms)
            massage = command.technique != "off"
            if massage:
                self._need_occupant("ROLLER")
            if self.roller is None or self.roller[0] != command.pos_mm:
                self._track_t = now
                if plant.carriage_drive == 0:  # a moving carriage keeps its stall timer
                    self._stall_t, self._stall_pos = now, plant.encoder_mm
            self.roller = (command.pos_mm, command.technique, command.width, command.depth,
                           command.speed)
            self._roller_exp = self._expiry(now, command.lease_ms)
            plant.technique = command.technique
            plant.width = command.width
            plant.depth = command.depth if massage else 0
            plant.speed = command.speed
        elif kind is p.SetHeat:
            if command.zone not in limits.HEATERS:
                raise _Refuse(p.ErrorCode.BAD_ARGS, f"HEAT zone {command.zone!r}: choose "
                              f"{', '.join(limits.HEATERS)}")
            h = limits.HEATERS.index(command.zone)
            self._check_cap("HEAT", "target_c", command.target_c, 0, self.heat_target_max,
                            command.zone)
            self._check_lease("HEAT", command.lease_ms)
            target = command.target_c
            if target > 0:
                self._need_occupant("HEAT")
                if target != self.heat_target[h]:
                    temp = float(plant.thermistor_c[h])
                    if temp < target - self.band_c:
                        self._heat_mode[h] = 1
                        self._heat_ref_t[h], self._heat_ref_c[h] = now, temp
                    else:
                        self._heat_mode[h] = 2
                    self._heat_below[h] = _INF
                self.heat_target[h] = target
                self._heat_exp[h] = self._expiry(now, command.lease_ms)
                plant.heater_supply = True
                self._kick = True
            else:
                self._heat_off(h)
        elif kind is p.SetFoot:
            self._check_cap("FOOT", "speed", command.speed, 0, self.foot_max)
            self._check_lease("FOOT", command.lease_ms)
            if command.speed > 0:
                self._need_occupant("FOOT")
                self.foot = command.speed
                self._foot_exp = self._expiry(now, command.lease_ms)
            else:
                self.foot = 0
                self._foot_exp = _INF
            plant.foot_speed = self.foot
        elif kind is p.SetRecline:
            self._check_range("RECLINE", "back_pct", command.back_pct, 0, PCT_MAX)
            self._check_range("RECLINE", "leg_pct", command.leg_pct, 0, PCT_MAX)
            self._check_lease("RECLINE", command.lease_ms)
            if self.recline != (command.back_pct, command.leg_pct):
                self._axis_t = [now, now]
            self.recline = (command.back_pct, command.leg_pct)
            self._recline_exp = self._expiry(now, command.lease_ms)
        self._recompute(now)

    def _first_report(self, now: float, period_ms: int) -> float:
        """When the first report after REPORT goes: within one period (docs/protocol.md), on
        the next slow tick when that is soon enough. A 100 ms report then shares its tick
        with the slow loops, and a fast-forwarded plant steps once per report, not twice."""
        slow_s = SLOW_TICKS * self.tick_s
        aligned = self._t0 + (math.floor((now - self._t0) / slow_s + _EPS) + 1) * slow_s
        due = now + period_ms / 1000.0
        return aligned if aligned <= due + _EPS else due

    def _expiry(self, now: float, lease_ms: int) -> float:
        return _INF if self._no_lease else now + lease_ms / 1000.0

    def _renew(self, until: float) -> None:
        if self._no_lease:
            return
        if self.roller is not None:
            self._roller_exp = until
        for z, target in enumerate(self.air_target):
            if target > 0:
                self._air_exp[z] = until
        for h, target in enumerate(self.heat_target):
            if target > 0:
                self._heat_exp[h] = until
        if self.foot:
            self._foot_exp = until
        if self.recline is not None:
            self._recline_exp = until
        self._lease_next = min(self._roller_exp, *self._air_exp, *self._heat_exp,
                               self._foot_exp, self._recline_exp)

    def _recompute(self, now: float) -> None:
        """Derived flags after any setpoint change: active, massage, next lease, session."""
        air = any(t > 0 for t in self.air_target)
        heat = any(t > 0 for t in self.heat_target)
        roller = self.roller is not None
        massage = air or heat or self.foot > 0 or (roller and self.roller[1] != "off")
        active = massage or roller or self.recline is not None
        self._air_busy = air
        self._massage = massage
        if active and not self.active:
            self._session_end = now + self.session_s
        elif not active:
            self._session_end = _INF
        self.active = active
        self._lease_next = min(self._roller_exp, *self._air_exp, *self._heat_exp,
                               self._foot_exp, self._recline_exp)

    # ------------------------------------------------------------------ outputs off

    def _air_off(self, z: int) -> None:
        self.air_target[z] = 0.0
        self._air_exp[z] = _INF
        self._filling[z] = False
        self._venting[z] = False
        self._fill[z] = False
        self._vent[z] = True
        self.plant.pump_on = any(self._filling)
        self._airwatch.vent(z, float(self.plant.pressure_kpa[z]), self._now)

    def _heat_off(self, h: int) -> None:
        self.heat_target[h] = 0.0
        self._heat_exp[h] = _INF
        self._heat_mode[h] = 0
        self._heat_below[h] = _INF
        self._heat_last[h] = None
        self._follow_ref[h], self._follow_on[h], self._follow_t[h] = _INF, 0.0, _INF
        self._heat_on[h] = False
        if not any(target > 0 for target in self.heat_target):
            self.plant.heater_supply = False  # the series relay: cuts even a welded relay

    def _roller_off(self) -> None:
        self.roller = None
        self._roller_exp = _INF
        plant = self.plant
        plant.carriage_drive = 0
        plant.technique = "off"
        plant.depth = 0

    def _recline_off(self) -> None:
        self.recline = None
        self._recline_exp = _INF
        plant = self.plant
        if self._reverse[0] is None:
            plant.back_drive = 0
        if self._reverse[1] is None:
            plant.leg_drive = 0

    def _safe_outputs(self) -> None:
        """The safe state: every setpoint cleared, every output at its safe value."""
        plant = self.plant
        self._roller_off()
        for z in range(len(limits.ZONES)):
            self.air_target[z] = 0.0
            self._air_exp[z] = _INF
            self._filling[z] = False
            self._venting[z] = False
        # both relief paths: every vent, and every fill valve into the dumped manifold
        for z, kpa in enumerate(plant.pressure_kpa.tolist()):
            self._airwatch.vent(z, kpa, self._now)
        self._fill[:] = True
        self._vent[:] = True
        plant.dump_open = True
        plant.pump_on = False
        for h in range(len(limits.HEATERS)):
            self._heat_off(h)
        self.foot = 0
        self._foot_exp = _INF
        plant.foot_speed = 0
        self._recline_off()
        self._over_n = 0

    def _latch(self, code: p.FaultCode, detail: str) -> None:
        """Latch `code`: safe state, and the fault pushed once."""
        if self._reset_resumes and self.foot:
            self._resume_foot = self.foot
        self._safe_outputs()
        self._recompute(self._now)
        if code in self.latched:
            return
        self.latched[code] = detail
        self._send(p.FaultReport(code, detail))
        self._query_next = min(self._query_next, self._now)  # new state: `?` at once

    def _present(self) -> list[str]:
        """The latched faults whose condition is still present."""
        plant = self.plant
        still = []
        for code in sorted(self.latched):
            what = ""
            if code is p.FaultCode.OVERPRESSURE:
                over = [z for z, (kpa, cap) in enumerate(
                    zip(plant.pressure_kpa.tolist(), self.air_caps, strict=True)) if kpa > cap]
                what = over and f"zone={limits.ZONES[over[0]]}"
            elif code is p.FaultCode.OVERTEMP:
                hot = [h for h, c in enumerate(plant.thermistor_c.tolist())
                       if c > self.heat_c_max]
                what = hot and f"heater={limits.HEATERS[hot[0]]}"
            elif code is p.FaultCode.THERMISTOR:
                bad = [h for h, c in enumerate(plant.thermistor_c.tolist())
                       if not self.therm_min <= c <= self.therm_max]
                what = bad and f"heater={limits.HEATERS[bad[0]]}"
            elif code is p.FaultCode.OVERCURRENT:
                what = plant.roller_current_a > OVERCURRENT_A and \
                    f"a={plant.roller_current_a:.1f}"
            elif code is p.FaultCode.PINCH:
                what = plant.pinch and "pinch sensor"
            elif code is p.FaultCode.STUCK_ON:
                what = self._stuck_what()
            elif code in (p.FaultCode.AIR_HOLD, p.FaultCode.NOT_VENTING):
                kpa = max(plant.pressure_kpa.tolist())
                what = kpa > self._airwatch.vented_kpa and f"kpa={kpa:.1f}"
            elif code is p.FaultCode.LIMITS_CRC:
                what = self.actual_crc != self.table_crc and "table crc"
            if what:
                still.append(f"{code.wire} {what}")
        return still

    def _heater_stuck(self, current) -> bool:
        """A heater draws current while its relay is commanded off."""
        on = self._heat_on
        return bool((current[0] > HEATER_SENSE_A and not on[0])
                    or (current[1] > HEATER_SENSE_A and not on[1]))

    def _stuck_what(self) -> str:
        """What draws current while commanded off ('' when nothing does)."""
        plant = self.plant
        if plant.pump_current_a > PUMP_SENSE_A and not plant.pump_on:
            return f"pump a={plant.pump_current_a:.1f} while off"
        if plant.heater_supply:
            for h, amps in enumerate(plant.heater_current_a.tolist()):
                if amps > HEATER_SENSE_A and not self._heat_on[h]:
                    return f"heater={limits.HEATERS[h]} a={amps:.1f} while off"
        return ""

    def _reset(self, now: float) -> None:
        still = [] if self._reset_while_faulted else self._present()
        if still:
            raise _Refuse(p.ErrorCode.RESET_REFUSED, "; ".join(still) + " still present")
        self.latched.clear()
        self._reverse = [None, None]
        self._safe_outputs()
        self.plant.back_drive = 0
        self.plant.leg_drive = 0
        self._oc_since = _INF
        self._bad_times.clear()
        if self._resume_foot:  # defect reset-resumes: restarts what the fault stopped
            self.foot = self.plant.foot_speed = self._resume_foot
            self._foot_exp = now + self.lease_ms_max / 1000.0
            self._resume_foot = 0
        self._recompute(now)

    # ------------------------------------------------------------------ the tick

    def _tick(self, now: float) -> None:
        plant = self.plant
        slow = self._kick or self._k % SLOW_TICKS == 0
        self._kick = False
        if now >= self._next_fault_at - _EPS:
            self._fire_faults(now)
        # timers: leases, dead-man, session cap
        if now >= self._lease_next - _EPS:
            self._expire(now)
        if self.active:
            if now - self._last_valid >= self.deadman_s - _EPS and not self._no_deadman:
                self._latch(p.FaultCode.DEADMAN,
                            f"silent_ms={round((now - self._last_valid) * 1000)}")
            elif now >= self._session_end - _EPS:
                self._latch(p.FaultCode.SESSION_CAP, f"active_s={self.session_s:g}")

        # airbags: over-pressure always, regulation when a zone has a target
        pressure = plant.pressure_kpa.tolist()
        if max(pressure) > self._min_cap or self._over_n:
            self._check_overpressure(pressure)
        if self._air_busy:
            self._regulate_air(pressure, now, slow)
        if slow and (self._airwatch.watching or max(pressure) > self._airwatch.held_kpa):
            breach = self._airwatch.check(pressure, now, hold=not self._no_air_hold,
                                          vent=not self._no_vent_check)
            if breach:
                kind, z, detail = breach
                self._latch(p.FaultCode.AIR_HOLD if kind == "held" else p.FaultCode.NOT_VENTING,
                            f"zone={limits.ZONES[z]} {detail}")

        # heaters: plausibility and cut-off always, thermostat and runaway when on
        temps = plant.thermistor_c.tolist()
        t_lo, t_hi = min(temps), max(temps)
        if t_lo < self.therm_min or t_hi > self.therm_max:
            h = 0 if not self.therm_min <= temps[0] <= self.therm_max else 1
            self._latch(p.FaultCode.THERMISTOR,
                        f"heater={limits.HEATERS[h]} c={temps[h]:.1f}")
        elif t_hi > self.heat_c_max:
            h = 0 if temps[0] > self.heat_c_max else 1
            self._latch(p.FaultCode.OVERTEMP, f"heater={limits.HEATERS[h]} c={temps[h]:.1f}")
        elif slow and (self.heat_target[0] > 0 or self.heat_target[1] > 0):
            self._regulate_heat(temps, now)

        # roller motor: over-current always, position control with a setpoint
        if plant.roller_current_a > OVERCURRENT_A:
            if self._oc_since == _INF:
                self._oc_since = now
            elif now - self._oc_since >= self.overcurrent_s - _EPS:
                self._oc_since = _INF
                self._latch(p.FaultCode.OVERCURRENT, f"a={plant.roller_current_a:.1f}")
        else:
            self._oc_since = _INF
        if self.roller is not None:
            self._drive_carriage(now)

        # recline and leg rest
        if self.recline is not None or plant.back_drive or plant.leg_drive:
            self._drive_recline(now)

        # outputs drawing current while commanded off: a stuck pump, a welded heater relay
        if (plant.pump_current_a > PUMP_SENSE_A and not plant.pump_on) or (
                plant.heater_supply and self._heater_stuck(plant.heater_current_a)):
            self._stuck_n += 1
            if self._stuck_n >= STUCK_TICKS and p.FaultCode.STUCK_ON not in self.latched:
                self._latch(p.FaultCode.STUCK_ON, self._stuck_what())
        else:
            self._stuck_n = 0

        # occupancy
        if self._massage and not plant.occupied:
            self._latch(p.FaultCode.VACANT, "seat empty")

        if self._query_owed and now >= self._query_next - _EPS:
            self._query_owed = False
            self._query(now)
        if now >= self._report_next - _EPS:
            self._send(self.status(now))
            self._report_next += self.report_ms / 1000.0
            if self._report_next <= now:
                self._report_next = now + self.report_ms / 1000.0

    def _fire_faults(self, now: float) -> None:
        due = self._faults_due
        while due and due[0][0] <= now + _EPS:
            _, _, name = heapq.heappop(due)
            if name in PLANT_FAULTS:
                self.plant.inject(name)
            elif name == "power-cycle":
                self.plant.back_drive = 0
                self.plant.leg_drive = 0
                self._boot(now)
        self._next_fault_at = due[0][0] if due else _INF

    def _expire(self, now: float) -> None:
        limit = now + _EPS
        if self._roller_exp <= limit:
            self._roller_off()
        for z in range(len(limits.ZONES)):
            if self._air_exp[z] <= limit:
                self._air_off(z)
        for h in range(len(limits.HEATERS)):
            if self._heat_exp[h] <= limit:
                self._heat_off(h)
        if self._foot_exp <= limit:
            self.foot = 0
            self._foot_exp = _INF
            self.plant.foot_speed = 0
        if self._recline_exp <= limit:
            self._recline_off()
        self._recompute(now)

    def _check_overpressure(self, pressure: list[float]) -> None:
        caps = self.air_caps
        for z, kpa in enumerate(pressure):
            if kpa > caps[z]:
                self._over_n += 1
                if self._over_n >= self._over_ticks:
                    self._latch(p.FaultCode.OVERPRESSURE,
                                f"zone={limits.ZONES[z]} kpa={kpa:.1f} cap={caps[z]:g}")
                return
        self._over_n = 0

    def _regulate_air(self, pressure: list[float], now: float, slow: bool) -> None:
        fill, vent = self._fill, self._vent
        filling, venting = self._filling, self._venting
        pump = False
        for z, target in enumerate(self.air_target):
            if target <= 0:
                continue
            kpa = pressure[z]
            if filling[z]:
                if kpa >= target - FILL_STOP_KPA:
                    filling[z] = False
                    fill[z] = False
                elif now - self._fill_t[z] >= self.inflate_s - _EPS:
                    self._latch(p.FaultCode.INFLATE_TIMEOUT,
                                f"zone={limits.ZONES[z]} s={self.inflate_s:g} kpa={kpa:.1f} "
                                f"target={target:.1f}")
                    return
                elif kpa >= self._rise_kpa[z] + AIR_RISE_KPA:
                    self._rise_t[z], self._rise_kpa[z] = now, kpa
                elif now - self._rise_t[z] >= AIR_RISE_S - _EPS:
                    self._latch(p.FaultCode.INFLATE_TIMEOUT,
                                f"zone={limits.ZONES[z]} kpa={kpa:.1f} target={target:.1f} "
                                f"no rise of {AIR_RISE_KPA:g} kPa in {AIR_RISE_S:g} s")
                    return
                if filling[z]:  # still filling (not stopped at the target just now)
                    pump = True
                    continue
            if venting[z]:
                if kpa <= target:
                    venting[z] = False
                    vent[z] = False
                continue
            if not slow:
                continue
            if kpa < target - AIR_BAND_KPA:
                filling[z] = True
                venting[z] = False
                self._fill_t[z] = now
                self._fill_kpa[z] = kpa
                self._rise_t[z], self._rise_kpa[z] = now, kpa
                fill[z] = True
                vent[z] = False
                pump = True
            elif kpa > target + AIR_BAND_KPA:
                venting[z] = True
                vent[z] = True
            elif vent[z]:
                vent[z] = False  # a fresh target inside the band: hold
        if pump and self.plant.dump_open:  # leave the safe state's dump path to inflate
            self.plant.dump_open = False
            fill[:] = filling
        self.plant.pump_on = pump

    def _regulate_heat(self, temps: list[float], now: float) -> None:
        heat_on = self._heat_on
        for h, target in enumerate(self.heat_target):
            if target <= 0:
                continue
            temp = temps[h]
            last, self._heat_last[h] = self._heat_last[h], temp
            if last is not None and abs(temp - last) > self.jump_c:
                self._latch(p.FaultCode.THERMISTOR,
                            f"heater={limits.HEATERS[h]} jumped {last:.1f} to {temp:.1f} C "
                            "(loose?)")
                return
            if not self._no_heat_follow and self._follow(h, temp, now):
                return
            if temp < target - HEAT_HYST_C:
                heat_on[h] = True
            elif temp >= target:
                heat_on[h] = False
            # runaway (Marlin): rise while heating, stay in the band once near target
            floor = target - self.band_c
            if self._heat_mode[h] == 1:
                if temp >= floor:
                    self._heat_mode[h] = 2
                    self._heat_below[h] = _INF
                elif temp >= self._heat_ref_c[h] + self.rise_c:
                    self._heat_ref_t[h], self._heat_ref_c[h] = now, temp
                elif now - self._heat_ref_t[h] >= self.rise_s - _EPS:
                    self._latch(p.FaultCode.HEAT_RUNAWAY,
                                f"heater={limits.HEATERS[h]} c={temp:.1f} target={target:.1f} "
                                f"no rise of {self.rise_c:g} C in {self.rise_s:g} s")
                    return
            elif temp < floor:
                if self._heat_below[h] == _INF:
                    self._heat_below[h] = now
                elif now - self._heat_below[h] >= self.band_s - _EPS:
                    self._latch(p.FaultCode.HEAT_RUNAWAY,
                                f"heater={limits.HEATERS[h]} c={temp:.1f} target={target:.1f} "
                                f"{self.band_c:g} C under target for {self.band_s:g} s")
                    return
            else:
                self._heat_below[h] = _INF

    def _follow(self, h: int, temp: float, now: float) -> bool:
        """Heat follow, in every mode (safety.md rule 8): a heater powered without a break
        for `follow_s` since its reading last rose `follow_c` above its lowest is a runaway
        (F09: a loose thermistor, an open element or cut-off). True when it latched."""
        if not self._heat_on[h] or self._follow_t[h] == _INF:
            self._follow_ref[h], self._follow_on[h] = temp, 0.0  # an on-phase counts from here
        else:
            self._follow_on[h] += now - self._follow_t[h]
            if temp >= self._follow_ref[h] + self.follow_c:
                self._follow_ref[h], self._follow_on[h] = temp, 0.0
            elif temp < self._follow_ref[h]:
                self._follow_ref[h] = temp
        self._follow_t[h] = now
        if self._follow_on[h] < self.follow_s - _EPS:
            return False
        self._latch(p.FaultCode.HEAT_RUNAWAY,
                    f"heater={limits.HEATERS[h]} on {self._follow_on[h]:.1f} s, c={temp:.1f} "
                    f"rose under {self.follow_c:g} C (thermistor loose?)")
        return True

    def _drive_carriage(self, now: float) -> None:
        plant = self.plant
        target = self.roller[0]
        enc = plant.encoder_mm
        err = target - enc
        if err > CARRIAGE_TOL_MM and not plant.end_bottom:
            want = 1
        elif err < -CARRIAGE_TOL_MM and not plant.end_top:
            want = -1
        else:
            want = 0
        drive = plant.carriage_drive
        if want != drive:
            plant.carriage_drive = want
            if want and drive == 0:  # a reversal keeps the stall timer running
                self._stall_t, self._stall_pos = now, enc
                self._track_t = now
            return
        if not want:
            return
        if abs(enc - self._stall_pos) >= ENCODER_STILL_MM:
            self._stall_t, self._stall_pos = now, enc
        elif now - self._stall_t >= self.stall_s - _EPS:
            self._latch(p.FaultCode.STALL, f"pos={enc:.1f} target={target:.1f} "
                        f"still_s={self.stall_s:g}")
            return
        if now - self._track_t >= self.track_timeout_s - _EPS:
            self._latch(p.FaultCode.TRACK_TIMEOUT, f"pos={enc:.1f} target={target:.1f} "
                        f"s={self.track_timeout_s:g}")

    def _drive_recline(self, now: float) -> None:
        plant = self.plant
        positions = (plant.back_pct, plant.leg_pct)
        drives = [plant.back_drive, plant.leg_drive]
        reverse = self._reverse
        targets: list[float | None] = [None, None]
        for a in (0, 1):
            if reverse[a] is not None:
                targets[a] = reverse[a]
            elif self.recline is not None:
                targets[a] = self.recline[a]
        wants = [0, 0]
        for a in (0, 1):
            target = targets[a]
            if target is None:
                continue
            err = target - positions[a]
            if err > RECLINE_TOL_PCT and positions[a] < PCT_MAX:
                wants[a] = 1
            elif err < -RECLINE_TOL_PCT and positions[a] > 0:
                wants[a] = -1
        # pinch: stop, reverse what was moving, latch (a reversal itself keeps going)
        if plant.pinch and reverse == [None, None] and (any(drives) or any(wants)):
            new_reverse: list[float | None] = [None, None]
            for a in (0, 1):
                if drives[a]:
                    back = positions[a] - drives[a] * self.pinch_reverse_pct
                    new_reverse[a] = min(PCT_MAX, max(0.0, back))
            plant.back_drive = 0
            plant.leg_drive = 0
            self._latch(p.FaultCode.PINCH, f"back={positions[0]:.1f} leg={positions[1]:.1f}")
            self._reverse = new_reverse
            self._reverse_start = now
            if new_reverse != [None, None]:
                plant.back_drive = -drives[0] if new_reverse[0] is not None else 0
                plant.leg_drive = -drives[1] if new_reverse[1] is not None else 0
            return
        for a in (0, 1):
            if reverse[a] is not None and wants[a] == 0:
                reverse[a] = None  # reversal done
        for a, name in ((0, "back"), (1, "leg")):
            if wants[a] != drives[a]:
                if wants[a] and reverse[a] is None:
                    self._axis_t[a] = now
                if a == 0:
                    plant.back_drive = wants[a]
                else:
                    plant.leg_drive = wants[a]
            elif wants[a]:
                start = self._reverse_start if reverse[a] is not None else self._axis_t[a]
                if now - start >= self.recline_timeout_s - _EPS:
                    if reverse[a] is not None:
                        reverse[a] = None
                        if a == 0:
                            plant.back_drive = 0
                        else:
                            plant.leg_drive = 0
                        continue
                    self._latch(p.FaultCode.RECLINE_TIMEOUT,
                                f"axis={name} pct={positions[a]:.1f} "
                                f"target={targets[a]:.1f} s={self.recline_timeout_s:g}")
                    return

    # ------------------------------------------------------------------ quiet stretches

    def _quiet_span(self, k: int, limit: float) -> int:
        """How many ticks from tick `k` on can run as one plant step (1: no stretch).

        A stretch ends at the next slow tick, before any deadline, and before a moving axis
        or a filling airbag could come within a tick of where the firmware must act; it
        needs no venting toward a target, no plant fault, no pending confirmation, no heater
        near the cut-off, and every moving axis moving as it did over the last step.
        """
        plant = self.plant
        if (plant.active_faults or self._kick or self._over_n or self._stuck_n
                or self._oc_since != _INF or any(self._venting)
                or max(plant.thermistor_c.tolist()) > self.heat_c_max - QUIET_HEAT_MARGIN_C):
            return 1
        slow = -(-k // SLOW_TICKS) * SLOW_TICKS  # the next slow tick, k itself included
        last = min(slow, math.floor((limit - self._t0) / self.tick_s + _EPS))
        deadline = min(self._lease_next, self._next_fault_at, self._report_next,
                       self._session_end, self._query_next if self._query_owed else _INF)
        if plant.pump_on:
            # An airbag fills ever more slowly (the pump works against the pressure it
            # built), so its average rate since the inflation began bounds its rate from
            # here on: stop the stretch before the reading could reach the fill stop.
            pressure = plant.pressure_kpa.tolist()
            for z, filling in enumerate(self._filling):
                if not filling:
                    continue
                target = self.air_target[z]
                elapsed = (self._now - self._fill_t[z]) / self.tick_s
                room = target - FILL_STOP_KPA - pressure[z] - 2 * QUIET_NOISE_KPA
                if target > self.air_caps[z] or elapsed < 1 or room <= 0:
                    return 1
                rate = (pressure[z] - self._fill_kpa[z] + 2 * QUIET_NOISE_KPA) / elapsed
                last = min(last, k - 2 + math.floor(room / rate))
                deadline = min(deadline, self._fill_t[z] + self.inflate_s,
                               self._rise_t[z] + AIR_RISE_S)
        if self.active and not self._no_deadman:
            deadline = min(deadline, self._last_valid + self.deadman_s)
        for h, target in enumerate(self.heat_target):
            if target > 0:
                if self._heat_mode[h] == 1:
                    deadline = min(deadline, self._heat_ref_t[h] + self.rise_s)
                elif self._heat_below[h] != _INF:
                    deadline = min(deadline, self._heat_below[h] + self.band_s)
        # motion: the carriage, the back and the leg rest
        motion = self._motion
        drives = (plant.carriage_drive, plant.back_drive, plant.leg_drive)
        if (motion[0] != drives) if motion is not None else any(drives):
            return 1  # an axis started or stopped: its speed is not known yet
        if self.roller is not None:
            remaining = abs(self.roller[0] - plant.encoder_mm) - CARRIAGE_TOL_MM
            if drives[0] * (self.roller[0] - plant.encoder_mm) < 0:
                return 1  # a new target behind the carriage: it reverses at the next tick
            if drives[0]:
                speed = motion[1] * drives[0]  # mm per tick, in the drive's direction
                if speed < ENCODER_STILL_MM:
                    return 1
                last = min(last, k - 2 + math.floor(remaining / speed))
                deadline = min(deadline, self._stall_t + self.stall_s,
                               self._track_t + self.track_timeout_s)
            elif remaining > 0:
                return 1  # about to start
        if drives[1] or drives[2] or self.recline is not None:
            if self._reverse != [None, None] or self.recline is None:
                return 1
            for a, pos in ((0, plant.back_pct), (1, plant.leg_pct)):
                remaining = abs(self.recline[a] - pos) - RECLINE_TOL_PCT
                drive = drives[a + 1]
                if drive:
                    speed = motion[a + 2] * drive
                    if speed <= 0:
                        return 1
                    last = min(last, k - 2 + math.floor(remaining / speed))
                    deadline = min(deadline, self._axis_t[a] + self.recline_timeout_s)
                elif remaining > 0 and (pos < PCT_MAX if self.recline[a] > pos else pos > 0):
                    return 1  # about to start
        if deadline < _INF:
            last = min(last, math.floor((deadline - self._t0) / self.tick_s + _EPS))
        return max(1, last - k + 1)
