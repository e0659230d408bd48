"""The board's entry point: copied to the board as /main.py (docs/hobbyist.md).

`main()` loads the pin map (/pins.json if present, otherwise the shipped map for the
port: firmware/boards/esp32.json or rp2040.json) and the chair description it names,
builds the Board (a wrong map stops here, naming its key, before any pin is driven) and
the Firmware, then runs `run()` for ever under a hardware watchdog.

`run(fw, board, port, wdt, clock, ...)` is the loop, free of MicroPython so that tests run
it under CPython with fakes: each pass it runs the current tick of the 10 ms grid (a late
pass runs only the current tick: k jumps), hands the host's bytes to the firmware, writes
what the firmware has to send and feeds the watchdog.

Safe on reset: a hung loop stops feeding the watchdog, which resets the chip; at reset
every GPIO is an input, the pull resistors on the driver boards and the 74HC595's
output-enable pull-up hold every relay, valve, pump and motor off (vents and dump open:
they are normally-open valves), and the Board sets the same state before the first tick.
A crash in the loop puts the outputs in that state, writes the traceback to /crash.txt
and resets. Ctrl-C on the port is disabled while the loop runs (one flipped bit of a `C`
is a Ctrl-C). To get the REPL for mpremote instead, press the service input (the BOOT
button on an ESP32, BOOTSEL on a Pico) or send a Ctrl-C within a second of the start.
"""

import json
import sys

TICK_MS = 10
SERVICE_MS = 1000  # after start, the time to ask for the REPL (service button or Ctrl-C)
# Single-precision time (the float of MicroPython on the ESP32 and the RP2040 has a 24-bit
# mantissa): the firmware's clock is seconds since its start, good to 0.5 ms for 2.3 hours
# and 1 ms for 4.6, but a dead-man 20 ms late after 2 days and a 300 ms lease gone in 3 ms
# after 100 (measured on a single-precision MicroPython build). So the loop starts the
# firmware afresh, with its clock at zero, once it has run REBASE_MS and the chair is idle,
# nothing latched, with no line from a host for QUIET_MS; or, past FORCE_MS, idle and
# nothing latched even with a host attached (the host sees the banner of a restarted board
# and connects again). Never in a session: the session cap (30 min) ends every session, so
# the firmware's clock never passes FORCE_MS + 30 min (under 5 hours: 1 ms or better).
REBASE_MS = 1 * 3600 * 1000
QUIET_MS = 60 * 1000
FORCE_MS = 4 * 3600 * 1000


class Clock:
    """Milliseconds since it was made, as a growing int, from a wrapping tick counter
    (`ticks_ms`, `ticks_diff` of MicroPython's time module): the wrap (2**30 ms on the
    ESP32, about 12 days) never shows, as long as it is read at least every few days."""

    def __init__(self, ticks_ms, ticks_diff):
        self.ticks_ms = ticks_ms
        self.ticks_diff = ticks_diff
        self.last = ticks_ms()
        self.elapsed = 0

    def ms(self):
        now = self.ticks_ms()
        self.elapsed += self.ticks_diff(now, self.last)
        self.last = now
        return self.elapsed


def run(fw, board, port, wdt, clock, tick_ms=TICK_MS, out_limit=512, passes=-1,
        remake=None):
    """The loop: `passes` passes (-1: for ever). Returns the last tick index run.

    `fw` a Firmware built at clock time 0 (its `now` 0.0); `port` has `read()` (bytes, never
    blocks; b"" when none), `write(data)` and `wait(ms)` (sleeps up to `ms` or until bytes
    arrive); `wdt` has `feed()`; `clock` has `ms()` (see Clock). `remake()`, when given,
    builds a fresh Firmware at time 0: the loop then restarts the firmware's clock as
    REBASE_MS says (the firmware's `state` and `quiet_s(now)` tell when it may)."""
    k = -1
    epoch = 0  # the clock's ms at the firmware's time 0
    while passes != 0:
        if passes > 0:
            passes -= 1
        ms = clock.ms() - epoch
        if remake is not None and ms >= REBASE_MS and fw.state == "Idle" and (
                ms >= FORCE_MS or fw.quiet_s(ms / 1000.0) * 1000 >= QUIET_MS):
            epoch += ms
            ms, k = 0, -1
            fw = remake()
            board.commit()
        due = ms // tick_ms
        if due > k:
            fw.tick(due)
            k = due
            board.commit()
        data = port.read()
        if data:
            fw.receive(data, ms / 1000.0)
            board.commit()
        if fw.waiting:
            port.write(fw.take(out_limit))
        wdt.feed()
        wait = (k + 1) * tick_ms - (clock.ms() - epoch)
        if wait > 0 and not fw.waiting:
            port.wait(wait)
    return k


class StdioPort:
    """The USB serial port (USB-CDC on a Pico, the USB-UART bridge on an ESP32 devkit):
    sys.stdin.buffer polled with select.poll, sys.stdout.buffer for writing (raw, no CR)."""

    def __init__(self, most=256):
        import select

        self.poll = select.poll()
        self.poll.register(sys.stdin, select.POLLIN)
        self.inp = sys.stdin.buffer
        self.out = sys.stdout.buffer
        self.most = most

    def read(self):
        got = bytearray()
        while len(got) < self.most and self.poll.poll(0):
            got += self.inp.read(1)
        return bytes(got)

    def write(self, data):
        self.out.write(data)

    def wait(self, ms):
        self.poll.poll(ms)


class UartPort:
    """A machine.UART, when the map says
    `"port": {"kind": "uart", "uart": 1, "baud": 115200, "tx": 17, "rx": 16}`."""

    def __init__(self, machine, spec):
        self.uart = machine.UART(spec["uart"], baudrate=spec["baud"], tx=machine.Pin(spec["tx"]),
                                 rx=machine.Pin(spec["rx"]), txbuf=1024, rxbuf=1024)
        import time

        self.sleep_ms = time.sleep_ms

    def read(self):
        if not self.uart.any():
            return b""
        return self.uart.read() or b""

    def write(self, data):
        self.uart.write(data)

    def wait(self, ms):
        self.sleep_ms(1)


def names(chair, key):
    """The chair description's zone or heater names (strings, or objects with a name)."""
    return [item if isinstance(item, str) else item["name"] for item in chair[key]]


def limit(chair, name, default):
    """A value of the chair's limits table (a dict of values, or a list of entries as
    objects with name and value or [name, value, ...] lists), or `default`."""
    table = chair.get("limits", ())
    if isinstance(table, dict):
        entry = table.get(name, default)
        return entry.get("value", default) if isinstance(entry, dict) else entry
    for entry in table:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry.get("value", default)
        if isinstance(entry, (list, tuple)) and entry and entry[0] == name:
            return entry[1]
    return default


def pin_map_path(exists, root=""):
    """/pins.json when the person put their own map there, else the port's shipped one."""
    if exists(root + "/pins.json"):
        return root + "/pins.json"
    if sys.platform == "rp2":
        return root + "/firmware/boards/rp2040.json"
    return root + "/firmware/boards/esp32.json"


def build(pins, chair, machine):
    """The Board for this map and chair (PinMapError if the map is wrong, or lacks a drive
    or sensor the chair description has)."""
    from firmware.boards.board import Board
    from firmware.boards.pinmap import check_chair, validate

    zones, heaters = names(chair, "zones"), names(chair, "heaters")
    validate(pins, zones, heaters)  # a malformed map is named first
    check_chair(pins, chair.get("axes", ()), chair.get("sensors", ()))
    return Board(pins, zones, heaters,
                 int(limit(chair, "roller_speed_max", 6)), int(limit(chair, "foot_speed_max", 3)),
                 int(limit(chair, "roller_depth_max", 5)), machine)


def service_input(pins, machine):
    """A function telling whether the map's service button is pressed (None: no button)."""
    spec = pins.get("service")
    if spec is None:
        return None
    if spec.get("bootsel"):
        import rp2

        return lambda: bool(rp2.bootsel_button())
    from firmware.boards.parts import Switch

    return Switch(machine, spec).pressed


def service_window(pressed, sleep_ms, ms=SERVICE_MS, step=10):
    """True when, within `ms` of start, the service button is pressed (`pressed` may be None)
    or a Ctrl-C arrives. Not held through the reset: BOOT low at reset starts the ESP32's
    ROM loader, BOOTSEL the Pico's USB loader."""
    try:
        for _ in range(ms // step):
            if pressed is not None and pressed():
                return True
            sleep_ms(step)
    except KeyboardInterrupt:
        return True
    return False


def _exists(path):
    import os

    try:
        os.stat(path)
        return True
    except OSError:
        return False


def main(root="", port=None):
    """Load, build, serve for ever (see the module). `root` the file system's top ("" on
    the board) and `port` a port to use instead of the map's (tests give both)."""
    import time

    import machine
    import micropython

    with open(pin_map_path(_exists, root)) as f:
        pins = json.load(f)
    from firmware import chairs
    from firmware.device import Firmware

    chair = chairs.load(pins.get("chair", "reference"))
    board = build(pins, chair, machine)  # every output safe from here on
    if service_window(service_input(pins, machine), time.sleep_ms):
        print("service: main.py stopped with every output safe; the REPL is yours")
        return
    if port is None:
        uart = pins.get("port", {}).get("kind") == "uart"
        port = UartPort(machine, pins["port"]) if uart else StdioPort()
    clock = Clock(time.ticks_ms, time.ticks_diff)
    def remake():
        return Firmware(board, chair, 0.0)

    micropython.kbd_intr(-1)
    wdt = machine.WDT(timeout=pins.get("watchdog_ms", 500))
    try:
        run(remake(), board, port, wdt, clock, remake=remake)
    except BaseException as e:  # anything at all: safe state, then reset
        board.safe()
        try:
            with open(root + "/crash.txt", "w") as f:
                sys.print_exception(e, f)
        except Exception:  # the file system may be what failed
            pass
        machine.reset()


if __name__ == "__main__":
    main()
