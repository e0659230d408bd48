"""The hardware layer: the only way the firmware reads sensors and drives outputs.

Two implementations: `sim.hardware.SimHardware` (the numpy plant and the simulated person)
and `firmware.boards.board.Board` (a real ESP32 or RP2040 under MicroPython, configured by a
pin map). `Hardware` documents the interface and is a working stand-in with fixed readings
(firmware tests use it). Units: kPa, degrees C, mm, percent of travel, A, N.
"""


class Hardware:
    """Sensors are attributes, refreshed by `sense()`; outputs are methods the firmware
    calls when it changes an output (it never reads an output back).

    Sensors: `pressure` (list, kPa, one per zone), `temp` (list, C, one per heater),
    `encoder_mm`, `end_top`, `end_bottom`, `back_pct`, `leg_pct`, `occupied`, `pinch`,
    `roller_a`, `pump_a`, `heater_a` (list, one per heater), `force_n` (0.0 without a
    force sensor). Outputs: `fill(z, on)`, `vent(z, on)`, `dump(on)`, `pump(on)`,
    `heater(h, on)`, `supply(on)`, `carriage(drive)`, `back(drive)`, `leg(drive)` (drive
    -1, 0 or +1), `head(technique, width, depth, speed)`, `foot(speed)`.
    """

    def __init__(self, zones=6, heaters=2):
        self.pressure = [0.0] * zones
        self.temp = [24.0] * heaters
        self.heater_a = [0.0] * heaters
        self.encoder_mm = 0.0
        self.end_top = True
        self.end_bottom = False
        self.back_pct = 0.0
        self.leg_pct = 0.0
        self.occupied = True
        self.pinch = False
        self.roller_a = 0.0
        self.pump_a = 0.0
        self.force_n = 0.0
        self.outputs = {}  # the last value written to each output, for tests

    def sense(self):
        pass

    def fill(self, z, on):
        self.outputs[("fill", z)] = on

    def vent(self, z, on):
        self.outputs[("vent", z)] = on

    def dump(self, on):
        self.outputs["dump"] = on

    def pump(self, on):
        self.outputs["pump"] = on

    def heater(self, h, on):
        self.outputs[("heater", h)] = on

    def supply(self, on):
        self.outputs["supply"] = on

    def carriage(self, drive):
        self.outputs["carriage"] = drive

    def back(self, drive):
        self.outputs["back"] = drive

    def leg(self, drive):
        self.outputs["leg"] = drive

    def head(self, technique, width, depth, speed):
        self.outputs["head"] = (technique, width, depth, speed)

    def foot(self, speed):
        self.outputs["foot"] = speed
