"""The firmware's own tests: leases, dead-man, session cap, e-stop, latching and reset,
sequence numbers, the limits table. Plain functions with `assert`, importing only the
firmware, so that the same tests run under CPython (pytest) and under real MicroPython
(tests/test_micropython.py). The chair is `firmware.hal.Hardware`: readings the test sets.
"""

from firmware import chairs, codes
from firmware.crc import crc16
from firmware.device import Firmware
from firmware.hal import Hardware


class Bench:
    """A firmware on fixed readings, a clock in seconds and a host that frames lines."""

    def __init__(self, chair=None, sync=True):
        self.chair = chair or chairs.load("reference")
        self.hw = Hardware(len(self.chair["zones"]), len(self.chair["heaters"]))
        self.fw = Firmware(self.hw, self.chair, 0.0)
        self.seq = 0
        self.out = self.fw.take()
        if sync:
            self.send("SYNC")

    def run(self, seconds):
        """Run the ticks of the next `seconds`."""
        fw = self.fw
        end = fw.k + round(seconds / fw.tick_s)
        while fw.k < end:
            fw.tick(fw.k + 1)
        self.out += fw.take()

    def line(self, payload):
        self.seq += 1
        text = "%d %s" % (self.seq, payload)
        return ("%s*%04X\n" % (text, crc16(text.encode()))).encode()

    def send(self, payload, framed=True):
        """One host line at the current tick; the device's reply lines (text)."""
        data = self.line(payload) if framed else (payload + "\n").encode()
        return self.raw(data)

    def raw(self, data):
        self.fw.receive(data, self.fw.now)
        got = self.fw.take()
        self.out += got
        return [line.split("*")[0] for line in got.decode().split("\n") if line]

    def faults(self):
        return sorted(self.fw.latch.latched)


def _safe(hw, n_zones, n_heaters):
    out = hw.outputs
    return (all(out[("vent", z)] and out[("fill", z)] for z in range(n_zones))
            and out["dump"] and not out["pump"] and not out["supply"]
            and not any(out[("heater", h)] for h in range(n_heaters))
            and out["carriage"] == 0 and out["foot"] == 0 and out["head"][2] == 0)


def test_the_crc_is_ccitt_false():
    assert crc16(b"123456789") == 0x29B1
    assert crc16(b"") == 0xFFFF


def test_boot_pushes_the_banner_and_starts_safe():
    b = Bench(sync=False)
    assert b.out.startswith(b"#CHAIR proto=2 fw=chair-fw-0.2.0 zones=shoulders,arms,lumbar")
    assert b" limits=A515 axes=carriage,back,leg,foot sensors=force,pinch,seat*" in b.out
    assert _safe(b.hw, 6, 2) and b.fw.state == "Idle"


def test_limits_answers_the_table_and_its_crc():
    b = Bench()
    lines = b.send("LIMITS")
    assert lines[0] == "$airbag_kpa_max.shoulders=30"
    assert lines[-1].endswith(" crc=A515 n=%d" % len(b.chair["limits"]))


def test_actuation_needs_sync_and_crc():
    b = Bench(sync=False)
    assert b.send("AIR lumbar 10.0 1000")[0].startswith("error 1 E10 not-synced")
    assert b.send("AIR lumbar 10.0 1000", framed=False)[0].startswith("error - E06 need-crc")
    assert b.fw.air.target[2] == 0.0


def test_a_setpoint_holds_for_its_lease_then_vents():
    b = Bench()
    assert b.send("AIR lumbar 10.0 500")[0].startswith("ok ")
    b.run(0.3)
    assert b.fw.air.target[2] == 10.0 and b.hw.outputs[("fill", 2)]
    b.send("STATUS")  # keeps the host alive: only the lease runs out
    b.run(0.3)
    assert b.fw.air.target[2] == 0.0 and b.hw.outputs[("vent", 2)]
    assert not b.faults()


def test_renew_extends_every_lease():
    b = Bench()
    b.send("FOOT 2 500")
    b.send("RECLINE 0.0 0.0 500")
    for _ in range(5):
        b.run(0.3)
        assert b.send("RENEW 500")[0].startswith("ok ")
    assert b.fw.axes.foot == 2 and b.fw.axes.recline == (0.0, 0.0) and not b.faults()


def test_a_lease_over_the_cap_is_refused():
    b = Bench()
    assert b.send("AIR lumbar 10.0 2001")[0].startswith("error 2 E04 out-of-range")


def test_a_silent_host_trips_the_deadman():
    b = Bench()
    b.send("HEAT lumbar 38.0 2000")
    b.run(0.49)
    assert not b.faults()
    b.run(0.02)
    assert b.faults() == [codes.F_DEADMAN] and _safe(b.hw, 6, 2)
    assert b"!F02 deadman" in b.out


def test_the_session_cap_stops_a_renewed_session():
    chair = chairs.load("reference")
    entries = [[e[0], 2 if e[0] == "session_s_max" else e[1]] + e[2:] for e in chair["limits"]]
    text = "".join("$%s=%g\n" % (e[0], e[1]) for e in entries)
    chair = dict(chair, limits=entries, limits_crc="%04X" % crc16(text.encode()))
    b = Bench(chair)
    b.send("FOOT 1 1000")
    for _ in range(6):
        b.run(0.3)
        b.send("RENEW 1000")
    assert not b.faults()
    for _ in range(2):
        b.run(0.3)
        b.send("RENEW 1000")
    assert b.faults() == [codes.F_SESSION_CAP] and b.hw.outputs["foot"] == 0


def test_the_estop_byte_latches_until_reset():
    b = Bench()
    b.send("ROLLER 500.0 knead 2 2 2 2000")
    b.raw(b"\x9e")
    assert b.faults() == [codes.F_ESTOP] and b.fw.state == "Estop" and _safe(b.hw, 6, 2)
    assert b.send("AIR lumbar 10.0 1000")[0].startswith("error 3 E08 estopped")
    assert b.send("RESET")[0] == "ok 4"
    assert not b.faults() and b.fw.state == "Idle"


def test_a_typed_bang_stops_outside_a_host_session_only():
    b = Bench()
    b.send("FOOT 1 1000")
    b.raw(b"!")  # within the session: line data
    assert not b.faults()
    b = Bench(sync=False)
    b.raw(b"!")  # a person at a terminal
    assert b.faults() == [codes.F_ESTOP]


def test_reset_is_refused_while_the_condition_is_present():
    b = Bench()
    b.hw.pressure[2] = 40.0  # over the lumbar cap of 35 kPa
    b.run(0.1)
    assert b.faults() == [codes.F_OVERPRESSURE]
    reply = b.send("RESET")[0]
    assert reply.startswith("error 2 E11 reset-refused F05 overpressure zone=lumbar")
    b.hw.pressure[2] = 0.0
    assert b.send("RESET")[0] == "ok 3" and not b.faults()


def test_three_bad_frames_within_a_second_latch():
    b = Bench()
    for _ in range(3):
        b.raw(b"7 STOP*0000\n")
    assert b.faults() == [codes.F_BAD_FRAMES]


def test_a_duplicate_is_answered_not_run_again():
    b = Bench()
    line = b.line("FOOT 2 1000")
    first = b.raw(line)
    b.send("FOOT 0 1000")
    again = b.raw(line)  # a resend of an old line: its old reply, nothing runs
    assert first == again and b.fw.axes.foot == 0


def test_a_gap_is_refused():
    b = Bench()
    b.seq += 1  # a line lost on the way
    assert b.send("FOOT 1 1000")[0] == "error 3 E05 seq-gap expect=2"


def test_nobody_seated_refuses_actuation():
    b = Bench()
    b.hw.occupied = False
    assert b.send("AIR lumbar 10.0 1000")[0].startswith("error 2 E12 unoccupied")


def test_a_corrupt_table_latches_f14_for_good():
    chair = chairs.load("reference")
    entries = [[e[0], e[1] + 1 if e[0] == "deadman_ms" else e[1]] + e[2:]
               for e in chair["limits"]]
    b = Bench(dict(chair, limits=entries))
    assert b.faults() == [codes.F_LIMITS_CRC]
    assert b.send("FOOT 1 1000")[0].startswith("error 2 E14 limits-invalid")
    assert b.send("RESET")[0].startswith("error 3 E11")


def test_the_compact_chair_has_its_own_zones():
    b = Bench(chairs.load("compact"))
    assert b" zones=lumbar,seat,calves heaters=lumbar " in b.out
    assert b.send("AIR calves 10.0 1000")[0].startswith("ok ")
    assert b.send("AIR shoulders 10.0 1000")[0].startswith("error 3 E03 bad-args")
    assert b.send("FOOT 1 1000")[0].startswith("error 4 E03 bad-args")
    assert b.send("ROLLER 1200.0 knead 1 1 1 1000")[0].startswith("error 5 E04")


def _rebuilt(chair, change):
    """`chair` with its limits changed by `change(entries)`, built with the new table's CRC."""
    entries = [list(e) for e in chair["limits"]]
    change(entries)
    text = "".join("$%s=%g\n" % (e[0], e[1]) for e in entries)
    return dict(chair, limits=entries, limits_crc="%04X" % crc16(text.encode()))


def test_a_table_looser_than_the_rules_is_refused_whatever_its_crc():
    """A description with a valid CRC but a dead-man of 10 minutes, or a 90 kPa bag: F14,
    nothing actuates (the firmware never runs looser than docs/safety.md's rules)."""
    for name, value in (("deadman_ms", 600000), ("airbag_kpa_max.lumbar", 90),
                        ("heat_c_max", 80), ("lease_ms_max", 60000)):
        def change(entries, name=name, value=value):
            for e in entries:
                if e[0] == name:
                    e[1] = value
        b = Bench(_rebuilt(chairs.load("reference"), change))
        assert b.faults() == [codes.F_LIMITS_CRC], name
        assert (name + "=%g outside the rule's" % value).encode() in b.out, b.out
        assert b.send("FOOT 1 1000")[0].startswith("error 2 E14 limits-invalid " + name)


def test_a_table_without_an_entry_starts_refusing_rather_than_crashing():
    def change(entries):
        entries[:] = [e for e in entries if e[0] != "deadman_ms"]
    b = Bench(_rebuilt(chairs.load("reference"), change))
    assert b.faults() == [codes.F_LIMITS_CRC] and b"no entry deadman_ms" in b.out
    assert b.send("AIR lumbar 5.0 1000")[0].startswith("error 2 E14")


def test_the_value_used_is_the_text_the_crc_covers():
    def change(entries):
        for e in entries:
            if e[0] == "heat_target_c_max":
                e[1] = 40.0000001  # "%g" writes 40: the CRC covers "40"
    b = Bench(_rebuilt(chairs.load("reference"), change))
    assert not b.faults() and b.fw.limits["heat_target_c_max"] == 40.0
