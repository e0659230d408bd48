"""The ``sim://`` pyserial URL handler: options, clocks and pyserial's port behaviour."""

from __future__ import annotations

import time

import pytest
import serial
from serial.serialutil import PortNotOpenError

from chair import protocol as p
from chair.clock import MonotonicClock, VirtualClock
from chair.limits import DEVICE
from chair.ports import enable_sim
from sim.device import FIRMWARE, Device


@pytest.fixture(autouse=True)
def _sim_handler() -> None:
    enable_sim()


def open_sim(query: str = "clock=virtual", **kwargs) -> serial.SerialBase:
    return serial.serial_for_url(f"sim://?{query}" if query else "sim://", **kwargs)


def messages(data: bytes) -> list:
    return p.DeviceDecoder().feed(data)


def test_opens_through_serial_for_url_with_the_banner_first() -> None:
    port = open_sim()
    assert isinstance(port.device, Device) and isinstance(port.clock, VirtualClock)
    first = messages(port.read(1000))
    assert isinstance(first[0], p.Banner) and first[0].limits_crc == port.device.table_crc
    port.close()


def test_default_clock_is_real() -> None:
    port = open_sim("")
    assert isinstance(port.clock, MonotonicClock)
    port.close()


def test_virtual_read_never_blocks_and_never_moves_the_clock() -> None:
    port = open_sim(timeout=None)
    port.read(port.in_waiting)
    started = time.monotonic()
    assert port.read(100) == b""
    assert time.monotonic() - started < 0.1
    assert port.clock.now() == 0.0


def test_virtual_write_advances_the_device_to_now() -> None:
    port = open_sim()
    port.reset_input_buffer()
    port.clock.advance(1.25)
    port.write(b"?")
    status = messages(port.read(1000))
    assert [type(m) for m in status] == [p.StatusReport]
    assert status[0].t == pytest.approx(1.25)
    assert port.device.ticks == 125


def test_virtual_read_advances_the_device_to_now() -> None:
    port = open_sim()
    port.write(b"CONSOLE 1\nREPORT 100\n")
    port.reset_input_buffer()
    port.clock.advance(1.0)
    assert port.in_waiting > 0
    reports = [m for m in messages(port.read(port.in_waiting))
               if isinstance(m, p.StatusReport)]
    assert len(reports) == 10


def test_buffers_and_close_behave_like_pyserial() -> None:
    port = open_sim()
    assert port.in_waiting > 0  # the banner
    port.reset_input_buffer()
    assert port.in_waiting == 0
    port.reset_output_buffer()
    assert port.out_waiting == 0
    port.write(b"INFO\n")
    assert port.read(1).startswith(b"#")
    port.close()
    for action in (lambda: port.read(1), lambda: port.write(b"?"), lambda: port.in_waiting,
                   port.reset_input_buffer):
        with pytest.raises(PortNotOpenError):
            action()
    port.open()  # a new device: a new banner
    assert isinstance(messages(port.read(1000))[0], p.Banner)
    port.close()


def test_do_not_open_then_open() -> None:
    port = serial.serial_for_url("sim://?clock=virtual", do_not_open=True)
    assert not port.is_open and port.device is None
    port.open()
    assert port.is_open and port.in_waiting > 0
    with pytest.raises(serial.SerialException, match="already open"):
        port.open()


def test_options_reach_the_plant_and_the_device() -> None:
    port = open_sim("clock=virtual&height=182&stiffness=1.5&seated=0&seed=9&ambient=20"
                    "&fault=pinch@2&fault=power-cycle@3&defect=no-lease&quiet=0")
    dev = port.device
    body = dev.plant.body
    assert (body.height_cm, body.stiffness, body.seated) == (182.0, 1.5, False)
    assert dev.plant.seed == 9 and dev.plant.ambient_c == 20.0
    assert dev.defects == {"no-lease"} and not dev.quiet
    port.clock.advance(1.99)
    assert not port.device.plant.pinch and port.in_waiting
    port.clock.advance(0.02)
    port.reset_input_buffer()
    assert port.device.plant.pinch
    port.clock.advance(1.0)
    assert [type(m) for m in messages(port.read(1000))] == [p.Banner]  # the power cycle


def test_faults_scheduled_from_a_url_produce_their_fault() -> None:
    port = open_sim("clock=virtual&fault=thermistor-open@0.5")
    port.clock.advance(0.6)
    reports = [m for m in messages(port.read(1000)) if isinstance(m, p.FaultReport)]
    assert [m.code for m in reports] == [p.FaultCode.THERMISTOR]


@pytest.mark.parametrize(("query", "words"), [
    ("colour=red", ["'colour'", "height", "defect"]),
    ("clock=fast", ["clock='fast'", "real or virtual"]),
    ("height=300", ["height='300'", "150", "210"]),
    ("height=tall", ["height='tall'"]),
    ("stiffness=9", ["stiffness='9'", "0.5"]),
    ("seated=maybe", ["seated='maybe'", "1 or 0"]),
    ("seed=1.5", ["seed='1.5'", "whole number"]),
    ("seed=1&seed=2", ["'seed' given twice"]),
    ("fault=meltdown@3", ["fault='meltdown@3'", "pump-stuck-on"]),
    ("fault=pinch", ["fault='pinch'", "NAME@SECONDS"]),
    ("defect=no-brakes", ["defect='no-brakes'", "no-deadman", "corrupt-limits"]),
    ("ambient=nan", ["ambient='nan'"]),
])
def test_bad_options_name_the_option_and_what_is_accepted(query: str, words: list) -> None:
    with pytest.raises(serial.SerialException) as caught:
        open_sim(query)
    for word in words:
        assert word in str(caught.value)


def test_a_path_in_the_url_is_refused() -> None:
    with pytest.raises(serial.SerialException, match="options after"):
        serial.serial_for_url("sim://chair1")


def test_real_clock_read_waits_up_to_the_timeout() -> None:
    port = open_sim("clock=real", timeout=0.05)
    port.read(port.in_waiting)
    started = time.monotonic()
    assert port.read(10) == b""
    assert 0.04 <= time.monotonic() - started < 0.5
    port.timeout = 0
    assert port.read(10) == b""
    port.close()


def test_real_clock_read_keeps_the_device_running() -> None:
    port = open_sim("clock=real", timeout=0.3)
    port.write(b"CONSOLE 1\nREPORT 50\n")
    port.reset_input_buffer()
    data = port.read(100_000)  # blocks the whole timeout: reports arrive meanwhile
    reports = [m for m in messages(data) if isinstance(m, p.StatusReport)]
    assert 3 <= len(reports) <= 8
    assert reports[-1].t > reports[0].t
    port.close()


def test_real_clock_read_returns_as_soon_as_enough_arrived() -> None:
    port = open_sim("clock=real", timeout=2.0)
    port.read(port.in_waiting)
    port.write(b"CONSOLE 1\nREPORT 100\n")
    port.read(port.in_waiting)
    started = time.monotonic()
    line = port.readline()
    assert line.startswith(b"<") and time.monotonic() - started < 0.5
    port.close()


def test_the_link_connects_over_sim() -> None:
    from chair.link import Link

    port = open_sim()
    link = Link(port, port.clock)
    info = link.connect()
    assert info.banner.firmware == FIRMWARE
    assert info.limits == DEVICE
    port.close()
