"""Pin map validation: a wrong map fails at start, naming its key, before anything moves.

A pin map is a dict (read from JSON) saying which GPIO, shift-register bit or analog
channel each part of the chair is wired to; docs/hobbyist.md describes every key.
`validate(pins, zones, heaters)` checks all of it and raises `PinMapError` (a ValueError)
whose message starts with the dotted key at fault, e.g.
`pin map zones.lumbar.fill.pin: GPIO6 is a flash pin on the esp32`.
MicroPython-compatible: no typing, dataclasses or re.
"""

from firmware.boards.chips import BOARDS, function_problem, gpio_problem, pull_problem


class PinMapError(ValueError):
    """A pin map entry that is missing, misspelt, of the wrong type or not usable."""


def fail(path, problem):
    raise PinMapError("pin map " + path + ": " + problem)


class _Checker:
    """Walks one pin map; remembers every GPIO, shift bit and mux channel it has seen."""

    def __init__(self, board):
        self.board = board
        self.used = {}  # gpio -> the key that took it first
        self.bits = {}
        self.channels = {}
        self.slices = {}  # rp2040 PWM (slice) -> (freq, key); (slice, channel) -> key
        self.shift_bits = 0
        self.mux_size = 0
        self.buses = {}
        self.i2c_seen = {}

    # ---- plain values
    def obj(self, path, value, required, optional=()):
        if not isinstance(value, dict):
            fail(path or "(top)", "expected an object {...}, got " + repr(value))
        for key in required:
            if key not in value:
                fail(_join(path, key), "missing")
        for key in value:
            if key not in required and key not in optional:
                fail(_join(path, key), "unknown key (allowed: " +
                     ", ".join(tuple(required) + tuple(optional)) + ")")
        return value

    def number(self, path, value, low=None, high=None, positive=False):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or value != value or value - value != 0:
            fail(path, "expected a number, got " + repr(value))
        if positive and value <= 0:
            fail(path, "must be above 0, got " + repr(value))
        if (low is not None and value < low) or (high is not None and value > high):
            fail(path, f"must be within {low}..{high}, got {value!r}")
        return value

    def integer(self, path, value, low, high):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            fail(path, f"expected a whole number {low}..{high}, got {value!r}")
        return value

    def flag(self, path, spec, key):
        if key in spec and not isinstance(spec[key], bool):
            fail(path + "." + key, "expected true or false, got " + repr(spec[key]))

    # ---- GPIOs
    def gpio(self, path, value, output=False, adc=False, strapping_ok=False):
        self.integer(path, value, 0, 48)
        problem = gpio_problem(self.board, value, output, adc, strapping_ok)
        if problem:
            fail(path, problem)
        if value in self.used:
            fail(path, f"GPIO{value} is already used by {self.used[value]}")
        self.used[value] = path
        return value

    def pwm(self, path, gpio, freq):
        """On the rp2040 two GPIOs of one PWM slice share its frequency."""
        if self.board != "rp2040":
            return
        key = (gpio >> 1) & 7
        both = (key, gpio & 1)
        if both in self.slices:
            fail(path, f"GPIO{gpio} is on the same PWM slice and channel as "
                 f"{self.slices[both]}")
        self.slices[both] = path
        if key in self.slices and self.slices[key][0] != freq:
            fail(path, f"GPIO{gpio} shares PWM slice {key} with {self.slices[key][1]}, "
                 f"which runs at {self.slices[key][0]} Hz")
        self.slices[key] = (freq, path)

    def rp2040_function(self, path, gpio, kind, unit, role):
        problem = function_problem(self.board, gpio, kind, unit, role)
        if problem:
            fail(path, problem)

    def pull(self, path, spec, gpios):
        if "pull" in spec and spec["pull"] not in ("up", "down", None):
            fail(path + ".pull", "expected \"up\", \"down\" or null, got " + repr(spec["pull"]))
        for gpio in gpios if spec.get("pull") else ():
            problem = pull_problem(self.board, gpio)
            if problem:
                fail(path + ".pull", problem)

    # ---- parts
    def output(self, path, spec):
        self.obj(path, spec, (), ("pin", "shift", "active_low", "normally_open"))
        self.flag(path, spec, "active_low")
        self.flag(path, spec, "normally_open")
        if ("pin" in spec) == ("shift" in spec):
            fail(path, "give exactly one of pin (a GPIO) or shift (a shift-register bit)")
        if "pin" in spec:
            self.gpio(path + ".pin", spec["pin"], output=True)
        else:
            if not self.shift_bits:
                fail(path + ".shift", "no shift register chain: add the key shift")
            bit = self.integer(path + ".shift", spec["shift"], 0, self.shift_bits - 1)
            if bit in self.bits:
                fail(path + ".shift", f"bit {bit} is already used by {self.bits[bit]}")
            self.bits[bit] = path

    def switch(self, path, spec, strapping_ok=False):
        self.obj(path, spec, ("pin",), ("active_low", "pull"))
        self.flag(path, spec, "active_low")
        self.gpio(path + ".pin", spec["pin"], strapping_ok=strapping_ok)
        self.pull(path, spec, (spec["pin"],))

    def analog(self, path, spec, required=(), optional=(), i2c=False):
        """An analog channel: adc (a GPIO with an ADC) or mux (a channel of the amux)."""
        sources = ("adc", "mux", "i2c") if i2c else ("adc", "mux")
        self.obj(path, spec, required, tuple(optional) + sources + (("k",) if i2c else ()))
        given = [s for s in sources if s in spec]
        if len(given) != 1:
            fail(path, "give exactly one of " + ", ".join(sources))
        if "adc" in spec:
            self.gpio(path + ".adc", spec["adc"], adc=True)
        elif "mux" in spec:
            if not self.mux_size:
                fail(path + ".mux", "no analog mux: add the key amux")
            ch = self.integer(path + ".mux", spec["mux"], 0, self.mux_size - 1)
            if ch in self.channels:
                fail(path + ".mux", f"channel {ch} is already used by {self.channels[ch]}")
            self.channels[ch] = path
        else:
            bus = spec["i2c"]
            if not isinstance(bus, str) or bus not in self.buses:
                fail(path + ".i2c", "expected the name of a bus under i2c, got " + repr(bus))
            if bus in self.i2c_seen:
                fail(path + ".i2c", f"bus {bus} already has a sensor at 0x6D "
                     f"({self.i2c_seen[bus]}): one per bus")
            self.i2c_seen[bus] = path
            self.integer(path + ".k", spec.get("k"), 1, 8192)
        for key in required:
            if key not in sources:
                self.number(path + "." + key, spec[key])
        for key in optional:
            if key in spec and key != "ntc":
                self.number(path + "." + key, spec[key])

    def pressure(self, path, spec):
        if isinstance(spec, dict) and "i2c" in spec:
            self.analog(path, spec, (), (), i2c=True)
            return
        self.analog(path, spec, ("zero_v", "kpa_per_v"))
        self.number(path + ".kpa_per_v", spec["kpa_per_v"], positive=True)

    def thermistor(self, path, spec):
        self.analog(path, spec, ("r_fixed", "r25", "beta"), ("ntc",))
        for key in ("r_fixed", "r25", "beta"):
            self.number(path + "." + key, spec[key], positive=True)
        if spec.get("ntc", "low") not in ("low", "high"):
            fail(path + ".ntc", "expected \"low\" (NTC to ground) or \"high\" (NTC to the "
                 "supply), got " + repr(spec["ntc"]))

    def amps(self, path, spec):
        self.analog(path, spec, ("v_per_a",), ("zero_v",))
        self.number(path + ".v_per_a", spec["v_per_a"], positive=True)

    def motor(self, path, spec):
        """An H-bridge: in1, in2 (outputs) and an optional PWM enable pin."""
        self.obj(path, spec, ("in1", "in2"), ("enable", "freq", "duty", "invert"))
        self.output(path + ".in1", spec["in1"])
        self.output(path + ".in2", spec["in2"])
        self.flag(path, spec, "invert")
        if "duty" in spec:
            self.number(path + ".duty", spec["duty"], 0.05, 1.0)
        if "enable" in spec:
            freq = self.integer(path + ".freq", spec.get("freq"), 10, 100000)
            self.gpio(path + ".enable", spec["enable"], output=True)
            self.pwm(path + ".enable", spec["enable"], freq)

    def pwm_out(self, path, spec, optional=("active_low", "min_duty")):
        self.obj(path, spec, ("pin", "freq"), optional)
        self.flag(path, spec, "active_low")
        freq = self.integer(path + ".freq", spec["freq"], 10, 100000)
        self.gpio(path + ".pin", spec["pin"], output=True)
        self.pwm(path + ".pin", spec["pin"], freq)
        if "min_duty" in spec:
            self.number(path + ".min_duty", spec["min_duty"], 0.0, 1.0)

    def position(self, path, spec):
        self.analog(path, spec, ("v0", "v100"))
        if spec["v0"] == spec["v100"]:
            fail(path + ".v100", "must differ from v0")


def validate(pins, zones, heaters):
    """Check the whole pin map against the chair's zones and heaters (sequences of names).

    Returns the board name ("esp32" or "rp2040"); raises PinMapError naming the key.
    """
    c = _Checker(None)
    c.obj("", pins, ("board", "zones", "pump", "dump", "heaters", "supply", "carriage",
                          "head", "end_top", "end_bottom", "seat", "pinch", "roller_current"),
          ("chair", "port", "watchdog_ms", "vref", "shift", "amux", "i2c", "back", "leg",
           "foot", "pump_current", "force", "service"))
    if pins["board"] not in BOARDS:
        fail("board", "expected one of " + ", ".join(BOARDS) + ", got " + repr(pins["board"]))
    c.board = pins["board"]
    if "chair" in pins and not isinstance(pins["chair"], str):
        fail("chair", "expected a chair description's name")
    if "watchdog_ms" in pins:
        c.integer("watchdog_ms", pins["watchdog_ms"], 100, 8000)
    if "vref" in pins:
        c.number("vref", pins["vref"], 1.0, 5.5)
    if "port" in pins:
        port = c.obj("port", pins["port"], ("kind",), ("uart", "baud", "tx", "rx"))
        if port["kind"] not in ("usb", "uart"):
            fail("port.kind", "expected \"usb\" or \"uart\", got " + repr(port["kind"]))
        if port["kind"] == "uart":
            for key in ("uart", "baud", "tx", "rx"):
                if key not in port:
                    fail("port." + key, "missing (a uart port needs uart, baud, tx, rx)")
            c.integer("port.uart", port["uart"], 1 if c.board == "esp32" else 0,
                      2 if c.board == "esp32" else 1)
            c.integer("port.baud", port["baud"], 1200, 3000000)
            c.gpio("port.tx", port["tx"], output=True)
            c.gpio("port.rx", port["rx"])
            c.rp2040_function("port.tx", port["tx"], "UART", port["uart"], 0)
            c.rp2040_function("port.rx", port["rx"], "UART", port["uart"], 1)
    if "service" in pins:
        spec = pins["service"]
        if c.board == "rp2040" and isinstance(spec, dict) and spec.get("bootsel") is True \
                and len(spec) == 1:
            pass
        else:
            c.switch("service", spec, strapping_ok=True)
    if "shift" in pins:
        spec = c.obj("shift", pins["shift"], ("data", "clock", "latch", "enable", "bits"))
        for key in ("data", "clock", "latch", "enable"):
            c.gpio("shift." + key, spec[key], output=True)
        c.shift_bits = c.integer("shift.bits", spec["bits"], 8, 64)
        if spec["bits"] % 8:
            fail("shift.bits", "a chain of 74HC595s has 8 bits per chip")
    if "amux" in pins:
        spec = c.obj("amux", pins["amux"], ("adc", "select"))
        c.gpio("amux.adc", spec["adc"], adc=True)
        if not isinstance(spec["select"], list) or not 1 <= len(spec["select"]) <= 4:
            fail("amux.select", "expected a list of 1 to 4 GPIOs (S0 first)")
        for i, pin in enumerate(spec["select"]):
            c.gpio(f"amux.select[{i}]", pin, output=True)
        c.mux_size = 1 << len(spec["select"])
    if "i2c" in pins:
        if not isinstance(pins["i2c"], dict):
            fail("i2c", "expected an object of named buses")
        for name, bus in pins["i2c"].items():
            path = "i2c." + name
            c.obj(path, bus, ("id", "scl", "sda"), ("freq",))
            c.integer(path + ".id", bus["id"], 0, 1)
            c.gpio(path + ".scl", bus["scl"], output=True)
            c.gpio(path + ".sda", bus["sda"], output=True)
            c.rp2040_function(path + ".sda", bus["sda"], "I2C", bus["id"], 0)
            c.rp2040_function(path + ".scl", bus["scl"], "I2C", bus["id"], 1)
            c.buses[name] = bus
    _names(c, "zones", pins["zones"], zones)
    for name in zones:
        path = "zones." + name
        spec = c.obj(path, pins["zones"][name], ("fill", "vent", "pressure"))
        c.output(path + ".fill", spec["fill"])
        c.output(path + ".vent", spec["vent"])
        c.pressure(path + ".pressure", spec["pressure"])
    c.output("pump", pins["pump"])
    c.output("dump", pins["dump"])
    _names(c, "heaters", pins["heaters"], heaters)
    for name in heaters:
        path = "heaters." + name
        spec = c.obj(path, pins["heaters"][name], ("relay", "thermistor"), ("current",))
        c.output(path + ".relay", spec["relay"])
        c.thermistor(path + ".thermistor", spec["thermistor"])
        if "current" in spec:
            c.amps(path + ".current", spec["current"])
    c.output("supply", pins["supply"])
    spec = c.obj("carriage", pins["carriage"], ("motor", "encoder"))
    c.motor("carriage.motor", spec["motor"])
    enc = c.obj("carriage.encoder", spec["encoder"], ("a", "mm_per_pulse"), ("b", "pull"))
    c.gpio("carriage.encoder.a", enc["a"])
    if "b" in enc:
        c.gpio("carriage.encoder.b", enc["b"])
    c.pull("carriage.encoder", enc, (enc["a"], enc.get("b")))
    c.number("carriage.encoder.mm_per_pulse", enc["mm_per_pulse"], positive=True)
    for axis in ("back", "leg"):
        if axis in pins:
            spec = c.obj(axis, pins[axis], ("motor", "position"))
            c.motor(axis + ".motor", spec["motor"])
            c.position(axis + ".position", spec["position"])
    head = c.obj("head", pins["head"], ("knead", "tap"), ("depth",))
    c.pwm_out("head.knead", head["knead"])
    c.pwm_out("head.tap", head["tap"])
    if "depth" in head:
        c.pwm_out("head.depth", head["depth"], ("pulse_us",))
        pulse = head["depth"].get("pulse_us")
        if not isinstance(pulse, list) or len(pulse) != 2:
            fail("head.depth.pulse_us", "expected [retracted_us, deepest_us]")
        for i, us in enumerate(pulse):
            c.number(f"head.depth.pulse_us[{i}]", us, 500, 2500)
    if "foot" in pins:
        c.pwm_out("foot", pins["foot"])
    for key in ("end_top", "end_bottom", "seat"):
        c.switch(key, pins[key])
    if not isinstance(pins["pinch"], list) or not pins["pinch"]:
        fail("pinch", "expected a list of one or more switches")
    for i, spec in enumerate(pins["pinch"]):
        c.switch(f"pinch[{i}]", spec)
    c.amps("roller_current", pins["roller_current"])
    if "pump_current" in pins:
        c.amps("pump_current", pins["pump_current"])
    if "force" in pins:
        c.analog("force", pins["force"], ("n_per_v",), ("zero_v",))
    return c.board


def check_chair(pins, axes, sensors):
    """The map has a part for each drive (`axes`: back, leg, foot) and optional sensor
    (`sensors`: force) that the chair description declares, since the banner reports them:
    without one the firmware would take FOOT or RECLINE and drive nothing, or read 0 N under
    the host's force cap. PinMapError naming the key."""
    for key in ("back", "leg", "foot", "force"):
        if key in (sensors if key == "force" else axes) and key not in pins:
            fail(key, "missing: the chair description has it (axes: " + ",".join(axes)
                 + "; sensors: " + ",".join(sensors) + "); wire it, or use a chair "
                 "description without it")


def _join(path, key):
    return path + "." + key if path else key


def _names(c, path, spec, names):
    """The map's keys under `path` are exactly the chair's names."""
    if not isinstance(spec, dict):
        fail(path, "expected an object keyed by name")
    for name in names:
        if name not in spec:
            fail(path + "." + name, "missing: the chair has it (" + ", ".join(names) + ")")
    for name in spec:
        if name not in names:
            fail(path + "." + name, "the chair has no such one (" + ", ".join(names) + ")")
