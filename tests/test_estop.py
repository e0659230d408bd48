"""Protocol 2's emergency stop: no single bit error in line traffic can make it (issue 9,
item 7), while a `!` typed at a terminal still stops the chair at once.

In protocol 1 the stop was `!` (0x21), one bit from the space (0x20) and `1` (0x31) that
fill every host line: at 1e-3 byte corruption half of all lumbar sessions ended in a
latched F01. Protocol 2 stops on 0x9E, whose single-bit neighbours are none of them line
traffic, and takes `!` as a stop only outside a live host session (in console mode, or
once the host has sent no line with a valid CRC for `deadman_ms`). docs/protocol.md §10.1.
"""

from __future__ import annotations

import json

import pytest
import serial

from chair import protocol as p
from chair.cli import main
from chair.clock import VirtualClock
from chair.errors import LinkError
from chair.limits import DEVICE
from chair.link import Link
from chair.ports import open_port
from sim.body import Body
from sim.device import Device
from sim.physics import Plant

F = p.FaultCode
#: Line traffic: what a host's lines are made of (printable ASCII, CR, LF).
LINE_TRAFFIC = frozenset(range(0x20, 0x7F)) | {0x0A, 0x0D}
DEADMAN_S = DEVICE["deadman_ms"] / 1000.0
STOP, TYPED = bytes([p.ESTOP_BYTE]), bytes([p.TYPED_ESTOP_BYTE])


def neighbours(byte: int) -> set[int]:
    """The bytes one flipped bit away from `byte`."""
    return {byte ^ (1 << bit) for bit in range(8)}


# --------------------------------------------------------------------------- the byte


def test_no_single_bit_error_in_line_traffic_makes_the_stop_byte() -> None:
    assert p.ESTOP_BYTE not in LINE_TRAFFIC
    assert not neighbours(p.ESTOP_BYTE) & LINE_TRAFFIC
    assert not any(p.ESTOP_BYTE in neighbours(b) for b in LINE_TRAFFIC)
    assert p.ESTOP_BYTE not in neighbours(p.STATUS_BYTE)  # nor a flipped `?`
    two = {n ^ (1 << bit) for n in neighbours(p.ESTOP_BYTE) for bit in range(8)}
    assert two & LINE_TRAFFIC == set(b">^")  # two bits: only bytes no host line holds


def test_protocol_1s_stop_is_one_bit_from_the_space_and_the_digit_one() -> None:
    """Why protocol 2 exists (the neighbour table of docs/protocol.md §10.1)."""
    assert neighbours(p.TYPED_ESTOP_BYTE) & LINE_TRAFFIC == set(b" #%)1a")


def test_the_documented_neighbour_table_is_the_truth() -> None:
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text()
    for stop in (p.TYPED_ESTOP_BYTE, p.ESTOP_BYTE):
        row = " ".join(f"0x{n:02X}" for n in sorted(neighbours(stop)))
        assert row in text, row
        traffic = " ".join(f"0x{n:02X}" for n in sorted(neighbours(stop) & LINE_TRAFFIC))
        assert f"line traffic: {traffic or 'none'}" in text, traffic


def _frames() -> list[bytes]:
    """A host session's lines, as the `chair` link sends them."""
    commands = [p.Sync(), p.SetReport(100), p.SetRecline(40.0, 60.0, 1500),
                p.SetRoller(512.0, "knead", 2, 3, 4, 1500), p.SetAir("lumbar", 12.0, 1500),
                p.SetHeat("lumbar", 38.0, 1500), p.SetFoot(2, 1500), p.Renew(1500), p.Stop()]
    return [p.encode_command(c, seq) for seq, c in enumerate(commands, start=1)]


def _flips(line: bytes):
    for index in range(len(line)):
        for bit in range(8):
            flipped = bytearray(line)
            flipped[index] ^= 1 << bit
            yield bytes(flipped)


def test_in_a_host_session_no_flipped_bit_of_any_line_is_a_stop() -> None:
    """Exhaustive over every bit of a session's lines: the session decoder (protocol 2)
    never reports a stop; protocol 1's decoder does (the `before`)."""
    v2, v1, stops_v1 = p.HostDecoder(2), p.HostDecoder(1), 0
    v2.session = True
    for line in _frames():
        for flipped in _flips(line):
            for event in v2.feed(flipped + b"\n"):
                assert not (isinstance(event, p.RealTime) and event.byte != p.STATUS_BYTE), \
                    (flipped, event)
            stops_v1 += sum(isinstance(e, p.RealTime) and e.byte == p.TYPED_ESTOP_BYTE
                            for e in v1.feed(flipped + b"\n"))
    assert stops_v1 > 20


def test_the_session_decides_what_bang_is() -> None:
    line = p.encode_command(p.SetAir("lumbar", 12.0, 2000), 7)
    with_bang = line[:9] + b"!" + line[9:]
    decoder = p.HostDecoder()
    assert decoder.feed(with_bang) == [p.RealTime(p.TYPED_ESTOP_BYTE),
                                       p.Frame(7, p.SetAir("lumbar", 12.0, 2000), True)]
    decoder.session = True
    (event,) = decoder.feed(with_bang)
    assert isinstance(event, p.BadLine) and event.code is p.ErrorCode.BAD_CRC
    assert decoder.feed(line[:9] + STOP + line[9:]) == [
        p.RealTime(p.ESTOP_BYTE), p.Frame(7, p.SetAir("lumbar", 12.0, 2000), True)]
    old = p.HostDecoder(1)
    old.session = True  # protocol 1 has no sessions: `!` always stops, 0x9E is a bad byte
    assert old.feed(with_bang)[0] == p.RealTime(p.TYPED_ESTOP_BYTE)
    assert old.feed(line[:9] + STOP + line[9:])[0].code is p.ErrorCode.BAD_BYTE
    with pytest.raises(ValueError, match="protocol 3"):
        p.HostDecoder(3)


# --------------------------------------------------------------------------- the device


class Host:
    """A host talking straight to a `Device` on a virtual clock."""

    def __init__(self, proto: int = p.PROTOCOL_VERSION) -> None:
        self.clock = VirtualClock()
        self.dev = Device(self.clock, Plant(Body()), proto=proto)
        self.decoder = p.DeviceDecoder()
        self.seq = 0
        self.read()

    def read(self) -> list:
        self.dev.advance_to(self.clock.now())
        return self.decoder.feed(self.dev.read_output())

    def raw(self, data: bytes) -> list:
        self.dev.receive(data)
        return self.read()

    def send(self, command: p.Command) -> list:
        self.seq += 1
        return self.raw(p.encode_command(command, self.seq))

    def start(self) -> None:
        """Synced, the foot rollers on, renewed: a live host session with an output on."""
        assert p.Ok(1) in self.send(p.Sync())
        assert p.Ok(2) in self.send(p.SetFoot(2, 2000))

    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.read()

    @property
    def stopped(self) -> bool:
        return F.ESTOP in self.dev.faults and self.dev.plant.foot_speed == 0


def test_a_host_session_stops_on_the_stop_byte_at_once_even_mid_line() -> None:
    host = Host()
    host.start()
    line = p.encode_command(p.SetFoot(3, 2000), 3)
    events = host.raw(line[:6] + STOP + line[6:])
    assert events[0] == p.FaultReport(F.ESTOP, events[0].detail)  # ahead of the reply
    assert events[1] == p.Error(3, p.ErrorCode.ESTOPPED, events[1].detail)
    assert host.stopped


def test_a_host_session_takes_bang_as_line_data() -> None:
    host = Host()
    host.start()
    line = p.encode_command(p.Renew(2000), 3)
    events = host.raw(line[:4] + b"!" + line[4:])
    assert events == [p.Error(None, p.ErrorCode.BAD_CRC, events[0].detail)]
    assert F.ESTOP not in host.dev.faults and host.dev.plant.foot_speed == 2
    assert host.raw(b"!\n")[0].code is p.ErrorCode.UNKNOWN_COMMAND
    assert not host.dev.faults


def test_bang_typed_at_a_terminal_stops_at_once() -> None:
    host = Host()
    assert host.raw(b"info\r\nCONSOLE 1\r\nfoot 2 2000\r\n")[-1] == p.Ok(None)
    assert host.dev.plant.foot_speed == 2
    assert host.raw(b"!")[0].code is F.ESTOP
    assert host.stopped


def test_a_host_handshake_is_a_session_before_sync() -> None:
    """A line with a valid CRC is a program talking (people do not type CRCs): from the
    first one, `!` is line data, also during the handshake before SYNC."""
    host = Host()
    host.raw(p.encode_command(p.QueryInfo()))
    events = host.raw(b"LIM!ITS*AA3C\n")
    assert [type(e) for e in events] == [p.Error] and not host.dev.faults
    host.wait(DEADMAN_S + 0.01)
    assert host.raw(b"!")[0].code is F.ESTOP


def test_bang_typed_in_console_mode_after_a_session_stops_at_once() -> None:
    host = Host()
    host.start()
    host.raw(b"CONSOLE 1\r\n")
    assert host.raw(b"!")[0].code is F.ESTOP and host.stopped


def test_bang_stops_again_once_the_host_has_fallen_silent() -> None:
    """A host that died leaves no session behind: a person who opens a terminal can stop the
    chair with `!` after `deadman_ms` (the dead-man has stopped the outputs by then)."""
    host = Host()
    host.start()
    host.wait(DEADMAN_S - 0.05)
    assert not [e for e in host.raw(b"!") if isinstance(e, p.FaultReport)]
    assert host.dev.plant.foot_speed == 2
    host.wait(0.06)
    assert host.raw(b"!")[0].code is F.ESTOP


def test_in_a_host_session_no_flipped_bit_stops_the_device() -> None:
    """Every single-bit error of every line of a session, fed to a synced device in a live
    host session (a valid framed line before each): protocol 2 never latches F01; protocol
    1 does, again and again (the issue's 49 % of sessions)."""
    keepalive = p.encode_command(p.QueryStatus(), None)
    latched = {}
    for proto in (1, 2):
        host, stops = Host(proto), 0
        host.start()
        for line in _frames()[1:]:
            for flipped in _flips(line):
                host.clock.advance(0.01)
                host.raw(keepalive)
                host.raw(flipped + b"\n")
                if host.dev.faults:  # F01, or F03 after three bad lines: start afresh
                    stops += F.ESTOP in host.dev.faults
                    assert p.Ok(host.seq + 1) in host.send(p.Reset())
        latched[proto] = stops
    assert latched[2] == 0 and latched[1] > 20, latched


def test_a_protocol_1_device_stops_on_bang_only() -> None:
    host = Host(proto=1)
    host.start()
    host.raw(STOP + b"\n")
    assert F.ESTOP not in host.dev.faults
    assert host.raw(b"!")[0].code is F.ESTOP and host.stopped


# --------------------------------------------------------------------------- the host


@pytest.mark.parametrize("proto, byte", [(1, p.TYPED_ESTOP_BYTE), (2, p.ESTOP_BYTE)])
def test_the_link_reads_the_version_and_sends_that_versions_stop(proto, byte) -> None:
    port = open_port(f"sim://?clock=virtual&proto={proto}")
    link = Link(port, port.clock)
    info = link.connect()
    assert info.banner.proto == proto == link.proto
    link.send(p.SetFoot(2, 2000))
    port.clock.advance(0.05)
    link.poll()
    assert port.device.plant.foot_speed == 2
    written = []
    port.write = lambda data, real=port.write: written.append(bytes(data)) or real(data)
    link.estop()
    assert written == [bytes([byte])]
    assert F.ESTOP in port.device.faults and port.device.plant.foot_speed == 0
    port.close()


def test_the_link_refuses_an_unknown_version() -> None:
    port = open_port("sim://?clock=virtual")
    banner = p.Banner(3, "future", ("lumbar",), (), 1250.0, 850.0, 0x216B)
    port.device.fw.banner = p.encode_device(banner)  # a device from the future answers INFO
    with pytest.raises(LinkError, match="protocol 3, this host speaks 1 and 2"):
        Link(port, port.clock).connect()
    port.close()


def test_the_sim_url_offers_both_versions() -> None:
    with pytest.raises(serial.SerialException, match="1 or 2"):
        serial.serial_for_url("sim://?proto=3")


@pytest.mark.parametrize("proto", [1, 2])
def test_the_host_drives_either_version_through_a_whole_run(tmp_path, proto) -> None:
    trace = tmp_path / "t.jsonl"
    assert main(["run", "lumbar", "--fast", "--port", f"sim://?proto={proto}",
                 "--trace", str(trace)]) == 0
    header = json.loads(trace.read_text().splitlines()[0])
    assert header["versions"]["protocol"] == proto


@pytest.mark.parametrize("seed", range(5))
def test_a_corrupting_wire_no_longer_stops_a_lumbar_session(tmp_path, seed) -> None:
    """The issue's input: `--link-fault tx.corrupt=0.001`; half of these sessions ended in a
    latched emergency stop (seeds 0, 2 and 3 of these five among them)."""
    trace = tmp_path / "t.jsonl"
    main(["run", "lumbar", "--fast", "--link-fault", "tx.corrupt=0.001", "--link-fault",
          f"seed={seed}", "--trace", str(trace)])
    assert "F01" not in trace.read_text() and '"estop"' not in trace.read_text()


# --------------------------------------------------------------------------- spurious stops


def _soak():
    import sys
    from pathlib import Path
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:  # `benchmarks` is not an installed package
        sys.path.insert(0, root)
    from benchmarks import soak
    return soak


def test_the_soak_counts_stops_and_can_speak_protocol_1() -> None:
    """The measuring tool: protocol 1 under bit flips latches stops the soak never asked for."""
    soak = _soak()
    # (seed 3: a bit flip that makes the old stop byte is rare, about one per 0.1 h; with
    # issue 10's herniated-disc traffic seed 1 happens to draw none in 0.1 h)
    old = soak.run(hours=0.1, seed=3, proto=1, flips_only=True)
    new = soak.run(hours=0.1, seed=3, flips_only=True)
    assert old.estops > 0 and new.estops == 0, (old.estops, new.estops)
    assert old.as_dict()["estops_per_h"] > 1


@pytest.mark.slow
def test_an_hour_of_bit_flips_latches_no_stop() -> None:
    """Issue 9's target: at most 0.1 spurious stops an hour at 1e-3 byte corruption."""
    result = _soak().run(hours=2, seed=5, flips_only=True)
    assert result.estops == 0 and result.tally.violations == []
