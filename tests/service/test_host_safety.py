"""The real host's safety, judged on the simulated plant's truth: the emergency stop goes
out at once whatever the chair thread is doing, a reset only when the device accepts,
close() parks, a crash ends at rest, a host that dies leaves the chair to the device's
dead-man, and no subscriber can hold the controller up."""

from __future__ import annotations

import threading
import time

import pytest

from chair import protocol as p
from chair.service.api import ErrorCode, ServiceError, StartRequest
from chair.service.host import ChairHost
from tests.service.hosts import (
    Recorder,
    at_rest,
    make_host,
    read_on,
    sim_port,
    state_is,
    vented,
    wait_for,
)

F = p.FaultCode


@pytest.fixture
def host(tmp_path):
    host = make_host(tmp_path / "sessions")
    yield host
    host.close()


def start(host: ChairHost, program: str = "lumbar", **fields) -> dict:
    return host.start(StartRequest(program, acknowledged=True, by="web", **fields))


def running_with_air(host: ChairHost) -> None:
    """Start lumbar and wait until its airbags are filling (something to stop)."""
    start(host)
    plant = sim_port(host).device.plant
    wait_for(lambda: plant.pump_running or plant.bag_kpa.max() > 3.0, 30, "a bag filling")


class WriteTimes:
    """Wraps the simulated port's write: when each emergency-stop byte reached it."""

    def __init__(self, port) -> None:
        self.port, self.real = port, port.write
        self.estop_at: list[float] = []
        port.write = self

    def __call__(self, data) -> int:
        if p.ESTOP_BYTE in bytes(data):
            self.estop_at.append(time.perf_counter())
        return self.real(data)


def test_the_emergency_stop_latches_at_once_and_everything_rests(host) -> None:
    running_with_air(host)
    writes = WriteTimes(sim_port(host))
    asked = time.perf_counter()
    assert host.estop("web")["state"] == "estop"
    latency = writes.estop_at[0] - asked
    assert latency < 0.005, f"the stop byte left {latency * 1000:.2f} ms after the call"
    device = sim_port(host).device
    assert F.ESTOP in device.faults  # the device took it on receipt
    plant = device.plant
    wait_for(lambda: at_rest(plant) and vented(plant), 20, "the plant at rest, vented")
    wait_for(state_is(host, "estop"), 10, "the estop state")
    snapshot = host.status()
    assert snapshot["faults"][0]["code"] == "F01"
    assert "reset" in snapshot["faults"][0]["what_to_do"]
    wait_for(lambda: host.status()["can"]["reset"], 10, "reset allowed")
    assert not snapshot["can"]["start"]
    with pytest.raises(ServiceError) as caught:
        start(host)
    assert caught.value.code is ErrorCode.LATCHED
    events = [line for line in host.trace_path(snapshot["session"]["id"]).open()
              if '"user"' in line]
    assert '"stop-now"' in events[0] and '"web"' in events[0]
    assert host.reset("web")["state"] == "idle"
    assert not sim_port(host).device.faults and host.status()["can"]["start"]
    start(host)  # and a new session starts
    host.stop()


def test_the_stop_byte_does_not_wait_for_a_busy_chair_thread(host) -> None:
    """The chair thread held up (here inside its trace listener, as it could be in a
    handshake or a reset's wait): the byte still goes out within milliseconds."""
    running_with_air(host)
    held, release = threading.Event(), threading.Event()
    real = host._publish

    def slow(**how) -> None:
        if not release.is_set():
            held.set()
            release.wait(2.0)
        real(**how)

    host._publish = slow
    writes = WriteTimes(sim_port(host))
    try:
        assert held.wait(5.0)
        asked = time.perf_counter()
        host.estop("api")
        latency = writes.estop_at[0] - asked
    finally:
        release.set()
    assert latency < 0.005, f"{latency * 1000:.2f} ms"
    assert F.ESTOP in sim_port(host).device.faults
    wait_for(lambda: at_rest(sim_port(host).device.plant), 20, "the plant at rest")


def test_an_estop_with_no_session_latches_and_reset_clears_it(host) -> None:
    host.estop("mqtt")
    wait_for(state_is(host, "estop"), 10, "estop")
    assert F.ESTOP in sim_port(host).device.faults
    assert host.reset("mqtt")["state"] == "idle"
    assert host.status()["faults"] == []


def test_a_reset_the_device_refuses_is_refused_with_its_reason(tmp_path) -> None:
    host = make_host(tmp_path / "sessions", "sim://?fault=thermistor-open@0.5")
    try:
        wait_for(lambda: host.status()["faults"], 20, "the thermistor fault latched")
        fault = host.status()["faults"][0]
        assert fault["code"] == "F08" and fault["what_to_do"]
        with pytest.raises(ServiceError) as caught:
            host.reset("web")
        assert caught.value.code is ErrorCode.REFUSED
        assert "E11" in caught.value.message or "refused" in caught.value.message
        assert host.status()["faults"][0]["code"] == "F08"
    finally:
        host.close()


def test_close_parks_a_running_session_and_ends_its_trace(tmp_path) -> None:
    host = make_host(tmp_path / "sessions")
    running_with_air(host)
    port = sim_port(host)
    session = host.status()["session"]["id"]
    host.close()
    host.close()  # idempotent
    assert not port.is_open
    plant = port.device.plant
    assert at_rest(plant) and vented(plant) and plant.carriage_mm < 20.0  # parked home
    assert not port.device.faults
    listed = host.sessions()[0]
    assert listed["id"] == session and listed["outcome"] == "stopped"
    assert host.trace_path(session).read_text().rstrip().endswith("}")
    with pytest.raises(ServiceError):
        start(host)


def test_a_host_that_dies_mid_session_leaves_the_chair_to_the_dead_man(tmp_path) -> None:
    """The chair thread frozen mid-session, nothing cleaned up (as a killed process): the
    device, read on, latches F02 and puts the plant at rest."""
    host = make_host(tmp_path / "sessions")
    running_with_air(host)
    frozen = threading.Event()
    host._publish = lambda **how: frozen.wait()  # the chair thread never comes back
    port = sim_port(host)
    device = port.device
    wait_for(lambda: read_on(port).faults, 5, "the device's dead-man")
    assert F.DEADMAN in device.faults
    wait_for(lambda: at_rest(read_on(port).plant) and vented(device.plant), 20,
             "the plant at rest")
    frozen.set()
    host.close()


def test_a_crash_in_the_chair_thread_ends_at_rest(host, monkeypatch) -> None:
    running_with_air(host)
    from chair.service import chairloop

    def broken(**fields):
        raise RuntimeError("a bug in the snapshot")

    monkeypatch.setattr(chairloop.snapshot, "build", broken)
    port = sim_port(host)
    wait_for(lambda: not host._thread.is_alive(), 10, "the chair thread to end")
    monkeypatch.undo()
    plant = port.device.plant
    wait_for(lambda: at_rest(read_on(port).plant) and vented(plant), 20, "the plant at rest")
    assert F.DEADMAN not in port.device.faults  # the host stopped it, not the dead-man
    with pytest.raises(ServiceError) as caught:
        host.stop()
    assert caught.value.code is ErrorCode.LINK


def test_a_slow_subscriber_does_not_hold_the_controller_up(host) -> None:
    stuck = threading.Event()
    host.subscribe(lambda snapshot: stuck.wait(30))  # never returns while the test runs
    recorder = Recorder()
    host.subscribe(recorder)
    running_with_air(host)
    try:
        wait_for(lambda: (host.status()["session"]["step"] or {}).get("number") == 2, 60,
                 "the second step")
        assert host.status()["state"] == "running" and not sim_port(host).device.faults
        assert "running" in recorder.states()
    finally:
        stuck.set()
