"""The board layer under real MicroPython (the WebAssembly build): both shipped pin maps
load and validate, the Board builds on a fake `machine` and drives and reads it, a bad
map names its key, and the main loop runs ticks. Needs firmware/boards/*.py and *.json
in the interpreter's file system. Each test_* function raises on failure (the suite's
harnesses run them: tests/firmware/mp_suite.py)."""

import json

LEVELS = {}  # gpio -> level
DUTIES = {}  # gpio -> duty_u16
VOLTS = {}  # gpio -> volts an ADC reads


class _Pin:
    IN, OUT, PULL_UP, PULL_DOWN, IRQ_RISING, IRQ_FALLING = 1, 3, 1, 2, 1, 2
    def __init__(self, gpio, mode=None, pull=None, value=None):
        self.gpio = gpio
        if value is not None:
            LEVELS[gpio] = value
        elif gpio not in LEVELS:
            LEVELS[gpio] = 1 if pull == 1 else 0

    def value(self, v=None):
        if v is None:
            return LEVELS[self.gpio]
        LEVELS[self.gpio] = v

    def irq(self, handler=None, trigger=None):
        self.handler = handler


class _PWM:
    def __init__(self, pin, freq=None, duty_u16=None):
        self.gpio = pin.gpio
        DUTIES[pin.gpio] = duty_u16

    def duty_u16(self, d):
        DUTIES[self.gpio] = d


class _ADC:
    def __init__(self, pin):
        self.gpio = pin.gpio

    def read_u16(self):
        return int(VOLTS.get(self.gpio, 1.65) / 3.3 * 65535)


class _Machine:
    Pin, PWM, ADC = _Pin, _PWM, _ADC


ZONES = ("shoulders", "arms", "lumbar", "seat", "calves", "feet")
HEATERS = ("lumbar", "seat")


def _map(name):
    import firmware.boards

    with open(firmware.boards.__file__.rsplit("/", 1)[0] + "/" + name + ".json") as f:
        return json.load(f)


def _fresh():
    LEVELS.clear()
    DUTIES.clear()
    VOLTS.clear()


def test_both_maps_validate():
    from firmware.boards.pinmap import validate

    for name in ("esp32", "rp2040"):
        assert validate(_map(name), ZONES, HEATERS) == name


def test_a_bad_entry_names_its_key():
    from firmware.boards.pinmap import PinMapError, validate

    pins = _map("esp32")
    pins["supply"]["pin"] = 7
    try:
        validate(pins, ZONES, HEATERS)
    except PinMapError as e:
        assert str(e).startswith("pin map supply.pin: GPIO7 is a flash pin"), str(e)
    else:
        raise AssertionError("a flash pin passed")


def test_board_drives_and_reads():
    from firmware.boards.board import Board

    _fresh()
    pins = _map("rp2040")
    VOLTS[27] = 1.0  # roller current: 0.2 V/A
    VOLTS[28] = 1.65  # back position
    board = Board(pins, ZONES, HEATERS, machine=_Machine)
    assert LEVELS[9] == 1  # heater supply: active-low relay, off
    board.supply(True)
    assert LEVELS[9] == 0
    board.carriage(1)
    assert (LEVELS[6], LEVELS[7], DUTIES[8]) == (1, 0, 65535)
    board.head("knead", 2, 5, 6)
    assert DUTIES[10] == 65535 and DUTIES[11] == 0
    assert DUTIES[14] == int(2000 * 50 * 65535 / 1000000)
    board.safe()
    assert DUTIES[8] == 0 and DUTIES[10] == 0 and LEVELS[9] == 1
    board.sense()
    assert abs(board.roller_a - 5.0) < 0.01, board.roller_a
    assert abs(board.back_pct - 50.0) < 0.1, board.back_pct
    assert len(board.pressure) == 6 and len(board.temp) == 2


def test_thermistor_at_25_c():
    from firmware.boards.parts import thermistor_c

    assert abs(thermistor_c(1.65, 3.3, 10000, 10000, 3950) - 25.0) < 1e-3


def test_loop_runs_the_tick_grid():
    from firmware.boards.main import run

    class Clock:
        now = 0

        def ms(self):
            return Clock.now

    class Port:
        def read(self):
            return b""

        def write(self, data):
            pass

        def wait(self, ms):
            Clock.now += ms

    class Fw:
        waiting = 0

        def __init__(self):
            self.ticks = []

        def tick(self, k):
            self.ticks.append(k)

    class Nothing:
        def commit(self):
            pass

        def feed(self):
            pass

    fw = Fw()
    assert run(fw, Nothing(), Port(), Nothing(), Clock(), passes=5) == 4
    assert fw.ticks == [0, 1, 2, 3, 4]

