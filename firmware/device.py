"""The chair's firmware: its parts put together, on one 10 ms control tick.

`Firmware(hw, chair, now)` takes host bytes (`receive`), runs its ticks as the caller's
clock passes the grid (`tick`) and leaves its replies and pushed lines in a bounded transmit
buffer (`take`). It reads and drives the chair only through `hw` (firmware.hal), reads its
limits from the chair description, and never trusts the wire: every argument is checked
against the limits table, every setpoint carries a lease, a silent host trips the dead-man,
and faults latch until a RESET that finds their condition gone (docs/protocol.md §3, §10).

Time is seconds. The tick grid starts at `now` (the boot), `tick_ms` apart. The slow loops
(thermostat, heat runaway, the refill or vent decision of a holding airbag, the held and
vent watch) run on every `SLOW_TICKS`-th tick, as heater loops do on real boards; the
safety monitors run on every tick. `quiet_until` tells a simulated plant how far it may
step in one go before the firmware must look again (every part names its next deadline).

Each part is a class attribute (`wire_class`, `leases_class`, ...): the simulator builds
its test doubles by subclassing a part, never by a switch in this code.
"""

import math

from firmware import codec, codes, report
from firmware.air import Air
from firmware.axes import Axes
from firmware.heat import Heat
from firmware.latch import Latch
from firmware.leases import Leases
from firmware.limits import Limits, Refuse
from firmware.outq import OutQueue
from firmware.wire import Wire

NAME = "chair-fw-0.2.0"
SLOW_TICKS = 10
OUT_BYTES = 8192  # transmit buffer (~0.7 s of line at 115200 baud): whole lines beyond it
#                   are dropped, oldest first; fault pushes go first (§11.1)
INF = float("inf")
EPS = 1e-9


class Firmware:
    """One chair's firmware (the module docstring; docs/firmware.md)."""

    limits_class = Limits
    wire_class = Wire
    leases_class = Leases
    air_class = Air
    heat_class = Heat
    axes_class = Axes
    latch_class = Latch

    def __init__(self, hw, chair, now, proto=2, name=NAME):
        self.hw = hw
        self.chair = chair
        self.proto = proto
        self.name = name
        self.zones = tuple(chair["zones"])
        self.heaters = tuple(chair["heaters"])
        self.limits = self.limits_class(chair["limits"], int(chair["limits_crc"], 16),
                                        self.zones)
        self.tick_s = self.limits["tick_ms"] / 1000.0
        self.out = OutQueue(OUT_BYTES)
        self.t0 = now
        self.k = 0  # the last tick run
        self.now = now  # its time
        self.banner = report.banner(self)
        self.boot(now)

    def boot(self, now):
        """Power on: every part starts afresh; the plant keeps its own state."""
        self.boot_time = now
        self.active = False
        self.massage = False
        self.kick = False  # run the slow loops at the next tick (a new setpoint)
        self.leases = self.leases_class(self.limits, now)
        self.wire = self.wire_class(self)
        self.latch = self.latch_class(self)
        self.air = self.air_class(self)
        self.heat = self.heat_class(self)
        self.axes = self.axes_class(self)
        self.hw.sense()
        self.axes.power_on()
        self.safe()
        self.out.push(self.banner)
        if not self.limits.valid:
            self.fault(codes.F_LIMITS_CRC, self.limits.problem)

    # ------------------------------------------------------------------ views

    @property
    def state(self):
        latched = self.latch.latched
        if codes.F_ESTOP in latched:
            return "Estop"
        if latched:
            return "Fault"
        return "Run" if self.active else "Idle"

    @property
    def waiting(self):
        return len(self.out)

    def take(self, limit=None):
        """What the device sends next: whole lines, fault pushes first, up to `limit`
        bytes (at least one line; everything waiting by default)."""
        return self.out.take(limit) if len(self.out) else b""

    def quiet_s(self, now):
        """Seconds since the last valid line from a host (since the start if none)."""
        return now - self.leases.last_valid

    def status_line(self, now):
        """The status line at `now`, from the readings of the last tick or command."""
        return report.status(self, now)

    # ------------------------------------------------------------------ input

    def receive(self, data, now):
        """Host bytes arriving at `now` (the ticks up to `now` have run). Commands are
        judged on fresh readings."""
        self.hw.sense()
        self.wire.receive(data, now)

    def execute(self, verb, args, seq, now):
        """Run one accepted command; returns the `ok` reply's data (or None); Refuse."""
        if verb == "STATUS":
            self.wire.send(self.status_line(now))
        elif verb == "INFO":
            self.out.push(self.banner)
        elif verb == "LIMITS":
            self.out.push(self.limits.lines)
            return "crc=%04X n=%d" % (self.limits.crc, len(self.limits.entries))
        elif verb == "CONSOLE":
            self.limits.check_range("CONSOLE", "on", args[0], 0, 1)
            self.wire.console = bool(args[0])
            self.wire.send(codec.info(
                "console mode on: lines need no CRC or seq; caps and leases still apply"
                if self.wire.console else "console mode off"))
        elif verb == "SYNC":
            self.wire.sync(seq)
            self.safe()
            self.recompute(now)
        elif verb == "RESET":
            self.latch.reset(now)
        elif verb == "REPORT":
            self.wire.set_report(args[0], now)
        elif verb == "RENEW":
            self.limits.check_lease("RENEW", args[0])
            self.leases.renew(now + args[0] / 1000.0)
        elif verb == "STOP":
            self.safe()
            self.recompute(now)
        else:
            self.actuate(verb, args, now)
        return None

    def actuate(self, verb, args, now):
        self.latch.gate()
        if verb == "AIR":
            self.air.command(args[0], args[1], args[2], now)
        elif verb == "ROLLER":
            self.axes.roller_command(args, now)
        elif verb == "HEAT":
            self.heat.command(args[0], args[1], args[2], now)
        elif verb == "FOOT":
            self.axes.foot_command(args[0], args[1], now)
        elif verb == "RECLINE":
            self.axes.recline_command(args[0], args[1], args[2], now)
        self.recompute(now)

    def fault(self, code, detail):
        """Latch fault `code` (codes.F_*): the safe state, the fault pushed once."""
        self.latch.latch(code, detail)

    def need_occupant(self, verb):
        if not self.hw.occupied:
            raise Refuse(codes.E_UNOCCUPIED, verb + " refused: nobody is seated")

    def first_report(self, now, period_ms):
        """When the first report after REPORT goes: within one period, on the next slow
        tick when that is soon enough (a 100 ms report then shares its tick with the slow
        loops, and a fast-forwarded plant steps once per report, not twice)."""
        slow_s = SLOW_TICKS * self.tick_s
        aligned = self.t0 + (math.floor((now - self.t0) / slow_s + EPS) + 1) * slow_s
        due = now + period_ms / 1000.0
        return aligned if aligned <= due + EPS else due

    # ------------------------------------------------------------------ state

    def recompute(self, now):
        """Derived flags after any setpoint change: active, massage, the session's start."""
        axes = self.axes
        air = self.air.busy = max(self.air.target) > 0 if self.air.n else False
        heat = self.heat.busy = max(self.heat.target) > 0 if self.heat.n else False
        roller = axes.roller
        massage = air or heat or axes.foot > 0 or (roller is not None and roller[1] != "off")
        active = massage or roller is not None or axes.recline is not None
        self.massage = massage
        self.leases.activity(self.active, active, now)
        self.active = active

    def safe(self):
        """The safe state: every setpoint cleared, every output at its safe value."""
        self.axes.safe()
        self.air.safe()
        self.heat.safe()
        self.leases.clear()

    def present(self, code):
        """What keeps latched fault `code` present ('' when its condition is gone)."""
        if code in (codes.F_OVERPRESSURE, codes.F_AIR_HOLD, codes.F_NOT_VENTING):
            return self.air.present(code)
        if code in (codes.F_OVERTEMP, codes.F_THERMISTOR):
            return self.heat.present(code)
        if code in (codes.F_OVERCURRENT, codes.F_PINCH):
            return self.axes.present(code)
        if code == codes.F_STUCK_ON:
            return self.air.pump_stuck() or self.heat.welded()
        if code == codes.F_LIMITS_CRC:
            return "" if self.limits.valid else "table " + self.limits.problem
        return ""

    # ------------------------------------------------------------------ the tick

    def tick(self, k):
        """Run tick number `k` (time t0 + k * tick_s): timers, monitors, control loops."""
        now = self.t0 + k * self.tick_s
        self.k = k
        self.now = now
        hw = self.hw
        hw.sense()
        self.axes.observe(k)
        slow = self.kick or k % SLOW_TICKS == 0
        self.kick = False
        leases = self.leases
        if now >= leases.next - EPS:
            self.expire(now)
        if self.active:
            leases.check(now, self.fault)
        self.air.tick(hw.pressure, now, slow)
        self.heat.tick(hw.temp, now, slow)
        self.axes.tick(now)
        self.latch.watch_stuck()
        if self.massage and not hw.occupied:
            self.fault(codes.F_VACANT, "seat empty")
        self.wire.tick(now)

    def expire(self, now):
        """Clear every setpoint whose lease has run out."""
        for key in self.leases.due(now):
            if key == "roller":
                self.axes.roller_off()
            elif key == "foot":
                self.axes.foot_off()
            elif key == "recline":
                self.axes.recline_off()
            elif key[0] == "air":
                self.air.off(key[1])
            else:
                self.heat.off(key[1])
        self.recompute(now)

    def quiet_until(self, k, last):
        """The last tick j (k <= j <= last) the plant may be stepped to in one step before
        the firmware runs tick j: no deadline of any part, no slow tick, no axis or
        inflation reaching where the firmware must act before it."""
        if (self.kick or self.air.over_n or self.latch.stuck_n or self.axes.oc_since != INF
                or True in self.air.venting or self.heat.near_cutoff()):
            return k
        slow = -(-k // SLOW_TICKS) * SLOW_TICKS  # the next slow tick, k itself included
        last = min(slow, last)
        deadline = min(self.leases.deadline(self.active), self.wire.deadline(),
                       self.heat.deadline())
        last, air_deadline = self.air.last_quiet(k, last, self.now, self.tick_s)
        if last < 0:
            return k
        last, deadline = self.axes.quiet(k, last, min(deadline, air_deadline))
        if last < 0:
            return k
        if deadline < INF:
            last = min(last, math.floor((deadline - self.t0) / self.tick_s + EPS))
        return max(k, last)

