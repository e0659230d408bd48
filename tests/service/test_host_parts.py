"""The parts the host is built from: the scaled clock and its wake, the requests queue,
the fault table, the sim's speed option, the port's lock and the publisher."""

from __future__ import annotations

import threading
import time

import pytest
import serial

from chair import protocol as p
from chair.clock import MAX_STEP_S, MonotonicClock, ScaledClock, wall_now
from chair.errors import UsageError
from chair.fault_help import FAULT_HELP
from chair.interrupts import ACTIONS, Requests
from chair.link import Link
from chair.ports import open_port
from chair.runurls import sim_url
from chair.service.publish import BACKLOG, Publisher
from chair.service.sharedport import SharedPort


def test_a_scaled_clock_runs_n_times_faster() -> None:
    clock = ScaledClock(20)
    start, real = clock.now(), time.monotonic()
    clock.sleep_until(start + 2.0)  # two clock seconds: a tenth of a real one
    took = time.monotonic() - real
    assert 0.09 <= took < 0.5 and clock.now() >= start + 2.0
    with pytest.raises(ValueError):
        ScaledClock(0)


def test_a_held_up_process_loses_the_time_instead_of_jumping_the_chair_ahead() -> None:
    clock = ScaledClock(50)
    before = clock.now()
    time.sleep(0.1)  # five clock seconds nobody read
    assert clock.now() - before == pytest.approx(MAX_STEP_S)
    assert clock.dropped > 4.0
    clock.sleep_until(clock.now() + 1.0)  # a deadline slept to is reached, not dropped
    assert clock.now() >= before + MAX_STEP_S + 1.0


def test_wake_cuts_a_sleep_short_and_is_never_lost() -> None:
    for clock in (MonotonicClock(), ScaledClock(2)):
        timer = threading.Timer(0.05, clock.wake)
        timer.start()
        real = time.monotonic()
        clock.sleep_until(clock.now() + 10.0)
        assert time.monotonic() - real < 2.0
        clock.wake()  # nobody asleep: the next sleep returns at once
        real = time.monotonic()
        clock.sleep_until(clock.now() + 10.0)
        assert time.monotonic() - real < 0.5
    assert wall_now().tzinfo is not None


def test_requests_come_in_order_and_wake_the_sleeper() -> None:
    woken = []
    requests = Requests(wake=lambda: woken.append(1))
    requests.ask("pause", "web")
    requests.ask("stop-now", "mqtt")
    assert [(r.action, r.by) for r in requests.clear()] == [("pause", "web"),
                                                            ("stop-now", "mqtt")]
    assert requests.take() is None and len(woken) == 2
    with pytest.raises(ValueError):
        requests.ask("jump")
    assert ACTIONS == ("stop", "stop-now", "pause", "resume")


def test_every_fault_code_says_what_to_do() -> None:
    assert set(FAULT_HELP) == set(p.FaultCode)
    for code, help_ in FAULT_HELP.items():
        assert help_.text.endswith(".") and len(help_.what_to_do) > 20, code


def test_the_sim_speed_option_and_its_url() -> None:
    port = open_port("sim://?speed=25")
    try:
        assert isinstance(port.clock, ScaledClock) and port.clock.speed == 25.0
        link = Link(port, port.clock)
        assert not link.can_wait  # ticks at the controller's period, as in real time
    finally:
        port.close()
    for bad in ("sim://?speed=0", "sim://?speed=500", "sim://?speed=2&clock=virtual"):
        with pytest.raises(UsageError):
            open_port(bad)
    assert sim_url("sim://", fast=False, seed=3, faults=(), speed=4) == \
        "sim://?speed=4&seed=3"
    assert sim_url("sim://", fast=False, seed=None, faults=()) == "sim://"
    with pytest.raises(UsageError, match="--speed"):
        sim_url("/dev/ttyUSB0", fast=False, seed=None, faults=(), speed=2)
    with pytest.raises(UsageError):
        sim_url("sim://", fast=True, seed=None, faults=(), speed=2)


def test_the_shared_port_lets_a_write_through_between_reads() -> None:
    shared = SharedPort(serial.serial_for_url("loop://", timeout=0))
    shared.write(b"abc")
    assert shared.in_waiting == 3 and shared.read(3) == b"abc"
    assert shared.port == "loop://"  # everything else is the port's
    shared.close()


def test_a_stuck_subscriber_keeps_only_the_newest_and_holds_nobody_up() -> None:
    publisher = Publisher()
    release, got = threading.Event(), []
    publisher.subscribe(lambda s: (release.wait(5), got.append(s["n"])), {"n": -1})
    fast: list[int] = []
    publisher.subscribe(lambda s: fast.append(s["n"]), None)
    real = time.monotonic()
    for n in range(100):
        publisher.publish({"n": n})
    assert time.monotonic() - real < 0.5
    deadline = time.monotonic() + 5
    while (not fast or fast[-1] != 99) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fast[-1] == 99 and fast == sorted(fast)  # in order, the newest last
    release.set()
    while len(got) < BACKLOG + 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert got[-1] == 99 and len(got) <= BACKLOG + 1
    publisher.close()
