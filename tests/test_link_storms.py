"""Issue 9 item 5: resend storms, desyncs and a fast-forward loop that makes no progress.

An `E05 expect=N` the host cannot serve (a foreign `SYNC` written to the port mid-run, or a
line the link gave up on) once made the link resend its window on every `E05` for ever: at
line rate in real time, and at 100 % CPU with the virtual clock frozen under `--fast`. Each
test here that drives a run bounds it from the outside (a write or call budget that raises)
so that a regression fails instead of hanging.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import serial
from test_link import ScriptedPort

from chair import protocol as p
from chair import runner
from chair.cli import main
from chair.clock import STALL_TURNS, ProgressGuard, VirtualClock
from chair.errors import LinkError, Stalled
from chair.link import MAX_TRIES, RESEND_SHARE, Link
from chair.trace import read_trace

FOREIGN_SYNC = p.encode_command(p.Sync(), 5)  # `5 SYNC*CRC\n`, as another program sends it


class Foreign:
    """A port that writes a foreign `5 SYNC` into the device once its clock reaches `at`,
    and fails (rather than hangs) once the host has written `budget` times."""

    def __init__(self, inner, at: float, budget: int = 20_000,
                 line: bytes = FOREIGN_SYNC) -> None:
        self.inner, self.at, self.budget, self.line = inner, at, budget, line
        self.writes = self.bytes_after = 0
        self.done_at: float | None = None

    def write(self, data: bytes) -> int:
        self.writes += 1
        if self.writes > self.budget:
            raise serial.SerialException(f"resend storm: over {self.budget} writes")
        if self.done_at is None and self.inner.clock.now() >= self.at:
            self.done_at = self.inner.clock.now()
            self.inner.write(self.line)
        if self.done_at is not None:
            self.bytes_after += len(data)
        return self.inner.write(data)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def run(tmp_path: Path, monkeypatch, wrap, *args: str) -> tuple[int, list[dict], list]:
    real, ports = runner.open_port, []

    def opened(url: str, **kwargs):
        ports.append(wrap(real(url, **kwargs)))
        return ports[-1]

    monkeypatch.setattr(runner, "open_port", opened)
    trace = tmp_path / "t.jsonl"
    code = main(["run", "lumbar", "--yes", "--trace", str(trace), *args])
    return code, read_trace(str(trace)), ports


# --------------------------------------------------------------------------- whole runs


@pytest.mark.parametrize("at", [2.0, 30.0, 200.0, 231.0])  # scanning, running, parking
def test_a_foreign_sync_mid_run_is_a_link_fault_not_a_storm(tmp_path: Path, monkeypatch,
                                                            capsys, at: float) -> None:
    code, records, ports = run(tmp_path, monkeypatch, lambda port: Foreign(port, at),
                               "--fast")
    assert code == 4, records[-1]
    end = records[-1]
    assert end["state"] == "disconnected" and "out of step" in end["reason"]
    assert at <= end["t"] <= at + 0.5  # at the first reply after it, not a link timeout
    assert "out of step" in capsys.readouterr().err
    assert ports[-1].bytes_after < 1_000  # the lines in flight, and no resends
    # the foreign SYNC stopped the chair; left alone, nothing runs
    device = ports[-1].device
    device.advance_to(device.clock.now() + 2.5)
    assert not device.setpoints() and device.plant.bag_kpa.max() < 1.0


def test_a_foreign_sync_in_real_time_stops_within_a_second_at_no_line_rate(
        tmp_path: Path, monkeypatch) -> None:
    """In real time the storm was 300-380 KB/s; now the run ends at the first E05."""
    started = time.monotonic()
    # numbered far from the host's own: in real time the host's next number at 0.6 s varies,
    # and a SYNC numbered just before it repeats the line the device last executed, which
    # the device answers from memory as a duplicate and ignores (no gap, nothing to catch)
    far = p.encode_command(p.Sync(), 40_000)
    code, records, ports = run(tmp_path, monkeypatch, lambda port: Foreign(port, 0.6, line=far),
                               "--minutes", "1")
    assert code == 4 and "out of step" in records[-1]["reason"]
    assert time.monotonic() - started < 5.0
    port = ports[-1]
    assert port.done_at is not None and port.bytes_after < 1_000


def test_a_device_restart_mid_run_is_still_a_fault(tmp_path: Path, monkeypatch) -> None:
    """The banner of a restarted device (it answers E10 not-synced, not E05): exit 3."""
    code, records, _ = run(tmp_path, monkeypatch, lambda port: Foreign(port, 1e9),
                           "--fast", "--fault", "power-cycle@30")
    assert code == 3, records[-1]
    assert any(r.get("event") == "device-restart" for r in records)
    assert "restarted" in records[-1]["reason"]


class Frozen:
    """A port whose `wait_for_input` stops moving the virtual clock from `at` on: it
    returns at once with nothing to read (a broken port, or a bug in the simulator).
    Fails after `budget` calls, so that a missing guard fails instead of hanging."""

    def __init__(self, inner, at: float, budget: int = 10 * STALL_TURNS) -> None:
        self.inner, self.at, self.budget, self.calls = inner, at, budget, 0

    def wait_for_input(self, deadline: float) -> None:
        if self.inner.clock.now() < self.at:
            return self.inner.wait_for_input(deadline)
        self.calls += 1
        if self.calls > self.budget:
            raise serial.SerialException(f"spinning: over {self.budget} calls")
        return None

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_a_fast_forward_loop_without_progress_stops_with_a_clear_error(
        tmp_path: Path, monkeypatch, capsys) -> None:
    code, records, ports = run(tmp_path, monkeypatch, lambda port: Frozen(port, 40.0),
                               "--fast")
    assert code == Stalled.exit_code == 1
    err = capsys.readouterr().err
    assert "no progress in simulated time" in err
    assert "controller was running" in err and "next due at t=" in err
    assert "waiting for the device until t=" in err
    end = records[-1]
    assert end["type"] == "end" and "no progress" in end["reason"]
    assert 40.0 <= end["t"] <= 41.5  # it stopped the chair (a STOP, 1 s at most) and ended
    assert ports[-1].calls <= STALL_TURNS + 2
    device = ports[-1].device
    device.advance_to(device.clock.now() + 2.5)
    assert not device.setpoints() and device.plant.bag_kpa.max() < 1.0


@pytest.mark.parametrize("program", ["lumbar", "gluteal", "piriformis", "legs", "feet",
                                     "sciatica"])
def test_healthy_runs_stay_far_from_the_no_progress_bound(tmp_path: Path, monkeypatch,
                                                         program: str) -> None:
    guards: list[ProgressGuard] = []
    real_init = Link.__init__

    def init(self, *args, **kwargs) -> None:
        real_init(self, *args, **kwargs)
        guards.append(self.progress)

    monkeypatch.setattr(Link, "__init__", init)
    code = main(["run", program, "--fast", "--trace", str(tmp_path / "t.jsonl")])
    assert code == 0
    assert guards[-1].active and 0 < guards[-1].most <= STALL_TURNS // 100


def test_the_guard_trips_only_without_progress_and_never_on_a_real_clock() -> None:
    clock = VirtualClock()
    guard = ProgressGuard(clock, limit=5)
    for _ in range(100):
        guard.turn(str)
        guard.turn(str)
        clock.advance(0.001)
    with pytest.raises(Stalled, match=r"5 turns at t=0\.100 s: stuck here"):
        for _ in range(6):
            guard.turn(lambda: "stuck here")
    from chair.clock import MonotonicClock
    real = ProgressGuard(MonotonicClock(), limit=1)
    for _ in range(10):
        real.turn(str)


# --------------------------------------------------------------------------- the link


@pytest.fixture
def rig() -> tuple[Link, ScriptedPort, VirtualClock]:
    clock = VirtualClock()
    port = ScriptedPort()
    return Link(port, clock, window=4, ack_timeout_s=0.3), port, clock


def renews(link: Link, port: ScriptedPort, n: int) -> None:
    for _ in range(n):
        link.send(p.Renew(1000))
    port.written.clear()


def test_a_gap_for_a_number_never_sent_is_a_desync(rig) -> None:
    link, port, _ = rig
    renews(link, port, 3)
    port.reply(p.Error(2, p.ErrorCode.SEQ_GAP, "expect=40"))
    with pytest.raises(LinkError, match=r"out of step.*line 40, which this host never sent"):
        link.poll()
    assert port.written == []  # nothing resent


def test_a_gap_for_a_number_already_answered_is_a_desync(rig) -> None:
    link, port, _ = rig
    renews(link, port, 3)
    port.reply(p.Ok(1))
    port.reply(p.Ok(2))
    port.reply(p.Error(3, p.ErrorCode.SEQ_GAP, "expect=1"))
    with pytest.raises(LinkError, match="line 1, which it has answered already"):
        link.poll()
    assert port.written == []


def test_later_gaps_naming_a_resent_number_do_not_resend_again(rig) -> None:
    """Line 1 lost: lines 2-4 ran ahead and each earns an E05 expect=1. One go-back."""
    link, port, _ = rig
    renews(link, port, 4)
    for seq in (2, 3, 4):
        port.reply(p.Error(seq, p.ErrorCode.SEQ_GAP, "expect=1"))
    link.poll()
    assert [f.seq for f in port.frames()] == [1, 2, 3, 4]
    for seq in (1, 2, 3, 4):
        port.reply(p.Ok(seq))
    link.poll()
    assert link.idle and link.resends == 4


def test_a_line_given_up_and_still_expected_is_a_desync(rig) -> None:
    """A line refused as damaged MAX_TRIES + 1 times is handed up as refused; the device,
    which never took its number, then asks for it: a desync, not a resend for ever."""
    link, port, _ = rig
    renews(link, port, 2)
    for _ in range(MAX_TRIES):
        port.reply(p.Error(1, p.ErrorCode.NEED_CRC, "RENEW needs *CRC"))
        assert link.poll() == []
    port.reply(p.Error(1, p.ErrorCode.NEED_CRC, "RENEW needs *CRC"))
    refused = link.poll()
    assert len(refused) == 1 and refused[0].command == p.Renew(1000)
    port.reply(p.Error(2, p.ErrorCode.SEQ_GAP, "expect=1"))
    with pytest.raises(LinkError, match="line 1, which this host gave up"):
        link.poll()


def test_a_line_never_answered_fails_the_link_after_max_tries(rig) -> None:
    link, port, clock = rig
    renews(link, port, 1)
    waits = []
    with pytest.raises(LinkError, match=f"unanswered after {MAX_TRIES} resends"):
        for _ in range(100):
            before = clock.now()
            clock.sleep_until(link.next_due() + 1e-6)
            waits.append(round(clock.now() - before, 3))
            link.poll()
    assert len(port.frames()) == MAX_TRIES
    assert waits == [0.3, 0.6, 1.2, 1.2, 1.2, 1.2]  # backing off, then given up


def test_resends_stay_within_their_share_of_the_line(rig) -> None:
    """Whatever the device answers, resent bytes over T seconds stay within one window of
    longest lines plus RESEND_SHARE of the line's bytes per second (115,200 baud)."""
    link, port, clock = rig
    rate = RESEND_SHARE * 115_200 / 10
    burst = link.window * (p.MAX_HOST_LINE + 1)
    sent, resent = 0, 0
    for step in range(2000):  # 20 s: every 10 ms an ok for the oldest line, then an E01
        while len(link._pending) < link.window:
            link.send(p.SetAir("lumbar", 10.0 + step % 7, 2000))
        written = sum(map(len, port.written))
        port.reply(p.Ok(link._pending[0].seq))
        port.reply(p.Error(None, p.ErrorCode.BAD_CRC, "crc"))
        before = link.resends
        link.poll()
        if link.resends > before:
            resent += sum(map(len, port.written)) - written
        sent = sum(map(len, port.written))
        assert resent <= burst + rate * clock.now() + 1e-9
        clock.advance(0.01)
    assert resent > 0.9 * rate * clock.now() and sent > resent


class Strip:
    """A port that takes the CRC off the first RENEW written from `at` on, and off every
    resend of it (one bit, `*` to `:`, each time): the device refuses it (E03, the CRC is
    read as an argument) and, the line carrying no trustworthy number, keeps expecting it.
    Fails after `budget` writes."""

    def __init__(self, inner, at: float, budget: int = 20_000,
                 line: bytes = FOREIGN_SYNC) -> None:
        self.inner, self.at, self.budget, self.line = inner, at, budget, line
        self.frame: bytes | None = None
        self.writes = 0

    def write(self, data: bytes) -> int:
        self.writes += 1
        if self.writes > self.budget:
            raise serial.SerialException(f"resend storm: over {self.budget} writes")
        if self.frame is None and b"RENEW" in data and self.inner.clock.now() >= self.at:
            self.frame = data
        if data == self.frame:
            data = data.replace(b"*", b":")
        return self.inner.write(data)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_a_line_given_up_in_a_run_ends_it_as_a_link_fault(tmp_path: Path,
                                                          monkeypatch) -> None:
    code, records, ports = run(tmp_path, monkeypatch, lambda port: Strip(port, 30.0), "--fast")
    assert code == 4, records[-1]
    assert "gave up after 5 resends" in records[-1]["reason"]
    assert ports[-1].writes < 1_000
    refused = [r for r in records if r.get("event") == "device-refused"]
    assert refused and refused[0]["code"] == "E03 bad-args"  # `RENEW 1500:CRC`: no CRC
