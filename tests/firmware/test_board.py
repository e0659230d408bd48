"""The MicroPython board layer on a fake `machine`: outputs reach the right pins at the
right levels (active-low, normally-open, shift register), sensors convert right, and the
boot state is the safe state."""

from __future__ import annotations

import math
import sys

import pytest

from tests.firmware.test_board_fakes import (
    HEATERS,
    VREF,
    ZONES,
    fake_machine,
    mux_reader,
    shift_outputs,
    shipped,
)

FULL = 65535


@pytest.fixture
def machine(monkeypatch):
    m = fake_machine()
    monkeypatch.setitem(sys.modules, "machine", m)
    return m


def make(pins, m=None):
    from firmware.boards.board import Board

    return Board(pins, ZONES, HEATERS, machine=m)


def latched(m, pins):
    return shift_outputs(m, pins["shift"])


# ---------------------------------------------------------------- the shipped maps


@pytest.mark.parametrize("name", ["esp32", "rp2040"])
def test_each_shipped_map_validates_for_the_reference_chair_and_builds(name, machine) -> None:
    from firmware.boards.pinmap import validate

    pins = shipped(name)
    assert validate(pins, ZONES, HEATERS) == name
    assert pins["chair"] == "reference"
    board = make(pins)  # through sys.modules["machine"]
    assert len(board.pressure) == len(ZONES) and len(board.temp) == len(HEATERS)


@pytest.mark.parametrize("name", ["esp32", "rp2040"])
def test_the_boot_state_is_the_safe_state(name, machine) -> None:
    pins = shipped(name)
    make(pins)
    bits = latched(machine, pins)
    zones = pins["zones"]
    for z in ZONES:  # fill valves closed (coil off); normally-open vents open (coil off)
        assert bits[zones[z]["fill"]["shift"]] == 0, z
        assert bits[zones[z]["vent"]["shift"]] == 0, z
    assert bits[pins["pump"]["shift"]] == 0
    assert bits[pins["dump"]["shift"]] == 0  # normally open: open, unpowered
    for h in HEATERS:  # active-low relay inputs: high is off
        assert bits[pins["heaters"][h]["relay"]["shift"]] == 1, h
    assert machine.pins[pins["supply"]["pin"]].level == 1
    for part in ("knead", "tap"):
        assert machine.pwms[pins["head"][part]["pin"]].duty == 0
    assert machine.pwms[pins["foot"]["pin"]].duty == 0
    # the 74HC595 outputs stay disabled (OE high) until the all-off pattern is latched
    enable = pins["shift"]["enable"]
    assert machine.pins[enable].history[0] == 1 and machine.pins[enable].level == 0
    first_latch = next(i for i, (g, v) in enumerate(machine.events)
                       if g == pins["shift"]["latch"] and v)
    first_enable = next(i for i, (g, v) in enumerate(machine.events) if g == enable and v == 0)
    assert first_latch < first_enable


def test_every_output_pin_starts_at_its_inactive_level(machine) -> None:
    pins = shipped("rp2040")
    make(pins)
    assert machine.pins[pins["supply"]["pin"]].history[0] == 1  # active-low: off from birth
    for key in ("in1", "in2"):
        assert set(machine.pins[pins["carriage"]["motor"][key]["pin"]].history) == {0}
    assert set(machine.pwms[pins["carriage"]["motor"]["enable"]].history) == {0}
    assert set(machine.pins[pins["supply"]["pin"]].history) == {1}


# ---------------------------------------------------------------- outputs


def test_valves_pump_and_relays_reach_their_shift_bits_with_their_polarity(machine) -> None:
    pins = shipped("rp2040")
    board = make(pins)
    board.fill(2, True)
    board.vent(3, False)  # a normally-open vent closes when powered
    board.pump(True)
    board.dump(False)
    board.heater(1, True)  # active-low relay: on is low
    board.commit()
    bits = latched(machine, pins)
    z = pins["zones"]
    assert bits[z["lumbar"]["fill"]["shift"]] == 1
    assert bits[z["seat"]["vent"]["shift"]] == 1
    assert bits[z["shoulders"]["fill"]["shift"]] == 0 and bits[z["shoulders"]["vent"]["shift"]] == 0
    assert bits[pins["pump"]["shift"]] == 1
    assert bits[pins["dump"]["shift"]] == 1
    assert bits[pins["heaters"]["seat"]["relay"]["shift"]] == 0
    assert bits[pins["heaters"]["lumbar"]["relay"]["shift"]] == 1
    board.safe()
    bits = latched(machine, pins)
    assert bits[pins["pump"]["shift"]] == 0 and bits[z["seat"]["vent"]["shift"]] == 0


def test_shift_outputs_wait_for_commit_and_sense_commits(machine) -> None:
    pins = shipped("rp2040")
    board = make(pins)
    board.pump(True)
    assert latched(machine, pins)[pins["pump"]["shift"]] == 0
    board.sense()
    assert latched(machine, pins)[pins["pump"]["shift"]] == 1


@pytest.mark.parametrize(("active_low", "on", "off"), [(False, 1, 0), (True, 0, 1)])
def test_a_direct_gpio_output_honours_active_low(active_low, on, off, machine) -> None:
    pins = shipped("rp2040")
    pins["supply"] = {"pin": 9, "active_low": active_low}
    board = make(pins)
    assert machine.pins[9].level == off
    board.supply(True)
    assert machine.pins[9].level == on
    board.supply(False)
    assert machine.pins[9].level == off


def test_a_normally_open_valve_on_a_gpio_is_powered_to_close(machine) -> None:
    pins = shipped("rp2040")
    pins["supply"] = {"pin": 9, "normally_open": True}  # any output can say so
    board = make(pins)
    board.supply(False)
    assert machine.pins[9].level == 1
    board.supply(True)
    assert machine.pins[9].level == 0


def test_the_carriage_h_bridge_and_its_enable(machine) -> None:
    pins = shipped("rp2040")
    motor = pins["carriage"]["motor"]
    in1, in2, en = motor["in1"]["pin"], motor["in2"]["pin"], motor["enable"]
    board = make(pins)
    board.carriage(1)  # down the track
    assert (machine.pins[in1].level, machine.pins[in2].level) == (1, 0)
    assert machine.pwms[en].duty == FULL and machine.pwms[en].freq_hz == 20000
    board.carriage(-1)
    assert (machine.pins[in1].level, machine.pins[in2].level) == (0, 1)
    board.carriage(0)
    assert (machine.pins[in1].level, machine.pins[in2].level) == (0, 0)
    assert machine.pwms[en].duty == 0


def test_an_inverted_h_bridge_on_the_shift_chain(machine) -> None:
    pins = shipped("rp2040")
    pins["back"]["motor"]["invert"] = True
    board = make(pins)
    board.back(1)
    board.commit()
    bits = latched(machine, pins)
    assert (bits[16], bits[17]) == (0, 1)
    board.leg(-1)
    board.commit()
    bits = latched(machine, pins)
    assert (bits[18], bits[19]) == (0, 1)


def test_the_roller_head_runs_the_kneading_or_tapping_motor_at_the_speed(machine) -> None:
    pins = shipped("rp2040")
    head = pins["head"]
    knead, tap = machine.pwms, head["tap"]["pin"]
    board = make(pins)
    board.head("knead", 2, 3, 6)
    assert knead[head["knead"]["pin"]].duty == FULL and machine.pwms[tap].duty == 0
    board.head("knead", 2, 3, 1)
    assert knead[head["knead"]["pin"]].duty == int((0.3 + 0.7 / 6) * FULL)
    board.head("tap", 1, 0, 3)
    assert knead[head["knead"]["pin"]].duty == 0
    assert machine.pwms[tap].duty == int((0.3 + 0.7 * 0.5) * FULL)
    for technique in ("press", "roll", "off"):
        board.head(technique, 1, 2, 4)
        assert knead[head["knead"]["pin"]].duty == 0 and machine.pwms[tap].duty == 0


def test_depth_drives_the_servo_from_retracted_to_deepest(machine) -> None:
    pins = shipped("rp2040")
    servo = pins["head"]["depth"]["pin"]
    board = make(pins)
    duty = machine.pwms[servo]
    assert duty.duty == int(1000 * 50 * FULL / 1e6)  # retracted at boot
    board.head("press", 1, 5, 2)
    assert duty.duty == int(2000 * 50 * FULL / 1e6)
    board.head("off", 1, 5, 2)  # off retracts whatever depth it is given
    assert duty.duty == int(1000 * 50 * FULL / 1e6)


def test_foot_rollers_by_pwm_and_an_active_low_pwm_input(machine) -> None:
    pins = shipped("rp2040")
    pins["foot"]["active_low"] = True
    board = make(pins)
    foot = machine.pwms[pins["foot"]["pin"]]
    assert foot.duty == FULL  # active-low: off is high
    board.foot(3)
    assert foot.duty == 0
    board.foot(0)
    assert foot.duty == FULL


# ---------------------------------------------------------------- sensors


def ntc_volts(c: float, r25=10000.0, beta=3950.0, r_fixed=10000.0) -> float:
    r = r25 * math.exp(beta * (1 / (c + 273.15) - 1 / 298.15))
    return VREF * r / (r + r_fixed)


@pytest.mark.parametrize("c", [0.0, 25.0, 45.0, 90.0, -10.0])
def test_thermistor_beta_equation_at_known_points(c) -> None:
    from firmware.boards.parts import thermistor_c

    assert thermistor_c(ntc_volts(c), VREF, 10000, 10000, 3950) == pytest.approx(c, abs=1e-6)
    # NTC to the supply, fixed resistor to ground: the mirror divider
    assert thermistor_c(VREF - ntc_volts(c), VREF, 10000, 10000, 3950, ntc_low=False) \
        == pytest.approx(c, abs=1e-6)


def test_a_10k_b3950_ntc_reads_its_datasheet_values() -> None:
    from firmware.boards.parts import thermistor_c

    # R(0 C) = 10k * exp(3950 * (1/273.15 - 1/298.15)) = 33.62 kOhm
    v = VREF * 33620 / (33620 + 10000)
    assert thermistor_c(v, VREF, 10000, 10000, 3950) == pytest.approx(0.0, abs=0.01)
    assert thermistor_c(VREF / 2, VREF, 10000, 10000, 3950) == pytest.approx(25.0)


def test_an_open_or_shorted_thermistor_reads_outside_the_plausible_range() -> None:
    from firmware.boards.parts import thermistor_c

    assert thermistor_c(VREF, VREF, 10000, 10000, 3950) == -50.0  # open (NTC to ground)
    assert thermistor_c(0.0, VREF, 10000, 10000, 3950) == 150.0  # shorted
    assert thermistor_c(0.0, VREF, 10000, 10000, 3950, ntc_low=False) == -50.0


def rp2040_with_channels(machine, channels, direct=None):
    pins = shipped("rp2040")
    machine.volts[pins["amux"]["adc"]] = mux_reader(machine, pins["amux"]["select"], channels)
    machine.volts.update(direct or {})
    return pins


def test_every_sensor_reads_through_its_channel_and_conversion(machine) -> None:
    channels = {i: 0.1333 + 0.06 * (5 * i + 1) for i in range(6)}  # 1, 6, 11 ... kPa
    channels.update({6: ntc_volts(37.0), 7: ntc_volts(22.0), 8: 1.667 + 0.1233 * 2,
                     9: 1.667, 10: 0.4, 11: 0.3 + 2.7 * 0.25, 12: 0.2 + 0.5})
    pins = rp2040_with_channels(machine, channels, {27: 1.0, 28: 1.65})
    board = make(pins)
    machine.pins[0].level = 0  # seat switch closed (active low)
    machine.pins[1].level, machine.pins[13].level = 1, 0  # the second pinch strip
    machine.pins[22].level = machine.pins[15].level = 1
    board.sense()
    assert board.pressure == pytest.approx([5 * i + 1 for i in range(6)], abs=0.01)
    assert board.temp == pytest.approx([37.0, 22.0], abs=0.05)
    assert board.heater_a == pytest.approx([2.0, 0.0], abs=0.01)
    assert board.pump_a == pytest.approx(2.0, abs=0.01)
    assert board.roller_a == pytest.approx(5.0, abs=0.01)
    assert board.force_n == pytest.approx(50.0, abs=0.1)
    assert board.back_pct == pytest.approx(50.0, abs=0.1)
    assert board.leg_pct == pytest.approx(25.0, abs=0.1)
    assert board.occupied is True and board.pinch is True
    assert board.end_top is False and board.end_bottom is False


def test_esp32_reads_calibrated_microvolts_at_11db(monkeypatch) -> None:
    m = fake_machine(read_uv=True)
    pins = shipped("esp32")
    m.volts[36] = mux_reader(m, pins["amux"]["select"], {2: 0.25 + 20.0 / 50.0})
    board = make(pins, m)
    board.sense()
    assert board.pressure[2] == pytest.approx(20.0, abs=1e-3)
    assert board.pressure[0] == pytest.approx(-12.5)  # 0 V: a disconnected sensor reads low


def test_a_missing_optional_sensor_reads_zero(machine) -> None:
    pins = shipped("rp2040")
    for key in ("force", "pump_current"):
        del pins[key]
    del pins["heaters"]["seat"]["current"]
    board = make(pins)
    board.sense()
    assert board.force_n == 0.0 and board.pump_a == 0.0 and board.heater_a[1] == 0.0


def test_the_quadrature_encoder_counts_and_the_top_switch_zeroes_it(machine) -> None:
    pins = shipped("rp2040")
    board = make(pins)
    a, b = machine.pins[20], machine.pins[21]
    machine.pins[22].level = 1  # top switch open
    for a_level, b_level in [(1, 0), (0, 1)] * 5:  # A leads B: down the track
        a.level, b.level = a_level, b_level
        a.handler(a)
    board.sense()
    assert board.encoder_mm == pytest.approx(10 * 0.5)
    for a_level, b_level in [(1, 1), (0, 0)] * 2:  # B leads A: up
        a.level, b.level = a_level, b_level
        a.handler(a)
    board.sense()
    assert board.encoder_mm == pytest.approx(6 * 0.5)
    machine.pins[22].level = 0  # at the top end
    board.sense()
    assert board.end_top is True and board.encoder_mm == 0.0


def test_a_single_channel_encoder_counts_in_the_direction_driven(machine) -> None:
    pins = shipped("rp2040")
    del pins["carriage"]["encoder"]["b"]
    board = make(pins)
    machine.pins[22].level = 1
    a = machine.pins[20]
    board.carriage(1)
    for _ in range(4):
        a.handler(a)
    board.carriage(0)
    a.handler(a)  # coasting after a stop still counts the last way driven
    board.carriage(-1)
    a.handler(a)
    board.sense()
    assert board.encoder_mm == pytest.approx(4 * 0.5)


def i2c_map():
    pins = shipped("rp2040")
    del pins["foot"]
    pins["pinch"] = pins["pinch"][:1]
    pins["i2c"] = {"bus0": {"id": 0, "sda": 12, "scl": 13}}
    pins["zones"]["lumbar"]["pressure"] = {"i2c": "bus0", "k": 128}
    return pins


def test_an_xgzp6847d_on_i2c_reads_kpa_without_waiting(machine) -> None:
    board = make(i2c_map())
    bus = machine.i2c[0]
    assert (0x6D, 0x30, b"\x0a") in bus.writes  # the first conversion started
    raw = 20000 * 128  # 20 kPa, k = 128
    bus.regs.update({(0x6D, 6): raw >> 16, (0x6D, 7): (raw >> 8) & 255, (0x6D, 8): raw & 255})
    bus.regs[(0x6D, 0x30)] = 0x08  # still converting: the last value stays
    board.sense()
    assert board.pressure[2] == 0.0
    bus.regs[(0x6D, 0x30)] = 0x00
    starts = len(bus.writes)
    board.sense()
    assert board.pressure[2] == pytest.approx(20.0)
    assert len(bus.writes) == starts + 1  # and the next conversion started
    raw = (1 << 24) - 1280  # -10 Pa: 24-bit two's complement
    bus.regs.update({(0x6D, 6): raw >> 16, (0x6D, 7): (raw >> 8) & 255, (0x6D, 8): raw & 255})
    board.sense()
    assert board.pressure[2] == pytest.approx(-0.01)


def test_an_i2c_sensor_that_stops_answering_reads_over_pressure(machine) -> None:
    board = make(i2c_map())
    bus = machine.i2c[0]
    bus.fail = True
    board.sense()
    board.sense()
    assert board.pressure[2] == 0.0  # two misses keep the last reading
    board.sense()
    assert board.pressure[2] == 99.0  # the third: above every cap, so the firmware vents
