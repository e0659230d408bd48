"""The real firmware on the real board layer, end to end, under CPython on a fake `machine`.

Each shipped pin map builds a Board whose analog inputs read a plausible chair (room-
temperature thermistors, zero gauge pressure, no current, no force, recline and leg rest
at 0 %), seat switch closed and the carriage on its top end switch. The reference chair's
Firmware runs on it through the board's own loop (firmware/boards/main.py `run`) with a
fake port and clock; the host's lines are framed by the host codec (chair.protocol) and
everything the port carries is decoded by its DeviceDecoder. The checks are made on the
pins: each output's level as its polarity (active-low, normally-open, shift register) says.
"""

from __future__ import annotations

import contextlib
import math
import sys

import pytest

from chair import protocol as p
from firmware import chairs
from firmware.boards import main as board_main
from firmware.device import Firmware
from tests.firmware.test_board_fakes import VREF, fake_machine, mux_reader, shipped

FULL = 65535
MAPS = ["esp32", "rp2040"]
ROOM_C = 25.0


class Pause(Exception):
    """Raised by the port's wait once the clock reaches where the test looks next."""


class Clock:
    def __init__(self) -> None:
        self.now = 0

    def ms(self) -> int:
        return self.now


class Port:
    """Host bytes queued by the test, read by the loop's next pass; `wait` moves the clock
    and pauses the loop (by raising Pause) once it reaches `stop_at`."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.inbox = bytearray()
        self.sent = bytearray()
        self.stop_at = 0

    def read(self) -> bytes:
        data, self.inbox = bytes(self.inbox), bytearray()
        return data

    def write(self, data: bytes) -> None:
        self.sent += data

    def wait(self, ms: int) -> None:
        self.clock.now += ms
        if self.clock.now >= self.stop_at:
            raise Pause


class Wdt:
    def __init__(self) -> None:
        self.feeds = 0

    def feed(self) -> None:
        self.feeds += 1


class Shift:
    """The 74HC595 chain's latched outputs, replayed from the pin writes as they come."""

    def __init__(self, m, spec: dict) -> None:
        self.m, self.spec = m, spec
        self.at = 0
        self.shift = [0] * spec["bits"]
        self.latched: list[int | None] = [None] * spec["bits"]
        self.data = 0

    def bits(self) -> list[int | None]:
        spec, events = self.spec, self.m.events
        for gpio, level in events[self.at:]:
            if gpio == spec["data"]:
                self.data = level
            elif gpio == spec["clock"] and level:
                self.shift = [self.data, *self.shift[:-1]]
            elif gpio == spec["latch"] and level:
                self.latched = list(self.shift)
        self.at = len(events)
        return self.latched


def kpa_volts(spec: dict, kpa: float) -> float:
    return spec["zero_v"] + kpa / spec["kpa_per_v"]


def thermistor_volts(spec: dict, c: float) -> float:
    """The divider's volts at `c` degrees C (the Beta equation, NTC to ground)."""
    r = spec["r25"] * math.exp(spec["beta"] * (1.0 / (c + 273.15) - 1.0 / 298.15))
    return VREF * r / (r + spec["r_fixed"])


class Rig:
    """One shipped pin map, the Board on a fake machine, the reference chair's Firmware, the
    board's loop; `run_to(ms)` runs the loop until its clock reaches `ms`."""

    def __init__(self, name: str, monkeypatch) -> None:
        self.m = m = fake_machine(read_uv=name == "esp32")
        monkeypatch.setitem(sys.modules, "machine", m)
        self.pins = pins = shipped(name)
        self.chair = chairs.load(pins["chair"])
        self.mux: dict[int, float] = {}
        if "amux" in pins:
            m.volts[pins["amux"]["adc"]] = mux_reader(m, pins["amux"]["select"], self.mux)
        for z in pins["zones"]:
            self.kpa(z, 0.0)
        for h in pins["heaters"]:
            self.temp(h, ROOM_C)
            self.volts(pins["heaters"][h]["current"], pins["heaters"][h]["current"].get(
                "zero_v", 0.0))
        for key in ("roller_current", "pump_current", "force"):
            if key in pins:
                self.volts(pins[key], pins[key].get("zero_v", 0.0))
        for axis in ("back", "leg"):
            if axis in pins:
                self.volts(pins[axis]["position"], pins[axis]["position"]["v0"])
        self.board = board_main.build(pins, self.chair, m)
        self.shift = Shift(m, pins["shift"]) if "shift" in pins else None
        self.switch("seat", True)  # occupied
        self.switch("end_top", True)  # the carriage at the top end
        self.switch("end_bottom", False)
        for spec in pins["pinch"]:
            self.set_switch(spec, False)
        self.fw = Firmware(self.board, self.chair, 0.0)
        self.clock = Clock()
        self.port = Port(self.clock)
        self.wdt = Wdt()
        self.decoder = p.DeviceDecoder()
        self.messages: list = []
        self.seq = 0

    # ---- the plant side: what the sensors read
    def volts(self, spec: dict, v: float) -> None:
        if "mux" in spec:
            self.mux[spec["mux"]] = v
        else:
            self.m.volts[spec["adc"]] = v

    def kpa(self, zone: str, kpa: float) -> None:
        spec = self.pins["zones"][zone]["pressure"]
        self.volts(spec, kpa_volts(spec, kpa))

    def temp(self, heater: str, c: float) -> None:
        spec = self.pins["heaters"][heater]["thermistor"]
        self.volts(spec, thermistor_volts(spec, c))

    def set_switch(self, spec: dict, pressed: bool) -> None:
        self.m.pins[spec["pin"]].level = int(pressed != bool(spec.get("active_low", False)))

    def switch(self, key: str, pressed: bool) -> None:
        self.set_switch(self.pins[key], pressed)

    # ---- the loop and the wire
    def run_to(self, ms: int) -> None:
        """Run the board's loop until its clock reaches `ms` (a new run() each time, as
        after a pause: the clock then stands on the next tick, so no tick runs twice)."""
        self.port.stop_at = ms
        while self.clock.now < ms:
            with contextlib.suppress(Pause):
                board_main.run(self.fw, self.board, self.port, self.wdt, self.clock)

    def send(self, command: p.Command, seq: bool = True) -> int | None:
        """Queue one framed host line (CRC, and the next seq number when `seq`)."""
        n = None
        if seq:
            self.seq += 1
            n = self.seq
        self.port.inbox += p.encode_command(command, n)
        return n

    def received(self) -> list:
        """The device's messages since the last call, each a whole framed line with a good
        CRC (a bad line fails the test)."""
        data, self.port.sent = bytes(self.port.sent), bytearray()
        got = self.decoder.feed(data)
        bad = [m for m in got if isinstance(m, p.BadLine)]
        assert not bad, bad
        self.messages += got
        return got

    # ---- the pins
    def level(self, spec: dict) -> int | None:
        if "shift" in spec:
            return self.shift.bits()[spec["shift"]]
        return self.m.pins[spec["pin"]].level

    def output(self, spec: dict) -> bool:
        """The output's meaning from its pin level (a valve open, a relay closed)."""
        level = self.level(spec)
        assert level in (0, 1), (spec, level)
        return (bool(level) != bool(spec.get("active_low", False))) \
            != bool(spec.get("normally_open", False))

    def zone(self, zone: str) -> tuple[bool, bool]:
        """(fill open, vent open) of `zone`, from the pins."""
        spec = self.pins["zones"][zone]
        return self.output(spec["fill"]), self.output(spec["vent"])

    def motor_running(self, spec: dict) -> bool:
        """An H-bridge: either input on, or an enable PWM above 0."""
        on = self.output(spec["in1"]) or self.output(spec["in2"])
        if "enable" in spec:
            on = on or self.m.pwms[spec["enable"]].duty != 0
        return on

    def pwm_running(self, spec: dict) -> bool:
        duty = self.m.pwms[spec["pin"]].duty
        return duty != (FULL if spec.get("active_low", False) else 0)

    def safe(self) -> list[str]:
        """What differs on the pins from the firmware's safe state (empty: all safe)."""
        pins, wrong = self.pins, []
        if self.shift is not None and self.m.pins[pins["shift"]["enable"]].level != 0:
            wrong.append("shift register outputs disabled")
        for z in self.chair["zones"]:
            fill, vent = self.zone(z)
            if not fill:
                wrong.append(z + " fill closed")
            if not vent:
                wrong.append(z + " vent closed")
        if not self.output(pins["dump"]):
            wrong.append("dump closed")
        if self.output(pins["pump"]):
            wrong.append("pump on")
        for h in self.chair["heaters"]:
            if self.output(pins["heaters"][h]["relay"]):
                wrong.append(h + " heater relay on")
        if self.output(pins["supply"]):
            wrong.append("supply relay on")
        for axis in ("carriage", "back", "leg"):
            if axis in pins and self.motor_running(pins[axis]["motor"]):
                wrong.append(axis + " motor running")
        head = pins["head"]
        for part in ("knead", "tap"):
            if self.pwm_running(head[part]):
                wrong.append(part + " motor running")
        if "depth" in head:
            spec = head["depth"]
            retracted = int(spec["pulse_us"][0] * spec["freq"] * FULL / 1000000)
            if self.m.pwms[spec["pin"]].duty != retracted:
                wrong.append("heads not retracted")
        if "foot" in pins and self.pwm_running(pins["foot"]):
            wrong.append("foot rollers running")
        return wrong

    def sync(self) -> None:
        self.send(p.Sync())
        self.run_to(self.clock.now + 10)
        assert p.Ok(self.seq) in self.received()


def faults(messages: list) -> list[int]:
    return [m.code for m in messages if isinstance(m, p.FaultReport)]


@pytest.fixture(params=MAPS)
def rig(request, monkeypatch) -> Rig:
    return Rig(request.param, monkeypatch)


# ---------------------------------------------------------------- boot


def test_the_chair_reads_plausibly_on_the_board(rig) -> None:
    board = rig.board
    board.sense()
    assert board.pressure == pytest.approx([0.0] * 6, abs=0.01)
    assert board.temp == pytest.approx([ROOM_C] * 2, abs=0.05)
    assert board.heater_a == pytest.approx([0.0, 0.0], abs=0.01)
    assert (board.roller_a, board.pump_a, board.force_n) == pytest.approx((0, 0, 0), abs=0.01)
    assert (board.back_pct, board.leg_pct) == pytest.approx((0.0, 0.0), abs=0.01)
    assert board.occupied and board.end_top and not board.end_bottom and not board.pinch
    assert board.encoder_mm == 0.0


def test_at_boot_every_pin_is_in_the_firmwares_safe_state(rig) -> None:
    rig.run_to(10)  # the first tick
    assert rig.safe() == []
    assert rig.fw.state == "Idle" and rig.fw.latch.latched == {}
    assert rig.wdt.feeds >= 1


def test_the_banner_and_limits_come_out_of_the_port_framed(rig) -> None:
    rig.run_to(10)
    got = rig.received()
    banner = got[0]
    assert isinstance(banner, p.Banner)
    chair = rig.chair
    assert banner.zones == tuple(chair["zones"]) and banner.heaters == tuple(chair["heaters"])
    assert banner.track_mm == chair["track_mm"]
    assert banner.limits_crc == int(chair["limits_crc"], 16)
    rig.send(p.QueryLimits(), seq=False)
    rig.run_to(40)  # the answer is longer than one pass writes
    got = rig.received()
    lines = [m for m in got if isinstance(m, p.LimitLine)]
    assert [(m.name, m.value) for m in lines] == [(e[0], e[1]) for e in chair["limits"]]
    assert got[-1] == p.Ok(None, f"crc={chair['limits_crc']} n={len(chair['limits'])}")


# ---------------------------------------------------------------- air and the dead-man


def test_air_fills_the_lumbar_bag_until_its_target_then_the_dead_man_trips(rig) -> None:
    rig.run_to(100)
    rig.sync()
    assert rig.safe() == []  # SYNC: every output to its safe value
    rig.send(p.SetAir("lumbar", 10.0, 2000))
    sent = rig.clock.now
    rig.run_to(sent + 20)  # the command, then the slow loop it kicks
    assert p.Ok(rig.seq) in rig.received()
    assert rig.zone("lumbar") == (True, False)  # filling: fill open, vent shut
    assert not rig.output(rig.pins["dump"])
    assert rig.output(rig.pins["pump"])
    for z in rig.chair["zones"]:
        if z != "lumbar":
            assert rig.zone(z) == (False, True), z  # the others: held off the manifold, vented
    rig.kpa("lumbar", 5.0)
    rig.run_to(sent + 100)
    assert rig.output(rig.pins["pump"]) and rig.zone("lumbar")[0]
    rig.kpa("lumbar", 9.9)  # within the fill stop (target - 0.25 kPa)
    rig.run_to(sent + 120)
    assert rig.zone("lumbar") == (False, False)  # held
    assert not rig.output(rig.pins["pump"])
    assert rig.board.pressure[2] == pytest.approx(9.9, abs=0.01)
    assert faults(rig.received()) == []
    # the host falls silent: the dead-man acts 500 ms after its last valid line
    rig.run_to(sent + 490)
    assert faults(rig.received()) == [] and rig.safe() != []
    rig.run_to(sent + 510)
    assert faults(rig.received()) == [p.FaultCode.DEADMAN]
    assert rig.safe() == []
    assert rig.fw.state == "Fault"


# ---------------------------------------------------------------- e-stop, heat


def test_the_estop_byte_latches_f01_and_the_pins_go_safe_within_a_tick(rig) -> None:
    rig.run_to(100)
    rig.sync()
    rig.send(p.SetAir("lumbar", 10.0, 2000))
    rig.send(p.SetHeat("lumbar", 38.0, 2000))
    rig.run_to(rig.clock.now + 20)
    assert rig.safe() != []
    rig.port.inbox += bytes([p.ESTOP_BYTE])
    rig.run_to(rig.clock.now + 10)  # delivered on the next pass, right after its tick
    assert rig.safe() == []
    assert faults(rig.received()) == [p.FaultCode.ESTOP]
    assert rig.fw.state == "Estop"
    rig.send(p.SetAir("lumbar", 10.0, 2000))  # refused while latched
    rig.run_to(rig.clock.now + 20)
    assert any(isinstance(m, p.Error) and m.code == p.ErrorCode.ESTOPPED
               for m in rig.received())
    assert rig.safe() == []


def test_heat_switches_the_heater_and_supply_relays_while_below_target(rig) -> None:
    rig.run_to(100)
    rig.sync()
    rig.send(p.SetHeat("lumbar", 38.0, 2000))
    rig.run_to(rig.clock.now + 20)
    assert p.Ok(rig.seq) in rig.received()
    heaters = rig.pins["heaters"]
    assert rig.output(heaters["lumbar"]["relay"]) and rig.output(rig.pins["supply"])
    assert not rig.output(heaters["seat"]["relay"])
    relay, supply = heaters["lumbar"]["relay"], rig.pins["supply"]
    assert rig.level(relay) == int(not relay.get("active_low", False))  # its active level
    assert rig.level(supply) == int(not supply.get("active_low", False))
    for c in (27.0, 29.0, 31.0, 33.0, 35.0, 37.0):  # warming (a jump over 3 C is F08)
        rig.temp("lumbar", c)
        rig.send(p.Renew(2000))
        rig.run_to(rig.clock.now + 100)
        assert rig.output(relay) and rig.output(supply), c
    rig.temp("lumbar", 38.2)  # at target: the thermostat opens the relay, supply stays
    rig.send(p.Renew(2000))
    rig.run_to(rig.clock.now + 100)  # the next slow tick
    assert not rig.output(relay) and rig.output(supply)
    assert faults(rig.received()) == []


def test_an_open_thermistor_latches_f08_and_cuts_the_supply_relay(rig) -> None:
    rig.run_to(100)
    rig.sync()
    rig.send(p.SetHeat("lumbar", 38.0, 2000))
    rig.run_to(rig.clock.now + 20)
    supply = rig.pins["supply"]
    assert rig.output(supply)
    spec = rig.pins["heaters"]["lumbar"]["thermistor"]
    rig.volts(spec, VREF)  # the NTC to ground open: the divider reads the full supply
    rig.run_to(rig.clock.now + 10)
    assert rig.board.temp[0] < rig.fw.heat.therm_min
    assert faults(rig.received()) == [p.FaultCode.THERMISTOR]
    assert not rig.output(supply)
    assert rig.level(supply) == int(supply.get("active_low", False))
    assert rig.safe() == []


# ---------------------------------------------------------------- status, roller, foot


def test_status_reports_the_boards_readings(rig) -> None:
    rig.run_to(100)
    rig.kpa("seat", 3.0)
    rig.temp("seat", 30.0)
    rig.send(p.QueryStatus(), seq=False)
    rig.run_to(120)
    status = [m for m in rig.received() if isinstance(m, p.StatusReport)]
    assert len(status) == 1
    s = status[0]
    assert s.state == "Idle" and s.occupied and not s.pinch and s.faults == ()
    assert s.air_kpa == pytest.approx((0.0, 0.0, 0.0, 3.0, 0.0, 0.0), abs=0.05)
    assert s.heat_c == pytest.approx((ROOM_C, 30.0), abs=0.1)
    assert (s.pos_mm, s.force_n, s.back_pct, s.leg_pct) == pytest.approx((0, 0, 0, 0), abs=0.05)


def step_carriage(rig: Rig, edges: int) -> None:
    """Move the carriage down the track by `edges` edges of encoder A (quadrature, A leading
    B): each counts +1 pulse."""
    enc = rig.pins["carriage"]["encoder"]
    a, b = rig.m.pins[enc["a"]], rig.m.pins[enc["b"]]
    for _ in range(edges):
        a.level ^= 1
        a.handler(a)
        b.level = a.level  # B follows A a quarter period later


def test_roller_and_foot_commands_reach_the_carriage_head_and_foot_pins(rig) -> None:
    pins = rig.pins
    motor, head = pins["carriage"]["motor"], pins["head"]
    rig.run_to(100)
    rig.sync()
    rig.send(p.SetRoller(20.0, "knead", 2, 3, 4, 2000))
    rig.send(p.SetFoot(2, 2000))
    rig.run_to(rig.clock.now + 20)
    assert faults(rig.received()) == []
    assert rig.output(motor["in1"]) and not rig.output(motor["in2"])  # +1: down the track
    if "enable" in motor:
        assert rig.m.pwms[motor["enable"]].duty == FULL
    knead = rig.m.pwms[head["knead"]["pin"]].duty
    assert knead == int((0.3 + 0.7 * 4 / 6) * FULL)  # speed 4 of 6 above min_duty 0.3
    assert rig.m.pwms[head["tap"]["pin"]].duty == 0
    if "depth" in head:  # depth 3 of 5 on the servo
        assert rig.m.pwms[head["depth"]["pin"]].duty == int(1600 * 50 * FULL / 1000000)
    assert rig.m.pwms[pins["foot"]["pin"]].duty == int((0.3 + 0.7 * 2 / 3) * FULL)
    rig.switch("end_top", False)
    mm_per_edge = pins["carriage"]["encoder"]["mm_per_pulse"]
    while rig.board.encoder_mm < 20.0 - 1.0:  # about 100 mm/s
        step_carriage(rig, round(1.0 / mm_per_edge))
        rig.run_to(rig.clock.now + 10)
        assert rig.fw.state == "Run", rig.received()
    rig.run_to(rig.clock.now + 10)
    assert not rig.motor_running(motor)  # at its target: stopped, the head still kneading
    assert rig.m.pwms[head["knead"]["pin"]].duty == knead
    rig.send(p.Stop())
    rig.run_to(rig.clock.now + 10)
    assert rig.safe() == []
    assert faults(rig.received()) == []


# ---------------------------------------------------------------- main() with the real parts


class Crash(RuntimeError):
    pass


def test_main_serves_the_real_firmware_and_a_crash_mid_inflation_ends_safe(
        rig, monkeypatch, tmp_path) -> None:
    """main() as on the board (the real chair description and Firmware; machine, time and
    micropython faked): banner, SYNC, AIR; a crash in the loop while the pump runs leaves
    the pins in the board's reset state (pump off, dump and vents open, heaters cut)."""
    import json
    import types

    m, pins = rig.m, rig.pins
    (tmp_path / "pins.json").write_text(json.dumps(pins))
    m.resets = 0

    def reset() -> None:
        m.resets += 1
    m.reset = reset
    mp = types.ModuleType("micropython")
    mp.kbd_intr = lambda n: None
    monkeypatch.setitem(sys.modules, "micropython", mp)
    rp2 = types.ModuleType("rp2")
    rp2.bootsel_button = lambda: 0
    monkeypatch.setitem(sys.modules, "rp2", rp2)
    clock = {"ms": 0}
    t = types.ModuleType("time")
    t.ticks_ms = lambda: clock["ms"]
    t.ticks_diff = lambda a, b: a - b

    def sleep_ms(ms: int) -> None:
        clock["ms"] += ms
    t.sleep_ms = sleep_ms
    monkeypatch.setitem(sys.modules, "time", t)
    monkeypatch.setattr(sys, "print_exception", lambda e, f: f.write(repr(e)), raising=False)
    seen: dict = {}

    class MainPort:
        """The host: SYNC at 100 ms, AIR at 200 ms; the loop crashes at 400 ms."""

        def __init__(self) -> None:
            self.sent = bytearray()

        def read(self) -> bytes:
            now = clock["ms"] - 1000  # main() waited SERVICE_MS before its clock started
            if now >= 400:
                seen["pump"] = rig.output(pins["pump"])
                raise Crash("the loop broke mid-inflation")
            if now == 100:
                return p.encode_command(p.Sync(), 1)
            if now == 200:
                return p.encode_command(p.SetAir("lumbar", 10.0, 2000), 2)
            return b""

        def write(self, data: bytes) -> None:
            self.sent += data

        def wait(self, ms: int) -> None:
            clock["ms"] += ms

    port = MainPort()
    board_main.main(root=str(tmp_path), port=port)
    got = p.DeviceDecoder().feed(bytes(port.sent))
    assert not [g for g in got if isinstance(g, p.BadLine)], got
    assert isinstance(got[0], p.Banner)
    assert p.Ok(1) in got and p.Ok(2) in got
    assert seen["pump"] is True  # it was inflating when the loop broke
    assert m.wdts and m.wdts[0].feeds > 0
    assert "mid-inflation" in (tmp_path / "crash.txt").read_text()
    assert m.resets == 1
    assert not rig.output(pins["pump"]) and rig.output(pins["dump"])
    for z in rig.chair["zones"]:
        assert rig.zone(z)[1], z  # every vent open
    assert not rig.output(pins["supply"])
    assert not any(rig.output(pins["heaters"][h]["relay"]) for h in rig.chair["heaters"])
    assert not rig.motor_running(pins["carriage"]["motor"])
