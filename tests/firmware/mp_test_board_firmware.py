"""The real firmware on the real board layer, under MicroPython as under CPython: for each
shipped pin map, the Board on a tiny fake `machine` (a 74HC595 chain and an analog mux
modelled on its pins) runs the reference chair's Firmware through the board's own loop
(firmware/boards/main.py `run`). Boot puts every pin in the firmware's safe state, the
banner comes out framed, AIR fills the lumbar bag until its target, and a silent host trips
the dead-man with every pin safe again. Imports only `firmware.*` and what MicroPython has;
tests/firmware/test_board_firmware.py checks more of the same under pytest."""

import json

from firmware import chairs
from firmware.boards import main as board_main
from firmware.crc import crc16
from firmware.device import Firmware

VREF = 3.3
FULL = 65535
LEVELS = {}  # gpio -> level
DUTIES = {}  # gpio -> duty_u16
VOLTS = {}  # gpio -> volts at a direct ADC pin
MUX = {}  # mux channel -> volts
CHIP = {}  # the 74HC595 chain: its pins, shift register, latched bits
AMUX = {}  # the analog mux: its ADC pin and select pins


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
        rising = v and not LEVELS.get(self.gpio)
        LEVELS[self.gpio] = v
        if rising and CHIP:
            if self.gpio == CHIP["clock"]:
                CHIP["shift"] = [LEVELS[CHIP["data"]]] + CHIP["shift"][:-1]
            elif self.gpio == CHIP["latch"]:
                CHIP["latched"] = list(CHIP["shift"])

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
        if AMUX and self.gpio == AMUX["adc"]:
            ch = 0
            for i, g in enumerate(AMUX["select"]):
                ch |= LEVELS[g] << i
            v = MUX.get(ch, 0.0)
        else:
            v = VOLTS.get(self.gpio, 0.0)
        return max(0, min(FULL, int(v / VREF * FULL + 0.5)))


class _Machine:
    Pin, PWM, ADC = _Pin, _PWM, _ADC


class Pause(Exception):
    pass


class _Clock:
    def __init__(self):
        self.now = 0

    def ms(self):
        return self.now


class _Port:
    def __init__(self, clock):
        self.clock = clock
        self.inbox = b""
        self.sent = b""
        self.stop_at = 0

    def read(self):
        data, self.inbox = self.inbox, b""
        return data

    def write(self, data):
        self.sent += data

    def wait(self, ms):
        self.clock.now += ms
        if self.clock.now >= self.stop_at:
            raise Pause()


class _Wdt:
    def feed(self):
        pass


def _map(name):
    import firmware.boards

    with open(firmware.boards.__file__.rsplit("/", 1)[0] + "/" + name + ".json") as f:
        return json.load(f)


class Rig:
    """A shipped pin map's Board on the fake machine, the reference chair's Firmware and
    the board's loop, the chair reading plausibly (room temperature, zero gauge pressure,
    no current, seat occupied, carriage at the top end)."""

    def __init__(self, name):
        for d in (LEVELS, DUTIES, VOLTS, MUX, CHIP, AMUX):
            d.clear()
        pins = self.pins = _map(name)
        if "shift" in pins:
            CHIP.update(pins["shift"])
            CHIP["shift"] = [0] * pins["shift"]["bits"]
            CHIP["latched"] = [None] * pins["shift"]["bits"]
        if "amux" in pins:
            AMUX.update(pins["amux"])
        self.chair = chairs.load(pins["chair"])
        for z in self.chair["zones"]:
            self.kpa(z, 0.0)
        for h in self.chair["heaters"]:
            spec = pins["heaters"][h]
            t = spec["thermistor"]
            r = t["r25"]  # 25 C
            self.volts(t, VREF * r / (r + t["r_fixed"]))
            if "current" in spec:
                self.volts(spec["current"], spec["current"].get("zero_v", 0.0))
        for key in ("roller_current", "pump_current", "force"):
            if key in pins:
                self.volts(pins[key], pins[key].get("zero_v", 0.0))
        for axis in ("back", "leg"):
            if axis in pins:
                self.volts(pins[axis]["position"], pins[axis]["position"]["v0"])
        self.board = board_main.build(pins, self.chair, _Machine)
        for key, pressed in (("seat", True), ("end_top", True), ("end_bottom", False)):
            self.switch(pins[key], pressed)
        for spec in pins["pinch"]:
            self.switch(spec, False)
        self.fw = Firmware(self.board, self.chair, 0.0)
        self.clock = _Clock()
        self.port = _Port(self.clock)
        self.seq = 0

    def volts(self, spec, v):
        if "mux" in spec:
            MUX[spec["mux"]] = v
        else:
            VOLTS[spec["adc"]] = v

    def kpa(self, zone, kpa):
        spec = self.pins["zones"][zone]["pressure"]
        self.volts(spec, spec["zero_v"] + kpa / spec["kpa_per_v"])

    def switch(self, spec, pressed):
        LEVELS[spec["pin"]] = 1 if pressed != bool(spec.get("active_low", False)) else 0

    def run_to(self, ms):
        self.port.stop_at = ms
        while self.clock.now < ms:
            try:  # noqa: SIM105 (MicroPython has no contextlib.suppress)
                board_main.run(self.fw, self.board, self.port, _Wdt(), self.clock)
            except Pause:
                pass

    def send(self, payload):
        self.seq += 1
        text = "%d %s" % (self.seq, payload)
        self.port.inbox += ("%s*%04X\n" % (text, crc16(text.encode()))).encode()

    def lines(self):
        """The device's lines since the last call, without their CRC (each checked)."""
        data, self.port.sent = self.port.sent, b""
        out = []
        for line in data.decode().split("\n"):
            if not line:
                continue
            payload, crc = line.rsplit("*", 1)
            assert int(crc, 16) == crc16(payload.encode()), line
            out.append(payload)
        return out

    def output(self, spec):
        """The output's meaning (a valve open, a relay closed) from its pin level."""
        level = CHIP["latched"][spec["shift"]] if "shift" in spec else LEVELS[spec["pin"]]
        assert level in (0, 1), (spec, level)
        return (bool(level) != bool(spec.get("active_low", False))) \
            != bool(spec.get("normally_open", False))

    def unsafe(self):
        """What on the pins differs from the firmware's safe state."""
        pins, wrong = self.pins, []
        if CHIP and LEVELS[pins["shift"]["enable"]] != 0:
            wrong.append("shift outputs disabled")
        for z in self.chair["zones"]:
            if not self.output(pins["zones"][z]["fill"]):
                wrong.append(z + " fill closed")
            if not self.output(pins["zones"][z]["vent"]):
                wrong.append(z + " vent closed")
        if not self.output(pins["dump"]):
            wrong.append("dump closed")
        if self.output(pins["pump"]):
            wrong.append("pump on")
        for h in self.chair["heaters"]:
            if self.output(pins["heaters"][h]["relay"]):
                wrong.append(h + " relay on")
        if self.output(pins["supply"]):
            wrong.append("supply on")
        for axis in ("carriage", "back", "leg"):
            if axis in pins:
                motor = pins[axis]["motor"]
                if self.output(motor["in1"]) or self.output(motor["in2"]) \
                        or DUTIES.get(motor.get("enable"), 0):
                    wrong.append(axis + " running")
        for spec in (pins["head"]["knead"], pins["head"]["tap"], pins.get("foot")):
            if spec and DUTIES[spec["pin"]] != (FULL if spec.get("active_low") else 0):
                wrong.append("motor on GPIO%d running" % spec["pin"])
        depth = pins["head"].get("depth")
        if depth and DUTIES[depth["pin"]] != int(depth["pulse_us"][0] * depth["freq"]
                                                 * FULL / 1000000):
            wrong.append("heads not retracted")
        return wrong


def test_boot_is_safe_on_the_pins_and_the_banner_is_framed():
    for name in ("esp32", "rp2040"):
        rig = Rig(name)
        rig.run_to(10)
        assert rig.unsafe() == [], (name, rig.unsafe())
        lines = rig.lines()
        assert lines[0].startswith("#CHAIR proto=2 "), lines
        assert " limits=" + rig.chair["limits_crc"] + " " in lines[0], lines
        assert abs(rig.board.temp[0] - 25.0) < 0.1 and abs(rig.board.pressure[2]) < 0.05
        assert rig.fw.state == "Idle"


def test_air_fills_to_target_then_the_dead_man_makes_every_pin_safe():
    for name in ("esp32", "rp2040"):
        rig = Rig(name)
        pins = rig.pins
        lumbar = pins["zones"]["lumbar"]
        rig.run_to(100)
        rig.send("SYNC")
        rig.run_to(110)
        assert "ok 1" in rig.lines()
        rig.send("AIR lumbar 10.0 2000")
        rig.run_to(130)
        assert "ok 2" in rig.lines()
        assert rig.output(lumbar["fill"]) and not rig.output(lumbar["vent"]), name
        assert not rig.output(pins["dump"]) and rig.output(pins["pump"]), name
        assert not rig.output(pins["zones"]["seat"]["fill"]), name
        rig.kpa("lumbar", 5.0)
        rig.run_to(200)
        assert rig.output(pins["pump"]), name
        rig.kpa("lumbar", 9.9)
        rig.run_to(230)
        assert not rig.output(lumbar["fill"]) and not rig.output(pins["pump"]), name
        assert not rig.output(lumbar["vent"]), name  # held
        rig.run_to(600)  # the last valid line came at 110 ms
        assert rig.lines() == [] and rig.fw.state == "Run", name
        rig.run_to(620)
        lines = rig.lines()
        assert len(lines) == 1 and lines[0].startswith("!F02 deadman "), lines
        assert rig.unsafe() == [], (name, rig.unsafe())
        assert rig.fw.state == "Fault"


def test_the_estop_byte_makes_every_pin_safe_at_once():
    rig = Rig("esp32")
    rig.run_to(100)
    rig.send("SYNC")
    rig.send("AIR lumbar 10.0 2000")
    rig.send("HEAT lumbar 38.0 2000")
    rig.run_to(130)
    assert rig.unsafe() != []
    rig.port.inbox += b"\x9e"
    rig.run_to(140)
    assert rig.unsafe() == [], rig.unsafe()
    assert [line for line in rig.lines() if line.startswith("!")] \
        == ["!F01 estop emergency stop byte"]
    assert rig.fw.state == "Estop"
