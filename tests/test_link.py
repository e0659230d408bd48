"""The host link: numbering, CRC, go-back-N resend, refusals and port failures."""

from __future__ import annotations

import pytest
import serial

from chair import protocol as p
from chair.clock import VirtualClock
from chair.errors import LinkError
from chair.link import Link, Refused


class ScriptedPort:
    """A port whose incoming bytes the test writes, and whose outgoing bytes it reads."""

    port = "scripted://"

    def __init__(self) -> None:
        self.incoming = bytearray()
        self.written: list[bytes] = []
        self.broken = False

    @property
    def in_waiting(self) -> int:
        if self.broken:
            raise serial.SerialException("device reports readiness to read but returned no data")
        return len(self.incoming)

    def read(self, size: int) -> bytes:
        data, self.incoming[:] = bytes(self.incoming[:size]), self.incoming[size:]
        return data

    def write(self, data: bytes) -> int:
        if self.broken:
            raise serial.SerialException("write failed: device disconnected")
        self.written.append(data)
        return len(data)

    def reset_input_buffer(self) -> None:
        self.incoming.clear()

    def reply(self, message: p.DeviceMessage) -> None:
        self.incoming += p.encode_device(message)

    def frames(self) -> list[p.Frame]:
        decoder = p.HostDecoder()
        return [e for chunk in self.written for e in decoder.feed(chunk)
                if isinstance(e, p.Frame)]


@pytest.fixture
def rig() -> tuple[Link, ScriptedPort, VirtualClock]:
    clock = VirtualClock()
    port = ScriptedPort()
    return Link(port, clock, window=4, ack_timeout_s=0.3), port, clock


def test_commands_carry_increasing_seq_and_valid_crc(rig) -> None:
    link, port, _ = rig
    for kpa in (1.0, 2.0, 3.0):
        link.send(p.SetAir("lumbar", kpa, 1000))
    frames = port.frames()
    assert [f.seq for f in frames] == [1, 2, 3]
    assert all(f.crc for f in frames)
    assert frames[2].command == p.SetAir("lumbar", 3.0, 1000)


def test_window_limits_unanswered_lines(rig) -> None:
    link, port, _ = rig
    for _ in range(10):
        link.send(p.Renew(1000))
    assert len(port.frames()) == 4
    port.reply(p.Ok(1))
    port.reply(p.Ok(2))
    link.poll()
    assert [f.seq for f in port.frames()] == [1, 2, 3, 4, 5, 6]


def test_gap_error_resends_from_the_expected_seq(rig) -> None:
    link, port, _ = rig
    for _ in range(3):
        link.send(p.Renew(1000))
    port.written.clear()
    port.reply(p.Ok(1))
    port.reply(p.Error(3, p.ErrorCode.SEQ_GAP, "expect=2"))
    link.poll()
    assert [f.seq for f in port.frames()] == [2, 3]
    assert link.resends == 2


def test_missing_reply_is_resent_after_the_timeout(rig) -> None:
    link, port, clock = rig
    link.send(p.Stop())
    port.written.clear()
    clock.advance(0.2)
    link.poll()
    assert port.frames() == []
    clock.advance(0.2)
    link.poll()
    assert [f.seq for f in port.frames()] == [1]
    port.reply(p.Ok(1))
    link.poll()
    assert link.idle


def test_refusal_is_handed_up_and_settles_the_line(rig) -> None:
    link, port, _ = rig
    link.send(p.SetAir("lumbar", 99.0, 1000))
    error = p.Error(1, p.ErrorCode.OUT_OF_RANGE, "AIR kpa 99.0 above cap 35")
    port.reply(error)
    events = link.poll()
    assert events == [Refused(p.SetAir("lumbar", 99.0, 1000), error)]
    assert link.idle


def test_pushed_messages_are_handed_up_and_bad_lines_counted(rig) -> None:
    link, port, clock = rig
    port.reply(p.FaultReport(p.FaultCode.PINCH, "leg rest"))
    port.incoming += b"garbage*0000\n"
    clock.advance(0.5)
    assert link.poll() == [p.FaultReport(p.FaultCode.PINCH, "leg rest")]
    assert link.bad_lines == 1
    assert link.last_rx == 0.5


def test_vanishing_port_is_a_link_error(rig) -> None:
    link, port, _ = rig
    port.broken = True
    with pytest.raises(LinkError, match="vanished"):
        link.poll()
    with pytest.raises(LinkError, match="writing"):
        link.send(p.Stop())


def test_estop_is_one_byte_ahead_of_the_queue(rig) -> None:
    link, port, _ = rig
    for _ in range(8):
        link.send(p.Renew(1000))
    link.estop()  # the banner has not told the version yet: both stops (tests/test_estop.py)
    assert port.written[-1] == bytes([p.ESTOP_BYTE, p.TYPED_ESTOP_BYTE])
    assert len(port.frames()) == 4


def test_connect_refuses_a_corrupt_limits_table(rig) -> None:
    link, port, _ = rig

    def answer(data: bytes) -> int:
        if data.startswith(b"INFO"):
            port.reply(p.Banner(1, "t", ("lumbar",), ("seat",), 1250, 850, 0x1234))
            port.reply(p.Ok(None))
        elif data.startswith(b"LIMITS"):
            port.reply(p.LimitLine("deadman_ms", 500))
            port.reply(p.Ok(None, "crc=0000 n=1"))
        return len(data)

    port.write = answer
    with pytest.raises(LinkError, match="CRC"):
        link.connect(timeout_s=0.5)


def test_connect_times_out_on_a_silent_port(rig) -> None:
    link, _, _ = rig
    with pytest.raises(LinkError, match="no answer to INFO"):
        link.connect(timeout_s=0.2)


def test_crc_stripped_in_transit_is_resent_not_dropped(rig) -> None:
    link, port, _ = rig
    link.send(p.Stop())
    port.written.clear()
    port.reply(p.Error(1, p.ErrorCode.NEED_CRC, "no crc"))
    assert link.poll() == []
    assert [f.seq for f in port.frames()] == [1]
    assert not link.idle


def test_a_gap_error_from_an_earlier_session_does_not_desync_a_new_one() -> None:
    """Found by a flaky `chair reset` then `chair run` through `chair sim --tcp`: an E05 of
    the earlier client's session reached the new one before its SYNC was answered and was
    taken as a desync (exit 4, "link out of step")."""
    from chair.limits import DEVICE_TABLE, DEVICE_TABLE_CRC

    port, clock = ScriptedPort(), VirtualClock()
    link = Link(port, clock)
    banner = p.Banner(p.PROTOCOL_VERSION, "test", ("lumbar",), (), 1250.0, 850.0,
                      DEVICE_TABLE_CRC)
    table = b"".join(p.encode_device(p.LimitLine(lim.name, lim.value)) for lim in DEVICE_TABLE)
    crc = f"crc={DEVICE_TABLE_CRC:04X} n={len(DEVICE_TABLE)}"
    script = iter([
        p.encode_device(p.Error(3, p.ErrorCode.SEQ_GAP, "expect=4"))  # the stale tail
        + p.encode_device(banner) + p.encode_device(p.Ok(None)),
        table + p.encode_device(p.Ok(None, crc)),
        p.encode_device(p.Ok(1)), p.encode_device(p.Ok(2))])
    written = port.write

    def answer(data: bytes) -> int:
        port.incoming += next(script, b"")
        return written(data)

    port.write = answer
    info = link.connect()
    assert info.banner.firmware == "test" and link.idle
