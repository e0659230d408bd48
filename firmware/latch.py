"""Latching and reset (safety.md rules 3, 5): a fault puts every output in its safe state and
stays until a RESET finds its condition gone; while one is latched nothing actuates."""

from firmware import codec, codes
from firmware.limits import Refuse

STUCK_TICKS = 5  # ticks of current while off before F17 latches (outputs settle in one)


class Latch:
    """The latched faults (`latched`: code -> detail) and what latching and reset do."""

    def __init__(self, fw):
        self.fw = fw
        self.latched = {}
        self.stuck_n = 0  # ticks an output has drawn current while off

    def latch(self, code, detail):
        """Latch `code`: the safe state now, and the fault pushed once."""
        fw = self.fw
        fw.safe()
        fw.recompute(fw.now)
        if code in self.latched:
            return
        self.latched[code] = detail
        fw.out.push(codec.fault(code, detail))
        fw.wire.state_changed(fw.now)

    def estop(self, now):
        """The emergency stop byte."""
        self.fw.fault(codes.F_ESTOP, "emergency stop byte")

    def gate(self):
        """Refuse actuation while a fault is latched (E14, E08, E07)."""
        latched = self.latched
        if not latched:
            return
        fw = self.fw
        if codes.F_LIMITS_CRC in latched:
            raise Refuse(codes.E_LIMITS_INVALID, fw.limits.problem)
        if codes.F_ESTOP in latched:
            raise Refuse(codes.E_ESTOPPED, "emergency stop latched; send RESET")
        raise Refuse(codes.E_FAULTED, ",".join("F%02d" % c for c in sorted(latched))
                     + " latched; send RESET")

    def present(self):
        """The latched faults whose condition is still present, as wire text."""
        fw = self.fw
        still = []
        for code in sorted(self.latched):
            what = fw.present(code)
            if what:
                still.append("F%02d %s %s" % (code, codes.FAULT_NAMES[code], what))
        return still

    def reset(self, now):
        """RESET: clear every latch, or refuse (E11) naming what is still present."""
        self.fw.hw.sense()  # judge the conditions on fresh readings
        still = self.present()
        if still:
            raise Refuse(codes.E_RESET_REFUSED, "; ".join(still) + " still present")
        fw = self.fw
        self.latched.clear()
        fw.axes.reverse = [None, None]
        fw.safe()
        fw.axes.stop_all()
        fw.wire.bad_times.clear()
        fw.recompute(now)

    def watch_stuck(self):
        """Outputs drawing current while commanded off: a stuck pump, a welded heater relay
        (F17 after STUCK_TICKS ticks)."""
        fw = self.fw
        what = fw.air.pump_stuck() or fw.heat.welded()
        if what:
            self.stuck_n += 1
            if self.stuck_n >= STUCK_TICKS and codes.F_STUCK_ON not in self.latched:
                fw.fault(codes.F_STUCK_ON, what)
        else:
            self.stuck_n = 0
