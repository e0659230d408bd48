"""A bad wire: `sim.linkfaults.FaultyPort`, the `faulty://` handler and `chair run --link-fault`.

Reliability issue, part 2: byte errors in both directions, host silence, device silence and
a port that vanishes mid-run. Every run here is fast-forwarded on the virtual clock.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import numpy as np
import pytest
import serial
from test_fault_injection import Truth, check_safe_run, fault_time, truth  # noqa: F401

from chair import protocol as p
from chair import runner
from chair.cli import main
from chair.clock import VirtualClock
from chair.errors import UsageError
from chair.faults import parse_link_fault
from chair.ports import open_port
from chair.runner import link_fault_url
from chair.trace import read_trace
from firmware.device import Firmware
from sim.linkfaults import FaultyPort, Impairment
from sim.protocol_faulty import parse_url

SIM = "sim://?clock=virtual"


def faulty(query: str, inner: str = SIM) -> str:
    return f"faulty://?{query}{'&' if query else ''}port={urllib.parse.quote(inner, safe='')}"


class Loop:
    """A perfect wire that hands back what was written (what `loop://` does), on a clock."""

    port = "loop"
    is_open = True

    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)

    @property
    def in_waiting(self) -> int:
        return len(self.data)

    def read(self, size: int = 1) -> bytes:
        out = bytes(self.data[:size])
        del self.data[:size]
        return out

    def close(self) -> None:
        self.is_open = False


def through(port: FaultyPort, data: bytes, chunk: int = 97) -> bytes:
    for i in range(0, len(data), chunk):
        port.write(data[i:i + chunk])
    return port.read(port.in_waiting)


DATA = bytes(range(256)) * 400  # 102,400 bytes


# --------------------------------------------------------------------------- the wrapper


def test_a_clean_wrapper_changes_nothing() -> None:
    port = FaultyPort(Loop())
    assert through(port, DATA) == DATA
    assert port.stats["tx"]["bytes"] == len(DATA) == port.stats["rx"]["bytes"]


@pytest.mark.parametrize("direction", ["rx", "tx"])
def test_drop_rate_is_per_byte_and_one_direction_only(direction: str) -> None:
    port = FaultyPort(Loop(), **{direction: Impairment(drop=0.1)}, seed=1)
    out = through(port, DATA)
    lost = port.stats[direction]["dropped"]
    assert len(out) == len(DATA) - lost
    assert abs(lost / len(DATA) - 0.1) < 0.01
    other = "tx" if direction == "rx" else "rx"
    assert port.stats[other]["dropped"] == 0


def test_corrupt_flips_exactly_one_bit_of_a_byte() -> None:
    port = FaultyPort(Loop(), tx=Impairment(corrupt=0.01), seed=2)
    out = through(port, DATA)
    assert len(out) == len(DATA)
    diff = np.frombuffer(out, np.uint8) ^ np.frombuffer(DATA, np.uint8)
    hit = diff[diff != 0]
    assert len(hit) == port.stats["tx"]["corrupted"] > 500
    assert all(bin(int(x)).count("1") == 1 for x in hit)


def test_dup_sends_a_byte_twice_in_place() -> None:
    port = FaultyPort(Loop(), rx=Impairment(dup=0.05), seed=3)
    out = through(port, b"abcdefghij" * 1000)
    assert len(out) == 10_000 + port.stats["rx"]["duplicated"]
    assert bytes(dict.fromkeys(out)) == b"abcdefghij"  # order kept
    assert b"aa" in out or b"bb" in out


def test_same_seed_same_damage_other_seed_other_damage() -> None:
    def damaged(seed: int) -> bytes:
        imp = Impairment(drop=0.01, corrupt=0.01, dup=0.01)
        return through(FaultyPort(Loop(), rx=imp, tx=imp, seed=seed), DATA)

    assert damaged(7) == damaged(7) != damaged(8)


def test_latency_and_stalls_delay_bytes_on_the_port_clock_in_order() -> None:
    loop = Loop()
    port = FaultyPort(loop, rx=Impairment(latency_ms=200, delay=0.01, delay_ms=50), seed=4)
    port.write(DATA[:5000])
    assert port.in_waiting == 0
    loop.clock.advance(0.199)
    assert port.in_waiting == 0
    loop.clock.advance(0.002)
    first = port.read(100_000)
    assert 0 < len(first) < 5000  # the bytes before the first stall
    loop.clock.advance(0.05 * port.stats["rx"]["stalled"] + 0.01)
    assert first + port.read(100_000) == DATA[:5000]


def test_noise_starts_at_its_time() -> None:
    loop = Loop()
    port = FaultyPort(loop, tx=Impairment(drop=1.0), noise_at=1.0)
    assert through(port, b"hello") == b"hello"
    loop.clock.advance(1.0)
    assert through(port, b"hello") == b""


def test_vanish_raises_serial_exception_on_every_call() -> None:
    loop = Loop()
    port = FaultyPort(loop, vanish_at=2.0)
    assert through(port, b"ok") == b"ok"
    loop.clock.advance(2.0)
    for call in (lambda: port.read(1), lambda: port.write(b"x"), lambda: port.in_waiting,
                 port.reset_input_buffer):
        with pytest.raises(serial.SerialException, match="disconnected"):
            call()
    port.close()  # closing a vanished port is fine


def test_silence_swallows_host_writes_and_mute_drops_device_bytes() -> None:
    loop = Loop()
    port = FaultyPort(loop, silence_at=1.0)
    loop.clock.advance(1.0)
    assert port.write(b"hello") == 5 and not loop.data
    assert port.stats["tx"]["swallowed"] == 5
    loop = Loop()
    port = FaultyPort(loop, mute_at=0.0)
    port.write(b"hello")
    assert port.read(10) == b"" and port.stats["rx"]["muted"] == 5


def test_impairment_rejects_bad_rates() -> None:
    with pytest.raises(ValueError, match="drop"):
        Impairment(drop=1.5)
    with pytest.raises(ValueError, match="latency_ms"):
        Impairment(latency_ms=-1)


# --------------------------------------------------------------------------- the URL


def test_url_options_per_direction_and_for_both() -> None:
    options = parse_url(faulty("drop=0.01&rx.drop=0.5&tx.corrupt=0.1&delay_ms=20&seed=3"
                               "&vanish_at=60&silence_at=30"))
    assert options["rx"] == Impairment(drop=0.5, delay_ms=20)
    assert options["tx"] == Impairment(drop=0.01, corrupt=0.1, delay_ms=20)
    assert (options["seed"], options["vanish_at"], options["silence_at"]) == (3, 60.0, 30.0)
    assert options["mute_at"] is None and options["port"] == SIM


@pytest.mark.parametrize(("url", "part"), [
    ("faulty://?drop=0.1", "needs port"),
    (faulty("drop=2"), "drop='2'"),
    (faulty("drip=0.1"), "'drip'"),
    (faulty("vanish_at=-3"), "vanish_at='-3'"),
    (faulty("seed=x"), "seed='x'"),
    (faulty("drop=0.1&drop=0.2"), "twice"),
    (faulty("", "faulty://?port=sim%3A%2F%2F"), "another faulty"),
    ("faulty://host?drop=0.1", "options after '?'"),
])
def test_bad_urls_name_the_option(url: str, part: str) -> None:
    with pytest.raises(serial.SerialException) as info:
        parse_url(url)
    assert part in str(info.value)


def test_the_port_passes_the_clock_and_the_device_through() -> None:
    port = open_port(faulty("corrupt=0.01"))
    try:
        assert port.clock.virtual and port.device is not None
        assert port.read(200).startswith(b"#CHAIR")  # the banner, on the virtual clock
    finally:
        port.close()


def test_a_bad_inner_port_is_a_link_error() -> None:
    with pytest.raises(Exception, match="does-not-exist"):
        open_port(faulty("drop=0.1", "/dev/does-not-exist"))


@pytest.mark.parametrize(("spec", "option"), [
    ("drop=0.001", ("drop", "0.001")), ("rx.corrupt=0.5", ("rx.corrupt", "0.5")),
    ("vanish@60", ("vanish_at", "60")), (" silence @ 30 ", ("silence_at", "30")),
    ("noise@2", ("noise_at", "2")), ("seed=4", ("seed", "4")),
])
def test_link_fault_specs(spec: str, option: tuple[str, str]) -> None:
    assert parse_link_fault(spec) == option


def test_link_fault_url_wraps_the_port_and_keeps_sim_options() -> None:
    url = link_fault_url("sim://?height=180", ("drop=0.01", "vanish@60"))
    assert url.startswith("faulty://?drop=0.01&vanish_at=60&port=")
    wrapped = runner.sim_url(url, fast=True, seed=3, faults=("pinch@5",))
    inner = parse_url(wrapped)["port"]
    query = urllib.parse.parse_qs(inner.partition("?")[2])
    assert query == {"height": ["180"], "clock": ["virtual"], "seed": ["3"],
                     "fault": ["pinch@5"]}
    with pytest.raises(UsageError, match="given twice"):
        link_fault_url("sim://", ("drop=0.1", "drop=0.2"))


# --------------------------------------------------------------------------- whole runs


def run_lumbar(tmp_path: Path, *link_faults: str) -> tuple[int, list[dict]]:
    trace = tmp_path / "t.jsonl"
    args = ["run", "lumbar", "--fast", "--trace", str(trace)]
    for spec in link_faults:
        args += ["--link-fault", spec]
    return main(args), read_trace(str(trace))


@pytest.fixture
def actuations(monkeypatch) -> list[tuple[float, p.Command]]:
    """Every actuate command the simulated device executed, with its device time."""
    done: list[tuple[float, p.Command]] = []
    real = Firmware.actuate

    def actuate(self, verb: str, args: tuple, now: float) -> None:
        real(self, verb, args, now)  # raises when refused: only executed commands are kept
        done.append((now, p.COMMANDS[verb](*args)))

    monkeypatch.setattr(Firmware, "actuate", actuate)
    return done


def turns_on(command: p.Command) -> bool:
    """The command starts or keeps something moving (not a return to rest)."""
    match command:
        case p.SetAir(kpa=kpa) | p.SetHeat(target_c=kpa):
            return kpa > 0
        case p.SetRoller(technique=technique):
            return technique != "off"
        case p.SetFoot(speed=speed):
            return speed > 0
    return True


#: The device stops by itself once the leases of its last setpoints run out.
LEASE_BOUND_S = 2.0 + 0.3


def check_no_actuation_after_fault(records: list[dict], actuations: list, device) -> None:
    """No actuation is executed once the controller has faulted (the trace's time is the
    device's: both start at 0 on the port's virtual clock), nothing runs past the lease
    bound, and the device ends with nothing set."""
    faulted = fault_time(records)
    if faulted is not None:
        late = [(t, c.wire()) for t, c in actuations if t > faulted + 1e-9 and turns_on(c)]
        assert not late, late[:3]
    device.advance_to(device.clock.now() + LEASE_BOUND_S)  # the chair on its own after
    assert not device.setpoints() and device.state != "Run"


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("noise_at", [None, 2.0])
def test_byte_errors_both_ways_complete_or_fault_safely(tmp_path: Path, truth: Truth,  # noqa: F811
                                                        ports: list, actuations: list,
                                                        seed: int,
                                                        noise_at: float | None) -> None:
    """1e-3 per byte lost and 1e-3 corrupted, both ways, from the start or from 2 s on: the
    handshake gets through (tests/test_connect_noise.py), then the session runs until a
    damaged byte may end it safely (an estop made by a bit flip, F03, a refused line)."""
    specs = ["drop=0.001", "corrupt=0.001", f"seed={seed}"]
    if noise_at is not None:
        specs.append(f"noise@{noise_at:g}")
    code, records = run_lumbar(tmp_path, *specs)
    assert code in (0, 3, 4), records[-1]
    assert records[-1]["type"] == "end"
    if any(r["type"] == "sample" for r in records):
        check_safe_run(records, truth, stop_within_s=LEASE_BOUND_S)
    check_no_actuation_after_fault(records, actuations, ports[-1].device)
    stats = ports[-1].faulty.stats
    if noise_at is not None:
        assert any(r.get("event") == "step" for r in records)  # the session ran
        assert stats["tx"]["dropped"] + stats["tx"]["corrupted"] > 0
        assert stats["rx"]["dropped"] + stats["rx"]["corrupted"] > 0


def test_host_silence_trips_the_devices_deadman_within_500_ms_and_a_tick() -> None:
    """The host stops talking at 2 s: the device vents by itself, checked on the device."""
    port = open_port(faulty("silence_at=2"))
    clock, device = port.clock, port.device
    seq = 0

    def send(command: p.Command) -> None:
        nonlocal seq
        seq += 1
        port.write(p.encode_command(command, seq))

    try:
        send(p.Sync())
        send(p.SetAir("lumbar", 20.0, 2000))
        last_heard = clock.now()
        tripped = None
        while clock.now() < 4.0 and tripped is None:
            clock.advance(0.01)
            port.read(port.in_waiting)  # the device runs up to now
            if round(clock.now() * 100) % 25 == 0:  # the controller's RENEW cadence
                send(p.Renew(1500))
                if clock.now() < 2.0:
                    last_heard = clock.now()
            if p.FaultCode.DEADMAN in device.faults:
                tripped = clock.now()
        assert tripped is not None, "the dead-man never tripped"
        deadman_s = device.fw.leases.deadman_s
        assert deadman_s - 1e-9 <= tripped - last_heard <= deadman_s + device.tick_s + 1e-9
        plant = device.plant
        assert plant.vent_open.all() and not plant.pump_on and device.air_target[2] == 0.0
        clock.advance(2.0)
        port.read(port.in_waiting)
        assert plant.bag_kpa.max() < 1.0
    finally:
        port.close()


def test_host_silence_in_a_run_is_the_deadman_fault(tmp_path: Path, truth: Truth) -> None:  # noqa: F811
    code, records = run_lumbar(tmp_path, "silence@60")
    assert code == 3
    fault = next(r for r in records if r.get("event") == "device-fault")
    # the last line the device heard came at most one RENEW period (0.25 s) before 60 s
    assert fault["code"] == "F02 deadman" and 60.5 - 0.25 <= fault["t"] <= 60.5 + 0.06
    check_safe_run(records, truth)


def test_port_vanishing_mid_run_exits_4_with_a_clear_message(tmp_path: Path, ports: list,
                                                             capsys) -> None:
    code, records = run_lumbar(tmp_path, "vanish@60")
    assert code == 4
    err = capsys.readouterr().err
    assert "link lost" in err and "disconnected" in err and "faulty://" in err
    assert records[0]["type"] == "header" and not records[0].get("incomplete")
    end = records[-1]
    assert end["type"] == "end" and end["state"] == "disconnected"
    assert end["reason"].startswith("link lost") and 60.0 <= end["t"] <= 60.1
    assert any(r.get("event") == "fault" and r["source"] == "link" for r in records)
    # the chair, left alone, stops itself: its dead-man trips and it vents
    device = ports[-1].device
    device.advance_to(device.clock.now() + 2.0)
    assert p.FaultCode.DEADMAN in device.faults and not device.setpoints()
    assert device.plant.bag_kpa.max() < 1.0


def test_device_silence_is_a_link_fault_within_a_second(tmp_path: Path, capsys) -> None:
    code, records = run_lumbar(tmp_path, "mute@60")
    assert code == 4
    fault = next(r for r in records if r.get("event") == "fault")
    assert fault["source"] == "link" and 60.0 < fault["t"] <= 60.0 + 1.0 + 0.15
    assert records[-1]["reason"].startswith("link lost")
    assert "no valid report" in capsys.readouterr().err
    # the controller sent nothing but its STOP once it gave up on the link
    after = [r for r in records if r.get("event") == "step" and r["t"] > fault["t"]]
    assert not after


def test_device_silent_from_the_start_never_connects(tmp_path: Path, ports: list) -> None:
    code, records = run_lumbar(tmp_path, "rx.drop=1")
    assert code == 4
    assert "no answer to INFO" in records[-1]["reason"]
    assert not ports[-1].device.active  # nothing was ever actuated


class _Damage:
    """A port whose first RENEW written after `after_s` has its `*` turned into `:` (one bit
    flip): the line loses its CRC, so the device cannot trust its sequence number."""

    def __init__(self, inner, after_s: float) -> None:
        self.inner, self.after_s, self.done, self.writes = inner, after_s, False, 0

    def write(self, data: bytes) -> int:
        self.writes += 1
        if self.writes > 20_000:  # a resend storm (E05 for ever): fail, do not hang
            raise serial.SerialException("resend storm: over 20,000 writes")
        if not self.done and b"RENEW" in data and self.inner.clock.now() >= self.after_s:
            self.done = True
            data = data.replace(b"*", b":")
        return self.inner.write(data)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_a_renew_that_lost_its_crc_is_resent(tmp_path: Path,
                                                               monkeypatch) -> None:
    real = runner.open_port
    monkeypatch.setattr(runner, "open_port", lambda url, **kw: _Damage(real(url, **kw), 30.0))
    code, records = run_lumbar(tmp_path)
    assert code == 0, records[-1]  # the damaged RENEW is resent; nothing else is disturbed
    assert fault_time(records) is None
