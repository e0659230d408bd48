"""The real firmware on the real board layer, end to end, under CPython on a fake `machine`.

For each shipped pin map, the reference chair's Firmware runs on the Board through the
board's own loop (tests/firmware/board_rig.py sets it up); the checks are made on the pins,
each output's level as its polarity says, and on the framed lines the port carried.
"""

from __future__ import annotations

import sys

import pytest

from chair import protocol as p
from firmware.boards import main as board_main
from tests.firmware.board_rig import FULL, MAPS, ROOM_C, VREF, Rig, faults, step_carriage


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


# ---------------------------------------------------------------- the map fits the chair


@pytest.mark.parametrize("key", ["force", "foot", "leg", "back"])
def test_a_map_without_a_part_the_chair_declares_is_refused_before_any_pin(
        key, monkeypatch) -> None:
    """The banner reports the chair description's drives and sensors to the host: a map
    without one would take FOOT or RECLINE and drive nothing, or read 0 N under the host's
    force cap while the banner says a force sensor is there."""
    from firmware import chairs
    from firmware.boards.pinmap import PinMapError
    from tests.firmware.test_board_fakes import fake_machine, shipped

    m = fake_machine()
    monkeypatch.setitem(sys.modules, "machine", m)
    pins = shipped("rp2040")
    del pins[key]
    with pytest.raises(PinMapError, match=rf"^pin map {key}: missing: the chair "):
        board_main.build(pins, chairs.load("reference"), m)
    assert m.pins == {} and m.pwms == {}
