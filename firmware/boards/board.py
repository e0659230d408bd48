"""The hardware layer of a real ESP32 or RP2040 under MicroPython, from a pin map.

`Board(pins, zones, heaters, speed_max=6, foot_max=3, depth_max=5, machine=None)`
(the step counts from the chair's limits table; `machine` the module to drive, the real
one when None) validates the map
(pinmap.validate: a PinMapError naming the key, before any pin is touched), then sets
every output to the boot state below and reads the sensors once. It is the `hw` object
of docs (firmware/hal.py's API): sensor attributes refreshed by `sense()`, output
methods the firmware calls when it changes an output.

Boot state (also `safe()`): pump off, fill valves closed, vent valves and the dump valve
open, heater relays and the heater supply relay open, every motor stopped, the kneading
and tapping motors off, the depth actuator retracted, the foot rollers off. The outputs
on the shift-register chain reach the pins at `commit()`; the board's loop calls it after
every tick and every received chunk, and `sense()` calls it first.

What the board cannot do, and what it does instead:
- width: a chair sets the kneading width by where its kneading motor stops, read by a
  width sensor this board does not have; width steps are accepted and not acted on.
- depth: without `head.depth` in the map (a servo-positioned depth linkage) the heads stay
  at the chair's fixed depth and depth steps are not acted on.
- techniques: knead runs the kneading motor, tap the tapping motor, at a duty from the
  speed step; press and roll run neither (the carriage's motion and the depth are the
  massage); off stops both and retracts the depth.
MicroPython-compatible.
"""

from firmware.boards import parts
from firmware.boards.pinmap import validate


class Board:
    """The hardware layer: sensors as attributes, outputs as methods (see the module)."""

    def __init__(self, pins, zones, heaters, speed_max=6, foot_max=3, depth_max=5,
                 machine=None):
        self.name = validate(pins, zones, heaters)
        if machine is None:
            import machine
        m = machine
        self.pins = pins
        self.zones = tuple(zones)
        self.heaters = tuple(heaters)
        self.speed_max = speed_max
        self.foot_max = foot_max
        self.depth_max = depth_max
        vref = pins.get("vref", 3.3)
        self.vref = vref

        chain = parts.ShiftChain(m, pins["shift"]) if "shift" in pins else None
        self.chain = chain
        mux = parts.Mux(m, pins["amux"], vref) if "amux" in pins else None
        self._mux = mux
        buses = {}
        for name, bus in pins.get("i2c", {}).items():
            buses[name] = m.I2C(bus["id"], scl=m.Pin(bus["scl"]), sda=m.Pin(bus["sda"]),
                                freq=bus.get("freq", 400000))

        def out(spec):
            return parts.Output(m, spec, chain)

        def analog(spec, convert):
            if "mux" in spec:
                return parts.Analog(mux, spec["mux"], convert)
            return parts.Analog(parts.Adc(m, spec["adc"], vref), None, convert)

        def amps(spec):
            return analog(spec, parts.amps(spec.get("zero_v", 0.0), spec["v_per_a"]))

        # outputs, each created in its inactive state
        self._fill = [out(pins["zones"][z]["fill"]) for z in zones]
        self._vent = [out(pins["zones"][z]["vent"]) for z in zones]
        self._pump = out(pins["pump"])
        self._dump = out(pins["dump"])
        self._heat = [out(pins["heaters"][h]["relay"]) for h in heaters]
        self._supply = out(pins["supply"])
        self._carriage = parts.HBridge(m, pins["carriage"]["motor"], chain)
        self._back = parts.HBridge(m, pins["back"]["motor"], chain) if "back" in pins else None
        self._leg = parts.HBridge(m, pins["leg"]["motor"], chain) if "leg" in pins else None
        head = pins["head"]
        self._knead = parts.PwmMotor(m, head["knead"])
        self._tap = parts.PwmMotor(m, head["tap"])
        self._depth = parts.Servo(m, head["depth"]) if "depth" in head else None
        self._foot = parts.PwmMotor(m, pins["foot"]) if "foot" in pins else None

        # sensors
        self._pressure = []
        for z in zones:
            spec = pins["zones"][z]["pressure"]
            if "i2c" in spec:
                self._pressure.append(parts.Xgzp(buses[spec["i2c"]], spec["k"]))
            else:
                self._pressure.append(analog(spec, parts.linear(spec["zero_v"],
                                                                spec["kpa_per_v"])))
        self._temp = []
        for h in heaters:
            spec = pins["heaters"][h]["thermistor"]
            self._temp.append(analog(spec, _thermistor(spec, vref)))
        self._heater_a = [amps(pins["heaters"][h]["current"])
                          if "current" in pins["heaters"][h] else None for h in heaters]
        self._roller_a = amps(pins["roller_current"])
        self._pump_a = amps(pins["pump_current"]) if "pump_current" in pins else None
        force = pins.get("force")
        self._force = analog(force, parts.linear(force.get("zero_v", 0.0),
                                                 force["n_per_v"])) if force else None
        self._back_pos = _position(analog, pins, "back")
        self._leg_pos = _position(analog, pins, "leg")
        self._encoder = parts.Encoder(m, pins["carriage"]["encoder"])
        self._end_top = parts.Switch(m, pins["end_top"])
        self._end_bottom = parts.Switch(m, pins["end_bottom"])
        self._seat = parts.Switch(m, pins["seat"])
        self._pinch = [parts.Switch(m, spec) for spec in pins["pinch"]]

        self.safe()
        self.sense()

    # ------------------------------------------------------------------ outputs

    def safe(self):
        """Every output to the boot state (the module says which), written at once."""
        self._pump.set(False)
        for z in range(len(self.zones)):
            self._fill[z].set(False)
            self._vent[z].set(True)
        self._dump.set(True)
        for h in range(len(self.heaters)):
            self._heat[h].set(False)
        self._supply.set(False)
        self.carriage(0)
        self.back(0)
        self.leg(0)
        self.head("off", 1, 0, 0)
        self.foot(0)
        self.commit()

    def commit(self):
        """Write the shift-register outputs changed since the last commit."""
        if self.chain is not None:
            self.chain.commit()

    def fill(self, z, on):
        self._fill[z].set(on)

    def vent(self, z, on):
        self._vent[z].set(on)

    def dump(self, on):
        self._dump.set(on)

    def pump(self, on):
        self._pump.set(on)

    def heater(self, h, on):
        self._heat[h].set(on)

    def supply(self, on):
        self._supply.set(on)

    def carriage(self, drive):
        """-1 up the track (towards 0 mm), 0 stop, +1 down."""
        self._encoder.direction = -1 if drive < 0 else (1 if drive > 0 else
                                                         self._encoder.direction)
        self._carriage.drive(drive)

    def back(self, drive):
        if self._back is not None:
            self._back.drive(drive)

    def leg(self, drive):
        if self._leg is not None:
            self._leg.drive(drive)

    def head(self, technique, width, depth, speed):
        """Roller head: technique name, width, depth (0 retracted) and speed steps."""
        run = 0.0 if speed <= 0 else speed / self.speed_max
        self._knead.run(run if technique == "knead" else 0.0)
        self._tap.run(run if technique == "tap" else 0.0)
        if self._depth is not None:
            self._depth.to(0.0 if technique == "off" else depth / self.depth_max)

    def foot(self, speed):
        if self._foot is not None:
            self._foot.run(speed / self.foot_max if speed > 0 else 0.0)

    # ------------------------------------------------------------------ sensors

    def sense(self):
        """Read every sensor once (about 20 ADC reads and a few pin reads)."""
        self.commit()
        self.pressure = [s.read() for s in self._pressure]
        self.temp = [s.read() for s in self._temp]
        self.heater_a = [0.0 if s is None else s.read() for s in self._heater_a]
        self.roller_a = self._roller_a.read()
        self.pump_a = 0.0 if self._pump_a is None else self._pump_a.read()
        self.force_n = 0.0 if self._force is None else self._force.read()
        self.back_pct = 0.0 if self._back_pos is None else self._back_pos.read()
        self.leg_pct = 0.0 if self._leg_pos is None else self._leg_pos.read()
        self.end_top = self._end_top.pressed()
        self.end_bottom = self._end_bottom.pressed()
        if self.end_top:  # the top end is 0 mm: the encoder counts from there
            self._encoder.count = 0
        self.encoder_mm = self._encoder.mm_now()
        self.occupied = self._seat.pressed()
        pinch = False
        for s in self._pinch:
            pinch = pinch or s.pressed()
        self.pinch = pinch


def _thermistor(spec, vref):
    r_fixed, r25, beta = spec["r_fixed"], spec["r25"], spec["beta"]
    low = spec.get("ntc", "low") == "low"
    return lambda v: parts.thermistor_c(v, vref, r_fixed, r25, beta, low)


def _position(analog, pins, axis):
    if axis not in pins:
        return None
    spec = pins[axis]["position"]
    return analog(spec, parts.percent(spec["v0"], spec["v100"]))
