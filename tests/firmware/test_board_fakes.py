"""A fake `machine` module for the board layer's tests (no tests here).

`fake_machine()` returns a module with Pin, PWM, ADC, I2C, UART and WDT that record what
the board sets: `m.pins[gpio]` is the Pin (its `level`, `mode`, `pull`, `history`,
`handler`), `m.pwms[gpio]` the PWM (`freq`, `duty`, `history`), `m.volts[gpio]` the volts
an ADC pin reads (a number or a function of nothing), `m.wdts` the watchdogs.
Install it for one test with `monkeypatch.setitem(sys.modules, "machine", m)`.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

BOARDS = Path(__file__).resolve().parents[2] / "firmware" / "boards"
ZONES = ("shoulders", "arms", "lumbar", "seat", "calves", "feet")
HEATERS = ("lumbar", "seat")
VREF = 3.3


def shipped(name: str) -> dict:
    """A shipped pin map (esp32 or rp2040) as a fresh dict."""
    return json.loads((BOARDS / f"{name}.json").read_text(encoding="utf-8"))


def fake_machine(read_uv: bool = False) -> types.ModuleType:
    """A fresh fake `machine`; `read_uv`: its ADC has the ESP32's calibrated read_uv."""
    m = types.ModuleType("machine")
    m.pins, m.pwms, m.volts, m.wdts, m.i2c, m.uarts = {}, {}, {}, [], {}, []
    m.events = []  # (gpio, level) of every pin write, in order

    class Pin:
        IN, OUT = 1, 3
        PULL_UP, PULL_DOWN = 1, 2
        IRQ_RISING, IRQ_FALLING = 1, 2

        def __init__(self, gpio, mode=None, pull=None, value=None):
            known = m.pins.get(gpio)
            self.gpio = gpio
            self.mode = mode if mode is not None else (known.mode if known else None)
            self.pull = pull
            idle = 1 if pull == self.PULL_UP else 0  # what a pulled input reads untouched
            self.level = value if value is not None else (known.level if known else idle)
            self.history = [] if value is None else [value]
            self.handler = None
            if mode is not None or known is None:
                m.pins[gpio] = self

        def value(self, v=None):
            if v is None:
                return m.pins[self.gpio].level
            pin = m.pins[self.gpio]
            pin.level = int(v)
            pin.history.append(int(v))
            m.events.append((self.gpio, int(v)))
            return None

        def irq(self, handler=None, trigger=None):
            self.handler = handler
            self.trigger = trigger

    class PWM:
        def __init__(self, pin, freq=None, duty_u16=None):
            self.gpio = pin.gpio
            self.freq_hz = freq
            self.duty = duty_u16
            self.history = [duty_u16]
            m.pwms[pin.gpio] = self

        def freq(self, f=None):
            if f is None:
                return self.freq_hz
            self.freq_hz = f
            return None

        def duty_u16(self, d=None):
            if d is None:
                return self.duty
            assert 0 <= d <= 65535, d
            self.duty = d
            self.history.append(d)
            return None

    class ADC:
        ATTN_11DB = 3

        def __init__(self, pin):
            self.gpio = pin.gpio
            self.attn = None

        def _volts(self) -> float:
            v = m.volts.get(self.gpio, 0.0)
            return v() if callable(v) else v

        def read_u16(self) -> int:
            return max(0, min(65535, round(self._volts() / VREF * 65535)))

        def atten(self, a):
            self.attn = a

    if read_uv:
        ADC.read_uv = lambda self: round(self._volts() * 1e6)

    class I2C:
        def __init__(self, bus, scl=None, sda=None, freq=None):
            self.bus, self.regs, self.writes = bus, {}, []
            self.fail = False
            m.i2c[bus] = self

        def readfrom_mem_into(self, addr, reg, buf):
            if self.fail:
                raise OSError(19)
            for i in range(len(buf)):
                buf[i] = self.regs.get((addr, reg + i), 0)

        def writeto_mem(self, addr, reg, data):
            if self.fail:
                raise OSError(19)
            self.writes.append((addr, reg, bytes(data)))

    class UART:
        def __init__(self, uid, **kw):
            self.uid, self.kw = uid, kw
            m.uarts.append(self)

    class WDT:
        def __init__(self, timeout=None):
            self.timeout, self.feeds = timeout, 0
            m.wdts.append(self)

        def feed(self):
            self.feeds += 1

    m.Pin, m.PWM, m.ADC, m.I2C, m.UART, m.WDT = Pin, PWM, ADC, I2C, UART, WDT
    return m


def mux_reader(m: types.ModuleType, select: list[int], channels: dict[int, float]):
    """An ADC source for the analog mux's pin: the volts of the channel selected now."""
    def read() -> float:
        ch = sum(m.pins[g].level << i for i, g in enumerate(select))
        return channels.get(ch, 0.0)
    return read


def shift_outputs(m: types.ModuleType, spec: dict) -> list[int]:
    """Replay a 74HC595 chain from the pin writes: the latched level of every bit (bit 0 is
    QA of the first chip); a bit is None until the first latch. Outputs enabled (OE low)?
    that is `m.pins[spec["enable"]].level == 0`."""
    bits = spec["bits"]
    shift = [0] * bits
    latched: list[int | None] = [None] * bits
    data = 0
    for gpio, level in m.events:
        if gpio == spec["data"]:
            data = level
        elif gpio == spec["clock"] and level:
            shift = [data, *shift[:-1]]
        elif gpio == spec["latch"] and level:
            latched = list(shift)
    return latched
