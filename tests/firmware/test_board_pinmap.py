"""A wrong pin map fails at start with an error naming its key, before any pin is driven."""

from __future__ import annotations

import pytest

from firmware.boards.pinmap import PinMapError, validate
from tests.firmware.test_board_fakes import HEATERS, ZONES, fake_machine, shipped


def _set(pins: dict, path: str, value: object) -> None:
    """Set (or with value DELETE, remove) the entry at a dotted path; [n] indexes a list."""
    keys = path.replace("[", ".").replace("]", "").split(".")
    node = pins
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = int(keys[-1]) if isinstance(node, list) else keys[-1]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value


DELETE = object()

#: (board, dotted path, new value, the key the error must name, words it must contain)
BAD = [
    ("esp32", "board", "esp8266", "board", "expected one of"),
    ("rp2040", "zones.lumbar", DELETE, "zones.lumbar", "missing"),
    ("rp2040", "zones.neck", {}, "zones.neck", "no such one"),
    ("rp2040", "heaters.seat", DELETE, "heaters.seat", "missing"),
    ("esp32", "supply.pin", 6, "supply.pin", "flash pin"),
    ("esp32", "supply.pin", 12, "supply.pin", "strapping pin"),
    ("esp32", "supply.pin", 1, "supply.pin", "console"),
    ("esp32", "supply.pin", 34, "supply.pin", "input-only"),
    ("esp32", "supply.pin", 14, "supply.pin", "signal while the esp32 boots"),
    ("esp32", "supply.pin", 32, "seat.pin", "already used by supply.pin"),
    ("esp32", "supply.pin", 20, "supply.pin", "does not exist"),
    ("esp32", "amux.adc", 25, "amux.adc", "no ADC1 channel"),
    ("esp32", "end_top.pull", "up", "end_top.pull", "no internal pull"),
    ("rp2040", "supply.pin", 25, "supply.pin", "not free on a Pico"),
    ("rp2040", "roller_current.adc", 5, "roller_current.adc", "no ADC on the rp2040"),
    ("rp2040", "supply.pin", 6, "carriage.motor.in1.pin", "already used by supply.pin"),
    ("rp2040", "pump.shift", 0, "pump.shift", "already used by zones.shoulders.fill"),
    ("rp2040", "pump.shift", 24, "pump.shift", "0..23"),
    ("rp2040", "pump", {"pin": 23, "shift": 12}, "pump", "exactly one of"),
    ("rp2040", "supply.actve_low", True, "supply.actve_low", "unknown key"),
    ("rp2040", "supply.active_low", "yes", "supply.active_low", "true or false"),
    ("rp2040", "heaters.seat.thermistor.beta", DELETE, "heaters.seat.thermistor.beta", "missing"),
    ("rp2040", "heaters.seat.thermistor.beta", -3950, "heaters.seat.thermistor.beta", "above 0"),
    ("rp2040", "heaters.seat.thermistor.ntc", "left", "heaters.seat.thermistor.ntc", "low"),
    ("rp2040", "zones.feet.pressure.kpa_per_v", True, "zones.feet.pressure.kpa_per_v", "number"),
    ("rp2040", "zones.feet.pressure.kpa_per_v", 0, "zones.feet.pressure.kpa_per_v", "above 0"),
    ("rp2040", "zones.feet.pressure.mux", 16, "zones.feet.pressure.mux", "0..15"),
    ("rp2040", "zones.feet.pressure.mux", 0, "zones.feet.pressure.mux", "already used"),
    ("rp2040", "zones.feet.pressure.adc", 27, "zones.feet.pressure", "exactly one of"),
    ("rp2040", "amux", DELETE, "zones.shoulders.pressure.mux", "no analog mux"),
    ("rp2040", "shift", DELETE, "zones.shoulders.fill.shift", "no shift register"),
    ("rp2040", "shift.bits", 20, "shift.bits", "8 bits per chip"),
    ("rp2040", "head.tap.freq", 1000, "head.tap.pin", "shares PWM slice 5"),
    ("rp2040", "head.depth.pulse_us", [1000], "head.depth.pulse_us", "retracted_us"),
    ("rp2040", "head.depth.pulse_us[1]", 9000, "head.depth.pulse_us[1]", "500..2500"),
    ("rp2040", "back.position.v100", 0.3, "back.position.v100", "differ"),
    ("rp2040", "carriage.encoder.mm_per_pulse", 0, "carriage.encoder.mm_per_pulse", "above 0"),
    ("rp2040", "carriage.motor.freq", DELETE, "carriage.motor.freq", "whole number"),
    ("rp2040", "pinch", [], "pinch", "one or more"),
    ("rp2040", "pinch[1].pin", 0, "pinch[1].pin", "already used by seat.pin"),
    ("rp2040", "end_top.pull", "sideways", "end_top.pull", "up"),
    ("rp2040", "watchdog_ms", 20000, "watchdog_ms", "100..8000"),
    ("rp2040", "port", {"kind": "uart", "uart": 0, "baud": 115200, "tx": 2}, "port.rx",
     "missing"),
    ("rp2040", "seat", DELETE, "seat", "missing"),
    ("esp32", "port", {"kind": "uart", "uart": 0, "baud": 115200, "tx": 25, "rx": 26},
     "port.uart", "1..2"),
]


@pytest.mark.parametrize(("board", "path", "value", "key", "words"), BAD,
                         ids=[f"{b}:{p}" for b, p, *_ in BAD])
def test_each_bad_entry_names_its_key(board, path, value, key, words) -> None:
    pins = shipped(board)
    _set(pins, path, value)
    with pytest.raises(PinMapError) as caught:
        validate(pins, ZONES, HEATERS)
    message = str(caught.value)
    assert message.startswith(f"pin map {key}:"), message
    assert words in message, message


def test_a_wrong_map_fails_before_any_pin_is_touched() -> None:
    from firmware.boards.board import Board

    m = fake_machine()
    pins = shipped("rp2040")
    pins["heaters"]["seat"]["thermistor"]["beta"] = "3950"
    with pytest.raises(PinMapError, match=r"heaters\.seat\.thermistor\.beta"):
        Board(pins, ZONES, HEATERS, machine=m)
    assert m.pins == {} and m.pwms == {}


def test_a_map_for_fewer_zones_fits_a_chair_with_fewer_zones() -> None:
    pins = shipped("rp2040")
    for zone in ("shoulders", "arms", "feet"):
        del pins["zones"][zone]
    del pins["heaters"]["lumbar"]
    assert validate(pins, ("lumbar", "seat", "calves"), ("seat",)) == "rp2040"
    with pytest.raises(PinMapError, match=r"pin map zones\.shoulders: missing"):
        validate(pins, ZONES, ("seat",))


def test_a_uart_port_and_an_i2c_bus_validate() -> None:
    pins = shipped("esp32")
    del pins["foot"], pins["head"]["tap"]
    pins["head"]["tap"] = {"pin": 27, "freq": 20000}
    pins["port"] = {"kind": "uart", "uart": 2, "baud": 115200, "tx": 25, "rx": 26}
    pins["head"]["knead"]["pin"] = 33
    del pins["pinch"][0]
    pins["pinch"] = [{"pin": 35, "active_low": True}]
    del pins["carriage"]["encoder"]["b"]
    assert validate(pins, ZONES, HEATERS) == "esp32"


def _rp2040_free_12_13() -> dict:
    pins = shipped("rp2040")
    del pins["foot"]
    pins["pinch"] = pins["pinch"][:1]
    return pins


@pytest.mark.parametrize(("extra", "key", "words"), [
    ({"i2c": {"b": {"id": 0, "sda": 12, "scl": 13}}}, None, None),
    ({"i2c": {"b": {"id": 1, "sda": 12, "scl": 13}}}, "i2c.b.sda", "not I2C1 SDA"),
    ({"i2c": {"b": {"id": 0, "sda": 13, "scl": 12}}}, "i2c.b.sda", "not I2C0 SDA"),
    ({"port": {"kind": "uart", "uart": 0, "baud": 115200, "tx": 12, "rx": 13}}, None, None),
    ({"port": {"kind": "uart", "uart": 1, "baud": 115200, "tx": 12, "rx": 13}}, "port.tx",
     "not UART1 TX"),
    ({"port": {"kind": "uart", "uart": 0, "baud": 115200, "tx": 13, "rx": 12}}, "port.tx",
     "not UART0 TX"),
])
def test_rp2040_uart_and_i2c_units_reach_only_their_gpios(extra, key, words) -> None:
    pins = _rp2040_free_12_13()
    pins.update(extra)
    if key is None:
        assert validate(pins, ZONES, HEATERS) == "rp2040"
        return
    with pytest.raises(PinMapError) as caught:
        validate(pins, ZONES, HEATERS)
    assert str(caught.value).startswith(f"pin map {key}:") and words in str(caught.value)
