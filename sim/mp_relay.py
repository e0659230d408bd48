"""The MicroPython end of the relay: runs inside the interpreter, beside the firmware.

Not imported by CPython: `sim.remote` copies this file and `firmware/` into MicroPython
(sim/mp_runner.mjs, relay mode), which calls `handle(line)` for every line the simulator
sends and writes back what it returns. Each request is one JSON object: the plant's
readings (`s`, set on the hardware layer before the firmware runs) and one operation:

    {"op": "boot", "chair": {...}, "now": 0.0, "proto": 2, "name": "..."}
    {"op": "rx", "data": HEX, "now": t, "s": {...}}    host bytes at time t
    {"op": "tick", "k": k, "s": {...}}                   run tick k
    {"op": "quiet", "k": k, "last": j}                   Firmware.quiet_until(k, j)
    {"op": "power", "now": t, "s": {...}}                power-cycle: Firmware.boot(t)
    {"op": "take", "limit": n}                           Firmware.take(n) (null: all)

The answer: `o` the outputs written, in order, as [name, args...]; `w` the bytes waiting in
the firmware's transmit buffer; `st` the state, `l` the latched faults ({code: detail}),
`k` and `n` the last tick and its time; for "quiet", `j`; for "take", `x` the bytes (hex).
The lines wait in the firmware's own buffer until taken, so that its rules (whole lines,
fault pushes first, garbage refusals coalesced, protocol.md §11.1) hold as on a board.
"""

import json
from binascii import hexlify, unhexlify

from firmware.device import Firmware

SENSORS = ("pressure", "temp", "heater_a", "encoder_mm", "end_top", "end_bottom",
           "back_pct", "leg_pct", "occupied", "pinch", "roller_a", "pump_a", "force_n")


class RelayHardware:
    """The hardware layer inside the interpreter: readings as the simulator sent them,
    outputs recorded for the simulator to apply to its plant."""

    def __init__(self, n_zones, n_heaters):
        self.pressure = [0.0] * n_zones
        self.temp = [0.0] * n_heaters
        self.heater_a = [0.0] * n_heaters
        self.encoder_mm = self.back_pct = self.leg_pct = 0.0
        self.roller_a = self.pump_a = self.force_n = 0.0
        self.end_top = self.end_bottom = self.occupied = self.pinch = False
        self.written = []

    def sense(self):
        pass

    def fill(self, z, on):
        self.written.append(("fill", z, on))

    def vent(self, z, on):
        self.written.append(("vent", z, on))

    def dump(self, on):
        self.written.append(("dump", on))

    def pump(self, on):
        self.written.append(("pump", on))

    def heater(self, h, on):
        self.written.append(("heater", h, on))

    def supply(self, on):
        self.written.append(("supply", on))

    def carriage(self, drive):
        self.written.append(("carriage", drive))

    def back(self, drive):
        self.written.append(("back", drive))

    def leg(self, drive):
        self.written.append(("leg", drive))

    def head(self, technique, width, depth, speed):
        self.written.append(("head", technique, width, depth, speed))

    def foot(self, speed):
        self.written.append(("foot", speed))


_hw = None
_fw = None


def handle(line):
    """One request (a JSON line) in, one answer (a JSON line) out."""
    global _hw, _fw
    msg = json.loads(line)
    op = msg["op"]
    if op == "boot":
        chair = msg["chair"]
        _hw = RelayHardware(len(chair["zones"]), len(chair["heaters"]))
        _read(msg.get("s"))
        _fw = Firmware(_hw, chair, msg["now"], msg["proto"], msg["name"])
    elif op == "quiet":
        return json.dumps({"j": _fw.quiet_until(msg["k"], msg["last"])})
    elif op == "take":
        data = _fw.take(msg["limit"])
        return json.dumps({"x": hexlify(data).decode(), "w": _fw.waiting})
    else:
        _read(msg.get("s"))
        if op == "tick":
            _fw.tick(msg["k"])
        elif op == "rx":
            _fw.receive(unhexlify(msg["data"]), msg["now"])
        elif op == "power":
            _fw.boot(msg["now"])
        else:
            raise ValueError("unknown op " + op)
    written, _hw.written = _hw.written, []
    latched = {}
    for code, detail in _fw.latch.latched.items():
        latched[str(code)] = detail
    return json.dumps({"o": written, "w": _fw.waiting, "st": _fw.state, "l": latched,
                       "k": _fw.k, "n": _fw.now})


def _read(snapshot):
    if snapshot:
        for name in SENSORS:
            setattr(_hw, name, snapshot[name])
