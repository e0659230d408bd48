"""Test doubles of the firmware: each breaks exactly one rule, for the conformance checker
and for tests that show the other channel catches what a broken device misses.

They are built here, around the firmware's parts, by subclassing one part: the firmware a
person flashes (`firmware/`) has no switch that turns a safety rule off.
"""

from __future__ import annotations

from firmware import codec
from firmware.air import Air
from firmware.airwatch import AirWatch
from firmware.device import Firmware
from firmware.heat import Heat
from firmware.latch import Latch
from firmware.leases import INF, Leases
from firmware.limits import Limits
from firmware.wire import Wire

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
    "air-over-cap": "the regulator fills every bag given a target to 1.2 times its zone's "
                    "cap and checks over-pressure there; the limits table (and the AIR "
                    "command's check) keep the true caps",
}
#: How far past its cap `air-over-cap` fills a bag (a share of the cap; under the plant's
#: relief valve, sim.plant_figures.RELIEF_KPA, for every zone of the reference chair).
OVER_CAP_SCALE = 1.2
#: Defects of rules the wire cannot show (a loose thermistor, a held or unvented bag need
#: the plant): for tests that show the other channel catches what the device then misses.
RULE_DEFECTS: dict[str, str] = {
    "no-heat-follow": "a powered heater whose reading does not follow is not a fault",
    "no-air-hold": "airbags may be held inflated for any time and any share of a window",
    "no-vent-check": "a bag told to vent that does not lose its pressure is not a fault",
}
#: The entry `corrupt-limits` changes, and by how much.
CORRUPT_ENTRY = ("airbag_kpa_max.lumbar", 10.0)


class _NoDeadmanLeases(Leases):
    def check(self, now, latch):
        if now >= self.session_end - 1e-9:
            super().check(now, latch)

    def deadline(self, active):
        return min(self.next, self.session_end)


class _SlowDeadmanLeases(Leases):
    def __init__(self, limits, now):
        super().__init__(limits, now)
        self.deadman_s *= 2


class _NoLeases(Leases):
    def grant(self, key, now, lease_ms):
        self.expiry[key] = INF
        self._again()

    def renew(self, until):
        pass


class _IgnoreCrcDecoder(codec.HostDecoder):
    def crc_matches(self, payload, tail):
        return True


class _IgnoreCrcWire(Wire):
    decoder_class = _IgnoreCrcDecoder


class _NoEstopLatch(Latch):
    def estop(self, now):
        self.fw.safe()
        self.fw.recompute(now)


class _DupExecWire(Wire):
    def sequenced(self, verb, args, seq, expected, now):
        if codec.seq_distance(seq, expected) < 0:
            self.run(verb, args, seq, now)
        else:
            super().sequenced(verb, args, seq, expected, now)


class _NoSeqCheckWire(Wire):
    def sequenced(self, verb, args, seq, expected, now):
        if codec.seq_distance(seq, expected) > 0:
            self.expected_seq = codec.seq_after(seq)
            self.remember(seq, self.run(verb, args, seq, now))
        else:
            super().sequenced(verb, args, seq, expected, now)


class _NoCaps(Limits):
    def check_cap(self, verb, name, value, low, high, what=""):
        pass


class _NoNeedCrcWire(Wire):
    def need_crc(self, verb, seq):
        return False


class _NoBadLatchWire(Wire):
    def count_bad(self, now):
        pass


class _EstopQueuedWire(Wire):
    def dispatch(self, events, now):
        late = [e for e in events if e[0] == codec.RT and e[1] != codec.STATUS_BYTE]
        super().dispatch([e for e in events if e not in late], now)
        for event in late:
            self.realtime(event[1], now)


class _ResetResumesLatch(Latch):
    resume_foot = 0

    def latch(self, code, detail):
        if self.fw.axes.foot:
            self.resume_foot = self.fw.axes.foot
        super().latch(code, detail)

    def reset(self, now):
        super().reset(now)
        if self.resume_foot:  # restarts what the fault stopped
            fw = self.fw
            fw.axes.set_foot(self.resume_foot)
            fw.leases.grant("foot", now, fw.limits["lease_ms_max"])
            self.resume_foot = 0
            fw.recompute(now)


class _ResetWhileFaultedLatch(Latch):
    def present(self):
        return []


class _NoHeatFollow(Heat):
    def follow(self, h, temp, now):
        return False


class _NoHoldWatch(AirWatch):
    def _held(self, z, since, now):
        return ""


class _NoVentWatch(AirWatch):
    def _not_venting(self, z, kpa, start, now):
        return ""


class _OverCapAir(Air):
    """The table's caps refuse an AIR command past them; the regulator aims at, and the
    over-pressure check reads against, each cap times OVER_CAP_SCALE."""

    def __init__(self, fw):
        super().__init__(fw)
        self.table_caps = self.caps
        self.caps = [cap * OVER_CAP_SCALE for cap in self.caps]
        self.min_cap = min(self.caps) if self.n else INF

    def command(self, zone, kpa, lease_ms, now):
        if zone in self.fw.zones:
            z = self.fw.zones.index(zone)
            self.fw.limits.check_cap("AIR", "kpa", kpa, 0, self.table_caps[z], zone)
            kpa = self.caps[z] if kpa > 0 else kpa
        super().command(zone, kpa, lease_ms, now)


#: The part each defect replaces.
_PARTS: dict[str, tuple[str, type]] = {
    "no-deadman": ("leases_class", _NoDeadmanLeases),
    "slow-deadman": ("leases_class", _SlowDeadmanLeases),
    "no-lease": ("leases_class", _NoLeases),
    "ignore-crc": ("wire_class", _IgnoreCrcWire),
    "no-estop-latch": ("latch_class", _NoEstopLatch),
    "dup-exec": ("wire_class", _DupExecWire),
    "no-seq-check": ("wire_class", _NoSeqCheckWire),
    "no-caps": ("limits_class", _NoCaps),
    "no-need-crc": ("wire_class", _NoNeedCrcWire),
    "no-bad-frame-latch": ("wire_class", _NoBadLatchWire),
    "estop-queued": ("wire_class", _EstopQueuedWire),
    "reset-resumes": ("latch_class", _ResetResumesLatch),
    "reset-while-faulted": ("latch_class", _ResetWhileFaultedLatch),
    "no-heat-follow": ("heat_class", _NoHeatFollow),
    "no-air-hold": ("watch_class", _NoHoldWatch),
    "no-vent-check": ("watch_class", _NoVentWatch),
    "air-over-cap": ("air_class", _OverCapAir),
}


def firmware_class(defects: frozenset[str]) -> type[Firmware]:
    """The firmware with each named defect's part swapped in (`Firmware` itself for none).

    ValueError names an unknown defect.
    """
    unknown = sorted(set(defects) - set(DEFECTS) - set(RULE_DEFECTS))
    if unknown:
        raise ValueError(f"unknown defect {unknown[0]!r}; valid defects: "
                         f"{', '.join([*DEFECTS, *RULE_DEFECTS])}")
    chosen: dict[str, list[type]] = {}
    for name in sorted(defects):
        if name in _PARTS:  # corrupt-limits is data: the chair description is changed
            attr, cls = _PARTS[name]
            chosen.setdefault(attr, []).append(cls)
    # several defects of one part: one class that inherits each (their overrides chain)
    parts = {attr: classes[0] if len(classes) == 1 else type("_".join(
        c.__name__ for c in classes), tuple(classes), {}) for attr, classes in chosen.items()}
    watch = parts.pop("watch_class", None)
    if watch is not None:  # (on the air_class of another defect, if any)
        base = parts.get("air_class", Air)
        parts["air_class"] = type("_AirWith" + watch.__name__, (base,), {"watch_class": watch})
    if not parts:
        return Firmware
    return type("Firmware_" + "_".join(sorted(defects)).replace("-", "_"), (Firmware,), parts)


def corrupt(chair: dict) -> dict:
    """A copy of the chair description with one limit changed under its built CRC."""
    name, delta = CORRUPT_ENTRY
    limits = [[e[0], e[1] + delta, *e[2:]] if e[0] == name else list(e) for e in chair["limits"]]
    return {**chair, "limits": limits}
