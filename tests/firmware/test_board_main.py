"""The board's main loop under CPython: ticks on the 10 ms grid (a late pass runs only the
current tick), bytes both ways, the watchdog fed; the wrapping tick counter; the chair
description and pin map it builds the Board from."""

from __future__ import annotations

import sys

import pytest

from firmware.boards import main as board_main
from tests.firmware.test_board_fakes import HEATERS, ZONES, fake_machine, shipped


class StandIn:
    """The smallest Firmware the loop needs: records ticks and bytes, answers each chunk."""

    def __init__(self) -> None:
        self.ticks: list[int] = []
        self.got: list[tuple[bytes, float]] = []
        self.out = bytearray()

    def tick(self, k: int) -> None:
        assert not self.ticks or k > self.ticks[-1], "k only grows"
        self.ticks.append(k)

    def receive(self, data: bytes, now: float) -> None:
        self.got.append((data, now))
        self.out += b"ok " + data + b"\n"

    @property
    def waiting(self) -> int:
        return len(self.out)

    def take(self, limit: int | None = None) -> bytes:
        n = len(self.out) if limit is None else limit
        out, self.out = bytes(self.out[:n]), self.out[n:]
        return out


class FakeClock:
    def __init__(self) -> None:
        self.now = 0

    def ms(self) -> int:
        return self.now


class FakePort:
    """Delivers `script[pass]` on each pass's read; `wait` advances the clock."""

    def __init__(self, clock: FakeClock, script: dict[int, bytes], step_ms: int = 10) -> None:
        self.clock, self.script, self.step_ms = clock, script, step_ms
        self.passes = 0
        self.sent = bytearray()
        self.waits: list[int] = []

    def read(self) -> bytes:
        data = self.script.get(self.passes, b"")
        self.passes += 1
        return data

    def write(self, data: bytes) -> None:
        self.sent += data

    def wait(self, ms: int) -> None:
        self.waits.append(ms)
        self.clock.now += ms


class FakeBoard:
    def __init__(self) -> None:
        self.commits = 0

    def commit(self) -> None:
        self.commits += 1


class FakeWdt:
    def __init__(self) -> None:
        self.feeds = 0

    def feed(self) -> None:
        self.feeds += 1


def test_the_loop_runs_each_tick_of_the_grid_once_and_feeds_the_watchdog() -> None:
    clock, fw, board, wdt = FakeClock(), StandIn(), FakeBoard(), FakeWdt()
    port = FakePort(clock, {})
    last = board_main.run(fw, board, port, wdt, clock, passes=50)
    assert fw.ticks == list(range(50)) and last == 49
    assert wdt.feeds == 50
    assert port.waits == [10] * 50  # each pass sleeps until the next tick is due
    assert board.commits == 50


def test_a_late_pass_runs_the_current_tick_and_k_jumps() -> None:
    clock, fw, board, wdt = FakeClock(), StandIn(), FakeBoard(), FakeWdt()
    port = FakePort(clock, {})
    board_main.run(fw, board, port, wdt, clock, passes=3)
    clock.now += 47  # the loop stalled (a garbage collection, a slow write)
    board_main.run(fw, board, port, wdt, clock, passes=1)
    assert fw.ticks == [0, 1, 2, 7]  # a new run() starts k afresh; 77 ms is tick 7
    fw2, clock2 = StandIn(), FakeClock()
    port2 = FakePort(clock2, {})

    def stall(ms: int) -> None:
        port2.waits.append(ms)
        clock2.now += 35 if len(port2.waits) == 2 else ms
    port2.wait = stall
    board_main.run(fw2, FakeBoard(), port2, FakeWdt(), clock2, passes=4)
    assert fw2.ticks == [0, 1, 4, 5]  # 10, then 45 ms: ticks 2 and 3 are never run


def test_host_bytes_reach_the_firmware_at_their_time_and_replies_reach_the_port() -> None:
    clock, fw, board, wdt = FakeClock(), StandIn(), FakeBoard(), FakeWdt()
    port = FakePort(clock, {3: b"STATUS*1234\n", 5: b"\x9e"})
    board_main.run(fw, board, port, wdt, clock, passes=8)
    assert fw.got == [(b"STATUS*1234\n", 0.03), (b"\x9e", 0.05)]
    assert bytes(port.sent) == b"ok STATUS*1234\n\nok \x9e\n"
    assert fw.ticks[:6] == [0, 1, 2, 3, 4, 5]  # each chunk after its tick (ticks up to now)
    assert board.commits == 8 + 2  # after each tick and after each chunk


def test_a_pass_with_bytes_waiting_does_not_sleep() -> None:
    clock, fw, board, wdt = FakeClock(), StandIn(), FakeBoard(), FakeWdt()
    fw.out += b"x" * 2000  # more than a pass may write
    port = FakePort(clock, {})
    board_main.run(fw, board, port, wdt, clock, passes=4, out_limit=512)
    assert len(port.sent) == 2000  # 512 a pass
    assert port.waits == [10]  # only the pass that emptied the queue slept
    assert fw.ticks == [0] and wdt.feeds == 4


def test_the_clock_grows_through_the_tick_counters_wrap() -> None:
    period = 1 << 30
    now = [period - 25]

    def ticks_ms() -> int:
        return now[0] % period

    def ticks_diff(a: int, b: int) -> int:  # MicroPython's: signed, modulo the period
        return ((a - b + period // 2) % period) - period // 2

    clock = board_main.Clock(ticks_ms, ticks_diff)
    seen = []
    for _ in range(6):
        now[0] += 10
        seen.append(clock.ms())
    assert seen == [10, 20, 30, 40, 50, 60]
    for _ in range(20):  # days of uptime, read every few hours: still exact
        now[0] += 4 * 3600 * 1000
        clock.ms()
    assert clock.ms() == 60 + 20 * 4 * 3600 * 1000


def test_names_and_limits_from_the_chair_description_in_any_plausible_shape() -> None:
    chair = {"zones": ["lumbar", {"name": "seat"}], "heaters": [],
             "limits": [{"name": "roller_speed_max", "value": 6}, ["foot_speed_max", 3, "step"]]}
    assert board_main.names(chair, "zones") == ["lumbar", "seat"]
    assert board_main.limit(chair, "roller_speed_max", 1) == 6
    assert board_main.limit(chair, "foot_speed_max", 1) == 3
    assert board_main.limit(chair, "roller_depth_max", 5) == 5
    assert board_main.limit({"limits": {"foot_speed_max": 2}}, "foot_speed_max", 3) == 2
    assert board_main.limit({"limits": {"foot_speed_max": {"value": 2}}}, "foot_speed_max", 3) \
        == 2


@pytest.mark.parametrize("name", ["esp32", "rp2040"])
def test_build_makes_the_board_for_the_reference_chair(name, monkeypatch) -> None:
    m = fake_machine()
    monkeypatch.setitem(sys.modules, "machine", m)
    chair = {"zones": list(ZONES), "heaters": list(HEATERS),
             "limits": {"roller_speed_max": 6, "foot_speed_max": 3, "roller_depth_max": 5}}
    board = board_main.build(shipped(name), chair, None)
    assert board.name == name and board.zones == ZONES and board.foot_max == 3


def test_the_shipped_map_is_chosen_by_platform_unless_pins_json_exists(monkeypatch) -> None:
    monkeypatch.setattr(sys, "platform", "rp2")
    assert board_main.pin_map_path(lambda p: False) == "/firmware/boards/rp2040.json"
    monkeypatch.setattr(sys, "platform", "esp32")
    assert board_main.pin_map_path(lambda p: False) == "/firmware/boards/esp32.json"
    assert board_main.pin_map_path(lambda p: p == "/pins.json") == "/pins.json"


def test_the_service_button_is_read_through_the_map(monkeypatch) -> None:
    m = fake_machine()
    pins = shipped("esp32")
    pressed = board_main.service_input(pins, m)
    assert pressed() is False  # pulled up: not pressed
    m.pins[0].level = 0
    assert pressed() is True
    assert board_main.service_input({}, m) is None


def test_the_service_window_lasts_a_second_and_takes_the_button_or_ctrl_c() -> None:
    slept: list[int] = []
    assert board_main.service_window(lambda: False, slept.append) is False
    assert sum(slept) == board_main.SERVICE_MS == 1000
    slept.clear()
    assert board_main.service_window(lambda: len(slept) == 30, slept.append) is True
    assert sum(slept) == 300
    assert board_main.service_window(None, slept.append) is False  # a map with no button

    def interrupted(ms: int) -> None:
        raise KeyboardInterrupt
    assert board_main.service_window(None, interrupted) is True


# ---------------------------------------------------------------- main() on fakes


class Crash(RuntimeError):
    pass


def _board_world(monkeypatch, tmp_path, pins: dict, bootsel: bool = False):
    """Fake machine, micropython, time, rp2, firmware.chairs and firmware.device; the pin
    map at tmp_path/pins.json. Returns (machine, record) where record collects events."""
    import json
    import time as real_time
    import types

    import firmware

    (tmp_path / "pins.json").write_text(json.dumps(pins))
    record: dict = {"kbd_intr": [], "resets": 0, "ticks": [], "sleeps": 0}
    m = fake_machine()

    def reset() -> None:
        record["resets"] += 1
    m.reset = reset
    monkeypatch.setitem(sys.modules, "machine", m)
    mp = types.ModuleType("micropython")
    mp.kbd_intr = record["kbd_intr"].append
    monkeypatch.setitem(sys.modules, "micropython", mp)
    clock = {"ms": 0}
    t = types.ModuleType("time")
    t.__dict__.update({k: getattr(real_time, k) for k in dir(real_time) if not k.startswith("__")})
    t.ticks_ms = lambda: clock["ms"]
    t.ticks_diff = lambda a, b: a - b

    def sleep_ms(ms: int) -> None:
        record["sleeps"] += ms
        clock["ms"] += ms
    t.sleep_ms = sleep_ms
    monkeypatch.setitem(sys.modules, "time", t)
    rp2 = types.ModuleType("rp2")
    rp2.bootsel_button = lambda: int(bootsel)
    monkeypatch.setitem(sys.modules, "rp2", rp2)
    chairs = types.ModuleType("firmware.chairs")
    chairs.load = lambda name: {"name": name, "zones": list(ZONES), "heaters": list(HEATERS)}
    device = types.ModuleType("firmware.device")

    class Firmware:
        def __init__(self, hw, chair, now) -> None:
            record["chair"], record["now"] = chair["name"], now
            self.out = b"#CHAIR banner\n"
            self.hw = hw

        @property
        def waiting(self) -> int:
            return len(self.out)

        def take(self, limit=None) -> bytes:
            out, self.out = self.out, b""
            return out

        def tick(self, k: int) -> None:
            record["ticks"].append(k)
            self.hw.sense()
            self.hw.pump(True)  # something on when it crashes
            self.hw.supply(True)
            if k >= 5:
                raise Crash("the loop broke at tick 5")

        def receive(self, data: bytes, now: float) -> None:
            pass
    device.Firmware = Firmware
    monkeypatch.setitem(sys.modules, "firmware.chairs", chairs)
    monkeypatch.setitem(sys.modules, "firmware.device", device)
    monkeypatch.setattr(firmware, "chairs", chairs, raising=False)
    monkeypatch.setattr(firmware, "device", device, raising=False)
    monkeypatch.setattr(sys, "print_exception", lambda e, f: f.write(repr(e)), raising=False)

    class Port:
        def __init__(self) -> None:
            self.sent = bytearray()

        def read(self) -> bytes:
            return b""

        def write(self, data: bytes) -> None:
            self.sent += data

        def wait(self, ms: int) -> None:
            clock["ms"] += ms
    record["port"] = Port()
    return m, record


def test_main_serves_under_the_watchdog_and_a_crash_ends_safe_then_resets(
        monkeypatch, tmp_path) -> None:
    pins = shipped("rp2040")
    m, record = _board_world(monkeypatch, tmp_path, pins)
    board_main.main(root=str(tmp_path), port=record["port"])
    assert record["chair"] == "reference" and record["now"] == 0.0
    assert record["sleeps"] == board_main.SERVICE_MS  # waited for a service request first
    assert record["kbd_intr"] == [-1]  # Ctrl-C off while the loop runs
    assert [w.timeout for w in m.wdts] == [500] and m.wdts[0].feeds == 5
    assert record["ticks"] == [0, 1, 2, 3, 4, 5]
    assert bytes(record["port"].sent) == b"#CHAIR banner\n"
    # the crash: outputs back to the safe state, the traceback kept, the chip reset
    assert m.pins[pins["supply"]["pin"]].level == 1  # active-low supply relay open
    assert shift_bits(m, pins)[pins["pump"]["shift"]] == 0
    assert "the loop broke at tick 5" in (tmp_path / "crash.txt").read_text()
    assert record["resets"] == 1


def test_main_stops_for_the_service_button_before_the_watchdog(monkeypatch, tmp_path,
                                                                capsys) -> None:
    m, record = _board_world(monkeypatch, tmp_path, shipped("rp2040"), bootsel=True)
    board_main.main(root=str(tmp_path), port=record["port"])
    assert "service: main.py stopped" in capsys.readouterr().out
    assert m.wdts == [] and record["kbd_intr"] == [] and record["ticks"] == []
    assert m.pins[9].level == 1  # the Board was built: every output safe


def test_main_with_a_wrong_map_drives_nothing(monkeypatch, tmp_path) -> None:
    from firmware.boards.pinmap import PinMapError

    pins = shipped("rp2040")
    pins["supply"]["pin"] = 6
    m, record = _board_world(monkeypatch, tmp_path, pins)
    with pytest.raises(PinMapError, match=r"carriage\.motor\.in1\.pin"):
        board_main.main(root=str(tmp_path), port=record["port"])
    assert m.pins == {} and m.pwms == {} and m.wdts == []


def shift_bits(m, pins):
    from tests.firmware.test_board_fakes import shift_outputs

    return shift_outputs(m, pins["shift"])


class Restartable(StandIn):
    """A stand-in with the state and host silence the loop's clock restart looks at."""

    made = 0

    def __init__(self, state: str = "Idle", last_valid_s: float = 0.0) -> None:
        super().__init__()
        Restartable.made += 1
        self.state, self.last_valid_s = state, last_valid_s

    def quiet_s(self, now: float) -> float:
        return now - self.last_valid_s


def _restart_run(state: str, last_valid_s: float, start_ms: int) -> tuple[list, list]:
    """One pass at `start_ms`, then one more; the firmwares the loop made, in order."""
    made: list[Restartable] = []

    def remake() -> Restartable:
        made.append(Restartable())
        return made[-1]

    clock, board, wdt = FakeClock(), FakeBoard(), FakeWdt()
    first = Restartable(state, last_valid_s)
    clock.now = start_ms
    board_main.run(first, board, FakePort(clock, {}), wdt, clock, passes=2, remake=remake)
    return first.ticks, made


def test_an_idle_unattended_board_restarts_the_firmwares_clock() -> None:
    """Single-precision time: after REBASE_MS idle, with no host line for QUIET_MS, the
    firmware starts afresh at time 0, so its clock never loses resolution."""
    at = board_main.REBASE_MS + 5
    ticks, made = _restart_run("Idle", 0.0, at)
    assert ticks == [] and len(made) == 1
    assert made[0].ticks == [0, 1]  # the new firmware's ticks start at 0


@pytest.mark.parametrize(("state", "last_valid_s", "start_ms", "why"), [
    ("Run", 0.0, board_main.FORCE_MS + 5, "a session in progress"),
    ("Fault", 0.0, board_main.FORCE_MS + 5, "a latched fault (a restart would clear it)"),
    ("Estop", 0.0, board_main.FORCE_MS + 5, "a latched emergency stop"),
    ("Idle", (board_main.REBASE_MS - 1000) / 1000, board_main.REBASE_MS + 5,
     "a host spoke a second ago"),
    ("Idle", 0.0, board_main.REBASE_MS - 1000, "not yet REBASE_MS"),
])
def test_the_firmware_is_not_restarted(state, last_valid_s, start_ms, why) -> None:
    ticks, made = _restart_run(state, last_valid_s, start_ms)
    assert not made, why
    assert ticks and ticks[0] == start_ms // board_main.TICK_MS


def test_past_force_ms_an_idle_board_restarts_even_with_a_host_attached() -> None:
    at = board_main.FORCE_MS + 5
    _, made = _restart_run("Idle", at / 1000 - 1.0, at)
    assert len(made) == 1
