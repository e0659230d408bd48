"""The board's parts: outputs, motors, analog channels, sensors and their conversions.

Every class takes the `machine` module it drives (the real one on a board, a fake in
tests) and a validated pin-map entry (see pinmap.py). Outputs start in their inactive
state at the moment the pin becomes an output (`Pin(n, Pin.OUT, value=...)`), so nothing
glitches on. MicroPython-compatible.
"""

import math

FULL = 65535  # duty_u16 and read_u16 full scale
T25_K = 298.15  # 25 degrees C in kelvin
I2C_ADDR = 0x6D  # the XGZP6847D family (CFSensor): one address for all of them
I2C_FAIL_KPA = 99.0  # reported after 3 failed reads in a row: above every cap, so it vents
TEMP_OPEN_C = -50.0  # what an open (infinite) or shorted (zero) thermistor reads as
TEMP_SHORT_C = 150.0


class ShiftChain:
    """A chain of 74HC595 shift registers: `bits` outputs, written by `commit()`.

    Bit 0 is QA of the first chip (the one wired to `data`). Its output-enable (OE, active
    low, pulled up by a resistor on the board) is held high until the first all-off
    pattern is latched, so the outputs stay off through boot and reset.
    """

    def __init__(self, machine, spec):
        pin = machine.Pin
        self.enable = pin(spec["enable"], pin.OUT, value=1)
        self.data = pin(spec["data"], pin.OUT, value=0)
        self.clock = pin(spec["clock"], pin.OUT, value=0)
        self.latch = pin(spec["latch"], pin.OUT, value=0)
        self.bits = spec["bits"]
        self.state = 0
        self.dirty = True

    def set(self, bit, level):
        mask = 1 << bit
        new = (self.state | mask) if level else (self.state & ~mask)
        if new != self.state:
            self.state = new
            self.dirty = True

    def commit(self):
        """Shift the pattern out (last bit first) and latch it; nothing if unchanged."""
        if not self.dirty:
            return
        data, clock, state = self.data, self.clock, self.state
        for i in range(self.bits - 1, -1, -1):
            data.value((state >> i) & 1)
            clock.value(1)
            clock.value(0)
        self.latch.value(1)
        self.latch.value(0)
        self.dirty = False
        self.enable.value(0)


class Output:
    """One on/off output (relay, MOSFET, valve coil) on a GPIO or a shift-register bit.

    `set(on)`: `on` is the output's meaning (a valve open, a relay closed). With
    `normally_open` (a valve open when unpowered), open means the coil is off; with
    `active_low` (most relay boards) the coil is on when the pin is low.
    """

    def __init__(self, machine, spec, chain=None):
        self.invert = bool(spec.get("normally_open", False))
        self.low = bool(spec.get("active_low", False))
        self.chain = chain
        if "shift" in spec:
            self.bit = spec["shift"]
            self.pin = None
        else:
            pin = machine.Pin
            self.pin = pin(spec["pin"], pin.OUT, value=1 if self.low else 0)
        self.on = None

    def set(self, on):
        on = bool(on)
        self.on = on
        level = (on != self.invert) != self.low
        if self.pin is None:
            self.chain.set(self.bit, level)
        else:
            self.pin.value(1 if level else 0)


def pwm(machine, gpio, freq, idle_high=False):
    """A PWM output at duty 0 (or full, for an active-low input) from its first instant."""
    pin = machine.Pin(gpio, machine.Pin.OUT, value=1 if idle_high else 0)
    duty = FULL if idle_high else 0
    try:
        return machine.PWM(pin, freq=freq, duty_u16=duty)
    except TypeError:  # an older port without constructor keywords
        p = machine.PWM(pin)
        p.freq(freq)
        p.duty_u16(duty)
        return p


class HBridge:
    """A DC motor on an H-bridge: `drive(-1 | 0 | +1)`. +1 sets IN1, -1 IN2 (swapped by
    `invert`); 0 clears both and the enable PWM (the motor coasts)."""

    def __init__(self, machine, spec, chain=None):
        self.in1 = Output(machine, spec["in1"], chain)
        self.in2 = Output(machine, spec["in2"], chain)
        self.in1.set(False)
        self.in2.set(False)
        self.sign = -1 if spec.get("invert", False) else 1
        self.duty = int(spec.get("duty", 1.0) * FULL)
        self.enable = pwm(machine, spec["enable"], spec["freq"]) if "enable" in spec else None

    def drive(self, d):
        d = d * self.sign
        if self.enable is not None and d == 0:
            self.enable.duty_u16(0)
        self.in1.set(d > 0)
        self.in2.set(d < 0)
        if self.enable is not None and d != 0:
            self.enable.duty_u16(self.duty)


class PwmMotor:
    """A one-way motor through a MOSFET or driver input: `run(fraction)`, 0 stops; any
    other fraction runs at least at `min_duty` (below it a motor hums and does not turn)."""

    def __init__(self, machine, spec):
        self.low = bool(spec.get("active_low", False))
        self.min = float(spec.get("min_duty", 0.0))
        self.pwm = pwm(machine, spec["pin"], spec["freq"], self.low)

    def run(self, fraction):
        if fraction <= 0:
            duty = 0
        else:
            duty = int((self.min + (1.0 - self.min) * min(fraction, 1.0)) * FULL)
        self.pwm.duty_u16(FULL - duty if self.low else duty)


class Servo:
    """A position-controlled actuator (an RC servo or a servo-driven depth linkage) by pulse
    width: `to(fraction)`, 0 = `pulse_us[0]` (retracted) .. 1 = `pulse_us[1]` (deepest)."""

    def __init__(self, machine, spec):
        self.freq = spec["freq"]
        self.us = spec["pulse_us"]
        self.pwm = pwm(machine, spec["pin"], self.freq)
        self.to(0.0)

    def to(self, fraction):
        fraction = min(max(fraction, 0.0), 1.0)
        us = self.us[0] + (self.us[1] - self.us[0]) * fraction
        self.pwm.duty_u16(int(us * self.freq * FULL / 1000000))


class Mux:
    """A CD74HC4067 (16 channels) or CD4051-style analog mux on one ADC pin: `volts(ch)`."""

    def __init__(self, machine, spec, vref):
        pin = machine.Pin
        self.select = [pin(n, pin.OUT, value=0) for n in spec["select"]]
        self.adc = Adc(machine, spec["adc"], vref)
        self.channel = 0

    def volts(self, ch):
        if ch != self.channel:
            for i, p in enumerate(self.select):
                p.value((ch >> i) & 1)
            self.channel = ch
        return self.adc.volts()


class Adc:
    """One ADC pin in volts: `read_uv()` where the port has it (the ESP32's calibrated
    reading; full range set to about 0.15-2.45 V by 11 dB attenuation), otherwise
    `read_u16() * vref / 65535` (the RP2040 ADC refers to its 3.3 V supply)."""

    def __init__(self, machine, gpio, vref):
        adc = machine.ADC(machine.Pin(gpio))
        atten = getattr(machine.ADC, "ATTN_11DB", None)
        if atten is not None and hasattr(adc, "atten"):
            adc.atten(atten)
        self._uv = getattr(adc, "read_uv", None)
        self._u16 = adc.read_u16
        self.scale = vref / FULL

    def volts(self):
        if self._uv is not None:
            return self._uv() * 1e-6
        return self._u16() * self.scale


class Analog:
    """A converted analog input: `read()` gives `convert(volts)` in its unit."""

    def __init__(self, source, channel, convert):
        self.source = source  # an Adc (channel None) or a Mux
        self.channel = channel
        self.convert = convert

    def read(self):
        if self.channel is None:
            return self.convert(self.source.volts())
        return self.convert(self.source.volts(self.channel))


def linear(zero_v, per_v):
    """(v - zero_v) * per_v: a gauge-pressure sensor (kPa per volt at the ADC pin)."""
    return lambda v: (v - zero_v) * per_v


def amps(zero_v, v_per_a):
    """|v - zero_v| / v_per_a: a shunt amplifier or Hall sensor (volts per amp)."""
    return lambda v: abs(v - zero_v) / v_per_a


def percent(v0, v100):
    """A potentiometer: v0 at 0 %, v100 at 100 %, clamped to 0..100."""
    return lambda v: min(max((v - v0) * 100.0 / (v100 - v0), 0.0), 100.0)


def thermistor_c(volts, vref, r_fixed, r25, beta, ntc_low=True):
    """The NTC's temperature (degrees C) from its divider's volts, by the Beta equation
    1/T = 1/T25 + ln(R/R25)/Beta. `ntc_low`: the NTC is between the ADC pin and ground
    (the fixed resistor to `vref`). An open or shorted NTC reads -50 or 150 degrees C,
    outside the firmware's plausible range, so it latches a thermistor fault."""
    top = vref - volts
    if ntc_low:
        if volts <= 0.0:
            return TEMP_SHORT_C
        if top <= 0.0:
            return TEMP_OPEN_C
        r = r_fixed * volts / top
    else:
        if top <= 0.0:
            return TEMP_SHORT_C
        if volts <= 0.0:
            return TEMP_OPEN_C
        r = r_fixed * top / volts
    c = 1.0 / (1.0 / T25_K + math.log(r / r25) / beta) - 273.15
    return min(max(c, TEMP_OPEN_C), TEMP_SHORT_C)


class Xgzp:
    """An XGZP6847D-family I2C gauge-pressure sensor (CFSensor, address 0x6D) in kPa.

    A conversion takes a few ms, so `read()` never waits: it returns the last result,
    and when the sensor's status says the conversion is done (register 0x30 bit 3 clear)
    it reads the 24-bit signed value (registers 0x06-0x08; Pa = raw / k, k from the
    datasheet's table for the range: 64 for 65-131 kPa, 128 for 32-65 kPa) and starts the
    next one (0x0A to 0x30). Three failed reads in a row report 99 kPa (it vents)."""

    def __init__(self, i2c, k):
        self.i2c = i2c
        self.k = k
        self.kpa = 0.0
        self.failures = 0
        self.buf1 = bytearray(1)
        self.buf3 = bytearray(3)
        self.start = b"\x0a"
        try:
            self.i2c.writeto_mem(I2C_ADDR, 0x30, self.start)
        except OSError:
            self.failures = 1

    def read(self):
        try:
            self.i2c.readfrom_mem_into(I2C_ADDR, 0x30, self.buf1)
            if not self.buf1[0] & 0x08:
                b = self.buf3
                self.i2c.readfrom_mem_into(I2C_ADDR, 0x06, b)
                raw = (b[0] << 16) | (b[1] << 8) | b[2]
                if raw & 0x800000:
                    raw -= 0x1000000
                self.kpa = raw / self.k / 1000.0
                self.i2c.writeto_mem(I2C_ADDR, 0x30, self.start)
            self.failures = 0
        except OSError:
            self.failures += 1
            if self.failures >= 3:
                return I2C_FAIL_KPA
        return self.kpa


def input_pin(machine, gpio, pull):
    """An input GPIO, with its internal pull-up or pull-down when `pull` says so."""
    pin = machine.Pin
    if pull == "up":
        return pin(gpio, pin.IN, pin.PULL_UP)
    if pull == "down":
        return pin(gpio, pin.IN, pin.PULL_DOWN)
    return pin(gpio, pin.IN)


class Switch:
    """A switch input: `pressed()`; `active_low` for a switch to ground with a pull-up."""

    def __init__(self, machine, spec):
        self.pin = input_pin(machine, spec["pin"], spec.get("pull"))
        self.low = bool(spec.get("active_low", False))

    def pressed(self):
        return bool(self.pin.value()) != self.low


class Encoder:
    """Carriage pulses counted by `Pin.irq`: quadrature (A and B: each edge of A counts
    +1 or -1 by B's level, counting up when the carriage moves down the track) or a
    single channel A (each rising edge counts in the direction last driven)."""

    def __init__(self, machine, spec):
        pin = machine.Pin
        self.a = input_pin(machine, spec["a"], spec.get("pull"))
        self.b = input_pin(machine, spec["b"], spec.get("pull")) if "b" in spec else None
        self.mm = spec["mm_per_pulse"]
        self.count = 0
        self.direction = 1
        if self.b is None:
            self.a.irq(handler=self._pulse, trigger=pin.IRQ_RISING)
        else:
            self.a.irq(handler=self._edge, trigger=pin.IRQ_RISING | pin.IRQ_FALLING)

    def _pulse(self, _pin):
        self.count += self.direction

    def _edge(self, _pin):
        if self.a.value() == self.b.value():
            self.count -= 1
        else:
            self.count += 1

    def mm_now(self):
        return self.count * self.mm
